//! `gantry monitor drift ROUTE`: how far a route's recent calls drifted from a baseline (an
//! earlier window, a release's first day or a dataset), component by component; from the local
//! store (inputs embedded with the local MiniLM when it is on disk) or a server (`--url`).

use super::Context;
use crate::table;
use clap::{Args, Subcommand};
use gantry_core::monitor::{self, DriftComponent, DriftParams, DriftReport, LocalEmbedder, TextEmbedder};
use gantry_local::{LocalEmbeddingProvider, EMBEDDING_MODEL_FILES};

/// Monitoring commands.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Drift of ROUTE's recent calls from a baseline: input topics (MiniLM), lengths, refusals,
    /// JSON validity, guardrail hits, errors and scores, with what moved most.
    Drift(DriftArgs),
}

/// `gantry monitor drift` options.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// A deployed route, or a model name as clients request it.
    route: String,
    /// Only calls in this environment.
    #[arg(long = "env")]
    environment: Option<String>,
    /// The recent window ending now: 1h, 24h, 7d.
    #[arg(long, default_value = "24h")]
    window: String,
    /// Baseline window start: RFC 3339, or a time ago such as 8d (default: 7 days before the window).
    #[arg(long, conflicts_with_all = ["baseline_release", "baseline_dataset"])]
    baseline_since: Option<String>,
    /// Baseline window end: RFC 3339 or a time ago (default: the start of the recent window).
    #[arg(long, conflicts_with_all = ["baseline_release", "baseline_dataset"])]
    baseline_until: Option<String>,
    /// Compare with this release's first 24 hours of calls.
    #[arg(long, conflicts_with = "baseline_dataset")]
    baseline_release: Option<u32>,
    /// Compare with a dataset version's examples: NAME@VERSION, or NAME for its newest.
    #[arg(long)]
    baseline_dataset: Option<String>,
    /// Leave the input embeddings out (faster; no model needed).
    #[arg(long)]
    no_embeddings: bool,
    /// Ask a running server, e.g. http://127.0.0.1:8080.
    #[arg(long, conflicts_with = "no_embeddings")]
    url: Option<String>,
    /// The report as one JSON object.
    #[arg(long)]
    json: bool,
}

impl DriftArgs {
    fn params(&self) -> DriftParams {
        DriftParams {
            env: self.environment.clone(),
            window: Some(self.window.clone()),
            baseline_since: self.baseline_since.clone(),
            baseline_until: self.baseline_until.clone(),
            baseline_release: self.baseline_release.map(|n| n.to_string()),
            baseline_dataset: self.baseline_dataset.clone(),
        }
    }
}

/// Runs a monitoring command.
pub async fn run(ctx: &Context, command: MonitorCommand) -> anyhow::Result<()> {
    match command {
        MonitorCommand::Drift(args) => drift(ctx, args).await,
    }
}

/// The local MiniLM (the configured one, else the data directory's), when its files are there.
/// Never downloads: a monitoring command should not fetch a model as a side effect.
async fn local_embedder(config: &gantry_core::Config) -> Option<LocalEmbedder> {
    let dir = config
        .local
        .embedding_model
        .clone()
        .unwrap_or_else(|| gantry_local::models::embedding_model_dir(&config.data_dir));
    if !EMBEDDING_MODEL_FILES.iter().all(|f| dir.join(f).is_file()) {
        eprintln!(
            "note: no embedding model at {}: input topics are not compared (run `gantry models pull`)",
            dir.display()
        );
        return None;
    }
    let name = dir.file_name().map_or_else(|| "local".to_string(), |n| n.to_string_lossy().into_owned());
    match tokio::task::spawn_blocking(move || LocalEmbeddingProvider::load(&dir)).await {
        Ok(Ok(provider)) => Some(LocalEmbedder::new(provider, name)),
        Ok(Err(e)) => {
            eprintln!("note: the embedding model could not be loaded ({e}): input topics are not compared");
            None
        }
        Err(e) => {
            eprintln!("note: loading the embedding model failed ({e}): input topics are not compared");
            None
        }
    }
}

async fn drift(ctx: &Context, args: DriftArgs) -> anyhow::Result<()> {
    let report: DriftReport = match &args.url {
        Some(url) => {
            let p = args.params();
            let query: Vec<(&str, String)> = [
                ("env", p.env),
                ("window", p.window),
                ("baseline_since", p.baseline_since),
                ("baseline_until", p.baseline_until),
                ("baseline_release", p.baseline_release),
                ("baseline_dataset", p.baseline_dataset),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            let path = format!("/api/monitor/drift/{}", args.route);
            serde_json::from_value(crate::remote::call(reqwest::Method::GET, url, &path, &query, None).await?)?
        }
        None => {
            let config = ctx.load_config(None)?;
            let query = args.params().into_query(&args.route, chrono::Utc::now())?;
            let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
            let embedder = if args.no_embeddings { None } else { local_embedder(&config).await };
            monitor::drift_report(store.as_ref(), embedder.as_ref().map(|e| e as &dyn TextEmbedder), &query).await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// A component's value in its unit.
fn value(c: &DriftComponent, v: Option<f64>) -> String {
    let Some(v) = v else { return "-".to_string() };
    match c.name.as_str() {
        "input_length" | "output_length" => format!("{v:.0} chars"),
        "input_centroid" => format!("{v:.4}"),
        name if name.ends_with("_rate") || name == "json_validity" || name == "input_topics" => {
            format!("{:.1}%", v * 100.0)
        }
        _ => format!("{v:.3}"),
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The report as text: a headline, the two windows, the components (largest first), and
/// what could not be compared.
pub fn render(r: &DriftReport) -> String {
    let env = r.environment.as_ref().map(|e| format!(" in {e}")).unwrap_or_default();
    let mut out = format!(
        "drift of {} '{}'{env}: score {:.3}, {}\n",
        r.target_kind,
        r.target,
        r.score,
        r.level.as_str().to_uppercase()
    );
    let capped = |c: bool| if c { " (newest, capped)" } else { "" };
    out.push_str(&format!(
        "recent:   {} to {}, {} calls{}\n",
        time(r.recent.since),
        time(r.recent.until),
        r.recent.traces,
        capped(r.recent.capped)
    ));
    out.push_str(&format!(
        "baseline: {}, {} samples{}\n",
        r.baseline.description,
        r.baseline.samples,
        capped(r.baseline.capped)
    ));
    if let Some(top) = r.components.first().filter(|c| c.contribution > 0.0) {
        out.push_str(&format!("moved most: {} ({})\n", top.label, top.detail));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = r
        .components
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                value(c, c.baseline),
                value(c, c.recent),
                format!("{:.3}", c.statistic),
                format!("{:.3}", c.chance),
                format!("{:.3}", c.contribution),
                c.level.as_str().to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(&["COMPONENT", "BASELINE", "RECENT", "STATISTIC", "CHANCE", "DRIFT", "LEVEL"], &rows));
    for s in &r.skipped {
        out.push_str(&format!("not compared: {}: {}\n", s.label, s.reason));
    }
    out
}
