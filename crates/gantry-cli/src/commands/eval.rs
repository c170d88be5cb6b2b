//! `gantry eval run|list|show|compare`: eval runs. `run` starts the gateway in-process (the
//! embedded models, or the config's providers) and exits 2 when the gate fails, so a CI/CD
//! pipeline can stop on it; the others read the local store or a running server (`--url`).

use super::Context;
use crate::progress::bar;
use crate::remote::call;
use crate::table;
use anyhow::Context as _;
use clap::Subcommand;
use gantry_core::{Progress, Service};
use gantry_evals::runs::{
    self, Baseline, Comparison, Evaluation, MetricDelta, RunDetails, RunProgress, RunReport, Suite,
};
use gantry_types::{EvalRun, GateReport};
use indicatif::ProgressBar;
use reqwest::Method;
use std::path::PathBuf;

/// The gate failed: the report is printed, the process exits 2.
#[derive(Debug, thiserror::Error)]
#[error("the eval gate failed")]
pub struct GateFailed;

/// Eval commands.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run a suite file (TOML/YAML) over its dataset and check its thresholds. Exits 2 when
    /// the gate fails.
    Run {
        suite: PathBuf,
        /// Compare with this run instead of the suite's last completed run.
        #[arg(long, conflicts_with = "no_baseline")]
        baseline: Option<String>,
        /// Compare with no earlier run.
        #[arg(long)]
        no_baseline: bool,
        /// Continue a run that stopped: keeps its finished items, retries its failed ones.
        #[arg(long)]
        resume: Option<String>,
        /// Also write the gate as a JUnit XML report.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Print the finished run as JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Runs, newest first.
    List {
        #[arg(long)]
        suite: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        url: Option<String>,
    },
    /// One run: its aggregates, gate and (with --items) every item.
    Show {
        run_id: String,
        #[arg(long)]
        items: bool,
        #[arg(long)]
        url: Option<String>,
    },
    /// Run B next to run A: metric deltas and the items whose scores changed.
    Compare {
        a: String,
        b: String,
        #[arg(long)]
        url: Option<String>,
    },
}

/// Feeds a run's progress to a terminal bar.
struct BarProgress(ProgressBar);

impl RunProgress for BarProgress {
    fn started(&self, total: u64, done: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
    fn item_finished(&self, _failed: bool) {
        self.0.inc(1);
    }
}

/// Runs an eval subcommand.
pub async fn run(ctx: &Context, command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Run { suite, baseline, no_baseline, resume, junit, json } => {
            let suite = Suite::read(&suite)?;
            let baseline = match (baseline, no_baseline) {
                (Some(id), _) => Baseline::Run(id),
                (None, true) => Baseline::None,
                (None, false) => Baseline::Previous,
            };
            let report = run_local(ctx, &suite, baseline, resume.as_deref()).await?;
            if let Some(path) = junit {
                std::fs::write(&path, runs::junit_report(&report.run))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", describe_report(&report));
            }
            match &report.run.gate {
                Some(gate) if !gate.passed => Err(GateFailed.into()),
                _ => Ok(()),
            }
        }
        EvalCommand::List { suite, limit, url } => {
            let list: Vec<EvalRun> = match url {
                Some(url) => {
                    let mut query = vec![("limit", limit.to_string())];
                    if let Some(suite) = suite {
                        query.push(("suite", suite));
                    }
                    let mut body = call(Method::GET, &url, "/api/evals/runs", &query, None).await?;
                    serde_json::from_value(body["data"].take())?
                }
                None => {
                    let store = local_store(ctx).await?;
                    runs::list_runs(store.as_ref(), suite.as_deref(), limit).await?
                }
            };
            print!("{}", run_table(&list));
            Ok(())
        }
        EvalCommand::Show { run_id, items, url } => {
            let details: RunDetails = match url {
                Some(url) => serde_json::from_value(
                    call(Method::GET, &url, &format!("/api/evals/runs/{run_id}"), &[], None).await?,
                )?,
                None => runs::run_details(local_store(ctx).await?.as_ref(), &run_id).await?,
            };
            let deltas = runs::deltas(&details.run.summaries, None);
            print!("{}", describe_run(&details.run, &deltas));
            if items {
                print!("{}", item_table(&details));
            }
            Ok(())
        }
        EvalCommand::Compare { a, b, url } => {
            let comparison: Comparison = match url {
                Some(url) => {
                    let query = [("a", a), ("b", b)];
                    serde_json::from_value(call(Method::GET, &url, "/api/evals/compare", &query, None).await?)?
                }
                None => runs::compare(local_store(ctx).await?.as_ref(), &a, &b).await?,
            };
            print!("{}", describe_comparison(&comparison));
            Ok(())
        }
    }
}

async fn local_store(ctx: &Context) -> anyhow::Result<std::sync::Arc<dyn gantry_store::Store>> {
    let config = ctx.load_config(None)?;
    Ok(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?)
}

async fn run_local(
    ctx: &Context,
    suite: &Suite,
    baseline: Baseline,
    resume: Option<&str>,
) -> anyhow::Result<RunReport> {
    let config = ctx.load_config(None)?;
    let service = Service::start(&config, Progress::Bar).await?;
    let evaluation = Evaluation::new(service.gateway.clone(), service.chains.clone());
    let progress = BarProgress(bar(0, "items"));
    progress.0.set_message(suite.name.clone());
    let result = evaluation.run(suite, baseline, resume, &progress).await;
    progress.0.finish_and_clear();
    // Every item's trace is committed before the command returns.
    service.shutdown().await;
    Ok(result?)
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "-".to_string()
    } else {
        format!("{value:.4}")
    }
}

fn run_table(list: &[EvalRun]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let gate = match &r.gate {
                Some(g) if g.passed => "passed",
                Some(_) => "FAILED",
                None => "-",
            };
            let main = r
                .summaries
                .iter()
                .filter_map(|s| s.metrics.get(&s.main).map(|v| format!("{}={}", s.evaluator, format_value(*v))))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                r.id.clone(),
                r.suite.clone(),
                r.created_at.format("%Y-%m-%d %H:%M").to_string(),
                format!("{}@{}", r.dataset, r.dataset_version),
                r.target.clone(),
                format!("{}/{}", r.items_done, r.items_total),
                r.items_failed.to_string(),
                r.status.as_str().to_string(),
                gate.to_string(),
                main,
            ]
        })
        .collect();
    table::render(
        &["ID", "SUITE", "CREATED", "DATASET", "TARGET", "ITEMS", "FAILED", "STATUS", "GATE", "SCORES"],
        &rows,
    )
}

/// The run's header, its aggregates with their baseline deltas, and the gate.
fn describe_run(run: &EvalRun, deltas: &[MetricDelta]) -> String {
    let mut out = format!(
        "eval run {} of suite '{}': {} on {}@{} ({} items, {} failed)\n",
        run.id, run.suite, run.target, run.dataset, run.dataset_version, run.items_done, run.items_failed
    );
    if let Some(finished) = run.finished_at {
        let seconds = (finished - run.created_at).num_milliseconds() as f64 / 1000.0;
        let rate = if seconds > 0.0 { f64::from(run.items_done) / seconds } else { 0.0 };
        out.push_str(&format!("took {seconds:.1} s ({rate:.2} items/s)\n"));
    }
    if let Some(baseline) = &run.baseline_run_id {
        out.push_str(&format!("baseline: run {baseline}\n"));
    }
    let thresholds = |evaluator: &str, metric: &str| {
        run.gate
            .as_ref()
            .and_then(|g| g.checks.iter().find(|c| c.evaluator == evaluator && c.metric == metric))
            .and_then(|c| c.threshold)
    };
    let rows: Vec<Vec<String>> = deltas
        .iter()
        .map(|d| {
            let scored = run.summaries.iter().find(|s| s.evaluator == d.evaluator);
            vec![
                d.evaluator.clone(),
                d.metric.clone(),
                format_value(d.value),
                d.baseline.map(format_value).unwrap_or_else(|| "-".into()),
                d.delta.map(|x| format!("{x:+.4}")).unwrap_or_else(|| "-".into()),
                thresholds(&d.evaluator, &d.metric).map(|t| format!(">= {t}")).unwrap_or_else(|| "-".into()),
                scored.map(|s| format!("{}/{}", s.scored, s.scored + s.unscored)).unwrap_or_default(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table::render(&["EVALUATOR", "METRIC", "VALUE", "BASELINE", "DELTA", "THRESHOLD", "SCORED"], &rows));
    if let Some(gate) = &run.gate {
        out.push('\n');
        out.push_str(&describe_gate(gate));
    }
    out
}

fn describe_gate(gate: &GateReport) -> String {
    if gate.checks.is_empty() {
        return "gate: no thresholds set\n".to_string();
    }
    let failed: Vec<_> = gate.checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        return format!("gate: passed ({} check(s))\n", gate.checks.len());
    }
    let mut out = format!("gate: FAILED ({} of {} check(s))\n", failed.len(), gate.checks.len());
    for check in failed {
        out.push_str(&format!(
            "  {}.{}: {}\n",
            check.evaluator,
            check.metric,
            check.reason.as_deref().unwrap_or("failed")
        ));
    }
    out
}

fn describe_report(report: &RunReport) -> String {
    describe_run(&report.run, &report.deltas)
}

fn item_table(details: &RunDetails) -> String {
    let names: Vec<String> = details.run.summaries.iter().map(|s| s.evaluator.clone()).collect();
    let mut header = vec!["ITEM", "LATENCY", "OUTPUT"];
    header.extend(names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = details
        .items
        .iter()
        .map(|item| {
            let output = match (&item.output, &item.error) {
                (_, Some(error)) => format!("error: {error}"),
                (Some(text), None) => text.clone(),
                (None, None) => String::new(),
            };
            let mut row = vec![item.index.to_string(), format!("{:.0} ms", item.latency_ms), one_line(&output, 60)];
            for name in &names {
                let cell = match item.scores.get(name) {
                    Some(score) => match (score.value, &score.error) {
                        (Some(v), _) => format_value(v),
                        (None, Some(_)) => "n/a".to_string(),
                        (None, None) => "-".to_string(),
                    },
                    None => "-".to_string(),
                };
                row.push(cell);
            }
            row
        })
        .collect();
    format!("\n{}", table::render(&header, &rows))
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

fn describe_comparison(c: &Comparison) -> String {
    let mut out = format!(
        "A: run {} ({} on {}@{})\nB: run {} ({} on {}@{})\n\n",
        c.a.id, c.a.target, c.a.dataset, c.a.dataset_version, c.b.id, c.b.target, c.b.dataset, c.b.dataset_version
    );
    let rows: Vec<Vec<String>> = c
        .deltas
        .iter()
        .map(|d| {
            let changes = c.changes.get(&d.evaluator);
            vec![
                d.evaluator.clone(),
                d.metric.clone(),
                d.baseline.map(format_value).unwrap_or_else(|| "-".into()),
                format_value(d.value),
                d.delta.map(|x| format!("{x:+.4}")).unwrap_or_else(|| "-".into()),
                changes.map(|ch| format!("+{} -{} ={}", ch.improved, ch.regressed, ch.unchanged)).unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table::render(&["EVALUATOR", "METRIC", "A", "B", "DELTA", "ITEMS (+ - =)"], &rows));
    out
}
