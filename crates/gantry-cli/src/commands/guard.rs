//! `gantry guard scan|eval|examples`: the guardrail scanners on files, the prompt-injection
//! detector measured on a labelled set, and the known attacks its similarity check uses.

use super::Context;
use crate::progress::bar;
use crate::table;
use anyhow::{bail, Context as _};
use clap::Subcommand;
use gantry_core::guardrails::report::{evaluate, InjectionReport, LabelledPrompt};
use gantry_core::guardrails::{GuardSettings, Guardrails};
use gantry_core::{Progress, Service};
use gantry_types::{GuardScanRequest, GuardScanResponse};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Guardrail commands.
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Scan a text file (or `-` for stdin) for PII, secrets and prompt injection.
    Scan {
        file: PathBuf,
        /// Scanners to run: pii, secrets, injection (repeatable; all by default).
        #[arg(long = "scanner")]
        scanners: Vec<String>,
        /// Also print the text with every PII value and secret replaced by a placeholder.
        #[arg(long)]
        redact: bool,
        /// Prompt injection by the rules only: no embedding model is loaded.
        #[arg(long)]
        rules_only: bool,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure prompt-injection detection on a labelled JSONL file
    /// (`{"text": ..., "attack": true|false, "category": ...}` per line): recall per attack
    /// family and the false-positive rate on benign prompts.
    Eval {
        file: PathBuf,
        /// The score from which a prompt counts as an attack.
        #[arg(long, default_value_t = gantry_core::guardrails::config::DEFAULT_INJECTION_THRESHOLD)]
        threshold: f64,
        /// The rules only: no embedding model is loaded.
        #[arg(long)]
        rules_only: bool,
        /// Known attacks (the same JSONL; lines with `"attack": true`) added to the similarity
        /// corpus for this run only, as a team adds the attacks it has seen through the API.
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The known attacks the similarity check compares with (besides the built-in seed).
    Examples {
        #[command(subcommand)]
        command: ExamplesCommand,
    },
}

/// `gantry guard examples`.
#[derive(Debug, Subcommand)]
pub enum ExamplesCommand {
    /// List the added examples.
    List,
    /// Add a known attack.
    Add {
        text: String,
        /// instruction_override (default), jailbreak, prompt_extraction, indirect_injection, encoded.
        #[arg(long)]
        category: Option<String>,
    },
    /// Remove an added example.
    Delete { id: i64 },
}

/// Runs a guard subcommand.
pub async fn run(ctx: &Context, command: GuardCommand) -> anyhow::Result<()> {
    match command {
        GuardCommand::Scan { file, scanners, redact, rules_only, json } => {
            let text = read_text(&file)?;
            let wants_model = !rules_only && (scanners.is_empty() || scanners.iter().any(|s| s == "injection"));
            let request = GuardScanRequest { text, scanners, redact };
            let response = with_guardrails(ctx, wants_model, |guard, gateway| async move {
                Ok(guard.scan_on_demand(gateway.as_deref(), &request).await?)
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&response)?);
            } else {
                print!("{}", describe_scan(&response));
            }
            Ok(())
        }
        GuardCommand::Eval { file, threshold, rules_only, corpus, json } => {
            if !(0.0..=1.0).contains(&threshold) {
                bail!("--threshold {threshold} is not between 0 and 1");
            }
            let prompts = read_labelled(&file)?;
            let known: Vec<(String, String)> = match &corpus {
                Some(path) => read_labelled(path)?
                    .into_iter()
                    .filter(|p| p.attack)
                    .map(|p| (p.category.unwrap_or_else(|| "jailbreak".to_string()), p.text))
                    .collect(),
                None => Vec::new(),
            };
            if corpus.is_some() && rules_only {
                bail!("--corpus needs the similarity check; leave out --rules-only");
            }
            let report = with_guardrails(ctx, !rules_only, |guard, gateway| async move {
                if !known.is_empty() {
                    eprintln!("adding {} known attacks to the similarity corpus for this run", known.len());
                    guard.add_session_examples(known).await;
                }
                let progress = bar(prompts.len() as u64, "prompts");
                let report =
                    evaluate(&guard, gateway.as_deref(), &prompts, threshold, |n| progress.set_position(n as u64))
                        .await;
                progress.finish_and_clear();
                Ok(report)
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", describe_report(&report));
            }
            Ok(())
        }
        GuardCommand::Examples { command } => {
            let config = ctx.load_config(None)?;
            let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
            let guard = Guardrails::new(GuardSettings::default(), None, store);
            match command {
                ExamplesCommand::List => {
                    let rows: Vec<Vec<String>> = guard
                        .examples()
                        .await?
                        .into_iter()
                        .map(|e| {
                            vec![
                                e.id.to_string(),
                                e.category,
                                e.created_at.format("%Y-%m-%d %H:%M").to_string(),
                                e.text.chars().take(70).collect(),
                            ]
                        })
                        .collect();
                    print!("{}", table::render(&["ID", "CATEGORY", "ADDED", "TEXT"], &rows));
                    println!("(and {} built-in examples)", guard.seed_size());
                }
                ExamplesCommand::Add { text, category } => {
                    let added = guard.add_example(&text, category.as_deref()).await?;
                    println!("added example {} ({})", added.id, added.category);
                }
                ExamplesCommand::Delete { id } => {
                    if !guard.delete_example(id).await? {
                        bail!("no injection example with id {id}");
                    }
                    println!("deleted example {id}");
                }
            }
            Ok(())
        }
    }
}

/// Runs `work` with guardrails over the configured store; with `model`, inside a started
/// service so the similarity check can embed with the embedded MiniLM.
async fn with_guardrails<T, F, Fut>(ctx: &Context, model: bool, work: F) -> anyhow::Result<T>
where
    F: FnOnce(Arc<Guardrails>, Option<Arc<gantry_core::Gateway>>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let config = ctx.load_config(None)?;
    if model {
        let service = Service::start(&config, Progress::Bar).await?;
        let gateway = service.gateway.clone();
        let result = work(gateway.guardrails().clone(), Some(gateway)).await;
        service.shutdown().await;
        result
    } else {
        let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
        work(Arc::new(Guardrails::new(config.guardrails.clone(), None, store)), None).await
    }
}

fn read_text(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
        return Ok(text);
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{} is not UTF-8 text: {e}", file.display()))
}

fn read_labelled(file: &Path) -> anyhow::Result<Vec<LabelledPrompt>> {
    let text = read_text(file)?;
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let prompt: LabelledPrompt =
            serde_json::from_str(line).with_context(|| format!("{} line {}", file.display(), i + 1))?;
        prompts.push(prompt);
    }
    if prompts.is_empty() {
        bail!("{} holds no labelled prompts", file.display());
    }
    Ok(prompts)
}

fn describe_scan(response: &GuardScanResponse) -> String {
    let rows: Vec<Vec<String>> = response
        .findings
        .iter()
        .map(|f| {
            vec![
                f.scanner.clone(),
                f.entity.clone(),
                format!("{}..{}", f.start, f.end),
                format!("{:.2}", f.score),
                f.text.chars().take(40).collect::<String>().replace('\n', " "),
                f.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = if rows.is_empty() {
        "no findings\n".to_string()
    } else {
        table::render(&["SCANNER", "ENTITY", "SPAN", "SCORE", "TEXT", "REASON"], &rows)
    };
    out.push_str(&format!("prompt-injection score: {:.2}\n", response.injection_score));
    if let Some(redacted) = &response.redacted {
        out.push_str("\nredacted:\n");
        out.push_str(redacted);
        if !redacted.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn describe_report(report: &InjectionReport) -> String {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let mut rows: Vec<Vec<String>> = report
        .attack_categories
        .iter()
        .map(|(c, g)| vec!["attack".into(), c.clone(), g.total.to_string(), g.flagged.to_string(), pct(g.rate)])
        .collect();
    rows.extend(
        report
            .benign_categories
            .iter()
            .map(|(c, g)| vec!["benign".into(), c.clone(), g.total.to_string(), g.flagged.to_string(), pct(g.rate)]),
    );
    let mut out = table::render(&["LABEL", "CATEGORY", "PROMPTS", "FLAGGED", "RATE"], &rows);
    out.push_str(&format!(
        "\nthreshold {:.2}, similarity check {}\nrecall {} ({} of {} attacks; {} by the rules, {} only by similarity)\n\
         false-positive rate {} ({} of {} benign prompts)\n",
        report.threshold,
        if report.similarity { "on" } else { "off" },
        pct(report.recall),
        report.attacks.flagged,
        report.attacks.total,
        report.caught_by_rules,
        report.caught_by_similarity,
        pct(report.false_positive_rate),
        report.benign.flagged,
        report.benign.total,
    ));
    out.push_str("\nthreshold  recall  false positives\n");
    for point in &report.sweep {
        out.push_str(&format!(
            "{:>9.2}  {:>6}  {:>15}\n",
            point.threshold,
            pct(point.recall),
            pct(point.false_positive_rate)
        ));
    }
    for (title, list) in [("false positives", &report.false_positives), ("missed attacks", &report.missed)] {
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title} (first {}):\n", list.len()));
        for p in list {
            let text: String = p.text.chars().take(100).collect::<String>().replace('\n', " ");
            out.push_str(&format!("  {:.2} [{}] {text}\n", p.score, p.category.as_deref().unwrap_or("-")));
        }
    }
    out
}
