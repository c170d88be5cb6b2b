//! `gantry datasets import|from-traces|list|show|clean|stats|export`: versioned datasets in
//! the local store, or on a running server with `--url`.

use super::prompts::author;
use super::Context;
use crate::table;
use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use gantry_evals::datasets::{
    self, CleanOutcome, CleanRequest, CleanStep, ColumnMapping, DatasetStats, Distribution, Export, ExportFormat,
    FeedbackCondition, FileFormat, FromTracesOutcome, TraceSelection, DEFAULT_NEAR_DUPLICATE_THRESHOLD,
};
use gantry_store::Store;
use gantry_types::{DatasetSummary, DatasetVersionInfo, StoredItem, TraceStatus};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Width of the longest histogram bar, in characters.
const BAR_WIDTH: u64 = 40;

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Import a JSONL or CSV file as a new version (nothing is stored if any line is bad).
    Import {
        name: String,
        /// A .jsonl (lines of {"input", "expected", "metadata"}, or flat objects with the
        /// column flags) or .csv file (with a header row).
        file: PathBuf,
        /// Columns that become the input's variables, e.g. question,context.
        #[arg(long, value_delimiter = ',')]
        input_columns: Vec<String>,
        /// A column holding the conversation (JSON messages, or text as one user message).
        #[arg(long)]
        messages_column: Option<String>,
        /// The column holding the expected output.
        #[arg(long)]
        expected_column: Option<String>,
        /// Columns copied into the metadata, e.g. category,source.
        #[arg(long, value_delimiter = ',')]
        metadata_columns: Vec<String>,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// A new version from recorded chat calls (newest first).
    FromTraces {
        name: String,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        prompt: Option<String>,
        /// ok, error or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// RFC 3339, e.g. 2026-01-31T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Items at most (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Only traces with user feedback of this name (see --feedback-min/-max/-category).
        #[arg(long, value_name = "NAME")]
        feedback: Option<String>,
        /// With --feedback: the mean value (true = 1, false = 0) is at least this.
        #[arg(long, requires = "feedback")]
        feedback_min: Option<f64>,
        /// With --feedback: the mean value is at most this (e.g. 0 for thumbs-down traces).
        #[arg(long, requires = "feedback")]
        feedback_max: Option<f64>,
        /// With --feedback: this category was given at least once.
        #[arg(long, requires = "feedback")]
        feedback_category: Option<String>,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Datasets with their newest version.
    List {
        #[arg(long)]
        url: Option<String>,
    },
    /// A version (NAME is the newest) and the dataset's history; --items N prints items too.
    Show {
        /// NAME or NAME@VERSION.
        reference: String,
        #[arg(long)]
        items: Option<u64>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Clean a version into a new one: empty, length, duplicates, near-duplicates, PII (in that order).
    Clean {
        reference: String,
        /// Drop items with the same input and expected output as an earlier one.
        #[arg(long)]
        dedupe: bool,
        /// Drop near-duplicates (Jaccard similarity of word shingles, default 0.8).
        #[arg(long, value_name = "THRESHOLD", num_args = 0..=1, default_missing_value = "0.8")]
        near_dupes: Option<f64>,
        /// Drop items whose input has no text.
        #[arg(long)]
        drop_empty: bool,
        #[arg(long)]
        min_chars: Option<usize>,
        #[arg(long)]
        max_chars: Option<usize>,
        #[arg(long)]
        min_tokens: Option<usize>,
        #[arg(long)]
        max_tokens: Option<usize>,
        /// Replace e-mails, phone and card numbers with <EMAIL_1>, <PHONE_1>, <CREDIT_CARD_1>.
        #[arg(long)]
        redact_pii: bool,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Statistics with terminal histograms.
    Stats {
        reference: String,
        /// Metadata key whose values are counted as labels.
        #[arg(long)]
        label_key: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Export as JSONL (default) or chat fine-tuning JSONL.
    Export {
        reference: String,
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Prompt that renders variables into messages (chat format).
        #[arg(long)]
        prompt: Option<String>,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long)]
        url: Option<String>,
    },
}

/// Where the datasets are: the local store, or a server.
enum Backend {
    Local(Arc<dyn Store>),
    Remote(String),
}

impl Backend {
    async fn open(ctx: &Context, url: Option<String>) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Backend::Remote(url.trim_end_matches('/').to_string())),
            None => {
                let config = ctx.load_config(None)?;
                Ok(Backend::Local(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?))
            }
        }
    }
}

async fn call(
    method: reqwest::Method,
    base: &str,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    crate::remote::call(method, base, path, query, body).await
}

fn version_query(version: Option<u32>) -> Vec<(&'static str, String)> {
    version.map(|v| vec![("version", v.to_string())]).unwrap_or_default()
}

/// Runs a datasets subcommand.
pub async fn run(ctx: &Context, command: DatasetsCommand) -> anyhow::Result<()> {
    match command {
        DatasetsCommand::Import {
            name,
            file,
            input_columns,
            messages_column,
            expected_column,
            metadata_columns,
            author: who,
            url,
        } => {
            datasets::validate_name(&name)?;
            let format =
                FileFormat::from_path(&file).ok_or_else(|| anyhow!("{}: use a .jsonl or .csv file", file.display()))?;
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mapping = ColumnMapping { input_columns, messages_column, expected_column, metadata_columns };
            let items = datasets::parse_items(&bytes, format, &mapping).with_context(|| file.display().to_string())?;
            let source = format!(
                "import {}",
                file.file_name().map_or_else(|| file.display().to_string(), |f| f.to_string_lossy().into_owned())
            );
            let who = author(who);
            let info: DatasetVersionInfo = match Backend::open(ctx, url).await? {
                Backend::Local(store) => datasets::create_version(store.as_ref(), &name, &items, &source, &who).await?,
                Backend::Remote(base) => {
                    let body = json!({"items": items, "source": source, "author": who});
                    let path = format!("/api/datasets/{name}/versions");
                    serde_json::from_value(call(reqwest::Method::POST, &base, &path, &[], Some(&body)).await?)?
                }
            };
            println!("{}: created version {} ({} items) from {}", info.name, info.version, info.items, file.display());
        }
        DatasetsCommand::FromTraces {
            name,
            model,
            prompt,
            status,
            since,
            until,
            limit,
            feedback,
            feedback_min,
            feedback_max,
            feedback_category,
            author: who,
            url,
        } => {
            let time = |flag: &str, text: Option<String>| {
                text.map(|t| {
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .map_err(|e| anyhow!("--{flag} '{t}' is not an RFC 3339 time: {e}"))
                })
                .transpose()
            };
            let status = status
                .map(|s| {
                    TraceStatus::parse(&s).ok_or_else(|| anyhow!("--status must be ok, error or cancelled, got '{s}'"))
                })
                .transpose()?;
            let selection = TraceSelection {
                model,
                prompt,
                status,
                since: time("since", since)?,
                until: time("until", until)?,
                limit,
                feedback: feedback.map(|name| FeedbackCondition {
                    name,
                    min: feedback_min,
                    max: feedback_max,
                    category: feedback_category,
                }),
            };
            let who = author(who);
            let outcome: FromTracesOutcome = match Backend::open(ctx, url).await? {
                Backend::Local(store) => datasets::from_traces(store.as_ref(), &name, &selection, &who).await?,
                Backend::Remote(base) => {
                    let mut body = serde_json::to_value(&selection)?;
                    body["author"] = json!(who);
                    let path = format!("/api/datasets/{name}/from-traces");
                    serde_json::from_value(call(reqwest::Method::POST, &base, &path, &[], Some(&body)).await?)?
                }
            };
            println!(
                "{}: created version {} ({} items from {} traces; {} skipped)",
                outcome.version.name,
                outcome.version.version,
                outcome.version.items,
                outcome.traces_read,
                outcome.skipped
            );
        }
        DatasetsCommand::List { url } => {
            let list: Vec<DatasetSummary> = match Backend::open(ctx, url).await? {
                Backend::Local(store) => datasets::list(store.as_ref()).await?,
                Backend::Remote(base) => serde_json::from_value(
                    call(reqwest::Method::GET, &base, "/api/datasets", &[], None).await?["data"].take(),
                )?,
            };
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.latest_version.to_string(),
                        d.items.to_string(),
                        d.versions.to_string(),
                        time(&d.updated_at),
                    ]
                })
                .collect();
            print!("{}", table::render(&["NAME", "LATEST", "ITEMS", "VERSIONS", "UPDATED (UTC)"], &rows));
        }
        DatasetsCommand::Show { reference, items, url } => {
            let (name, version) = datasets::parse_reference(&reference)?;
            let (versions, shown) = match Backend::open(ctx, url).await? {
                Backend::Local(store) => {
                    let versions = datasets::versions(store.as_ref(), &name).await?;
                    let info = datasets::get_version(store.as_ref(), &name, version).await?;
                    let shown = match items {
                        Some(n) => {
                            datasets::items_page(store.as_ref(), &name, Some(info.version), 0, Some(n)).await?.items
                        }
                        None => Vec::new(),
                    };
                    (versions, (info, shown))
                }
                Backend::Remote(base) => {
                    let details =
                        call(reqwest::Method::GET, &base, &format!("/api/datasets/{name}"), &[], None).await?;
                    let versions: Vec<DatasetVersionInfo> = serde_json::from_value(details["versions"].clone())?;
                    let info = match version {
                        None => versions.last().cloned(),
                        Some(v) => versions.iter().find(|i| i.version == v).cloned(),
                    }
                    .ok_or_else(|| anyhow!("dataset '{name}' has no version {}", version.unwrap_or(0)))?;
                    let shown: Vec<StoredItem> = match items {
                        Some(n) => {
                            let path = format!("/api/datasets/{name}/versions/{}/items", info.version);
                            let page =
                                call(reqwest::Method::GET, &base, &path, &[("limit", n.to_string())], None).await?;
                            serde_json::from_value(page["data"].clone())?
                        }
                        None => Vec::new(),
                    };
                    (versions, (info, shown))
                }
            };
            print!("{}", describe_version(&versions, &shown.0, &shown.1)?);
        }
        DatasetsCommand::Clean {
            reference,
            dedupe,
            near_dupes,
            drop_empty,
            min_chars,
            max_chars,
            min_tokens,
            max_tokens,
            redact_pii,
            author: who,
            url,
        } => {
            let (name, version) = datasets::parse_reference(&reference)?;
            let mut steps = Vec::new();
            if drop_empty {
                steps.push(CleanStep::Empty);
            }
            if [min_chars, max_chars, min_tokens, max_tokens].iter().any(Option::is_some) {
                steps.push(CleanStep::Length { min_chars, max_chars, min_tokens, max_tokens });
            }
            if dedupe {
                steps.push(CleanStep::ExactDuplicates);
            }
            if let Some(threshold) = near_dupes {
                steps.push(CleanStep::NearDuplicates { threshold });
            }
            if redact_pii {
                steps.push(CleanStep::RedactPii);
            }
            if steps.is_empty() {
                bail!("name a step: --drop-empty, --min-chars/--max-chars/--min-tokens/--max-tokens, --dedupe, --near-dupes [{DEFAULT_NEAR_DUPLICATE_THRESHOLD}], --redact-pii");
            }
            let who = author(who);
            let request = CleanRequest { version, steps, author: Some(who.clone()) };
            let outcome: CleanOutcome = match Backend::open(ctx, url).await? {
                Backend::Local(store) => datasets::clean(store.as_ref(), &name, &request, &who).await?,
                Backend::Remote(base) => {
                    let body = serde_json::to_value(&request)?;
                    let path = format!("/api/datasets/{name}/clean");
                    serde_json::from_value(call(reqwest::Method::POST, &base, &path, &[], Some(&body)).await?)?
                }
            };
            print!("{}", describe_clean(&outcome));
        }
        DatasetsCommand::Stats { reference, label_key, url } => {
            let (name, version) = datasets::parse_reference(&reference)?;
            let stats: DatasetStats = match Backend::open(ctx, url).await? {
                Backend::Local(store) => datasets::stats(store.as_ref(), &name, version, label_key.as_deref()).await?,
                Backend::Remote(base) => {
                    let mut query = version_query(version);
                    if let Some(key) = label_key {
                        query.push(("label_key", key));
                    }
                    let path = format!("/api/datasets/{name}/stats");
                    serde_json::from_value(call(reqwest::Method::GET, &base, &path, &query, None).await?)?
                }
            };
            print!("{}", describe_stats(&stats));
        }
        DatasetsCommand::Export { reference, format, prompt, output, url } => {
            let (name, version) = datasets::parse_reference(&reference)?;
            let format_value = ExportFormat::parse(&format)?;
            let export: Export = match Backend::open(ctx, url).await? {
                Backend::Local(store) => {
                    datasets::export(store.as_ref(), &name, version, format_value, prompt.as_deref()).await?
                }
                Backend::Remote(base) => {
                    let mut query = version_query(version);
                    query.push(("format", format.clone()));
                    if let Some(p) = prompt {
                        query.push(("prompt", p));
                    }
                    export_remote(&base, &name, &query).await?
                }
            };
            match &output {
                Some(path) => {
                    std::fs::write(path, &export.text).with_context(|| format!("cannot write {}", path.display()))?
                }
                None => print!("{}", export.text),
            }
            let skipped = match export.skipped_without_expected {
                0 => String::new(),
                n => format!(" ({n} without an expected output skipped)"),
            };
            let target = output.map_or_else(|| "standard output".to_string(), |p| p.display().to_string());
            eprintln!("exported {} item(s) as {format}{skipped} to {target}", export.exported);
        }
    }
    Ok(())
}

/// `GET .../export`: the body is JSONL, the counts are headers.
async fn export_remote(base: &str, name: &str, query: &[(&str, String)]) -> anyhow::Result<Export> {
    let response = reqwest::Client::new()
        .get(format!("{base}/api/datasets/{name}/export"))
        .query(query)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(0);
    let (exported, skipped) = (header("x-gantry-exported"), header("x-gantry-skipped"));
    let text = response.text().await.context("the server's answer was cut off")?;
    if !status.is_success() {
        let body: Value = serde_json::from_str(&text).unwrap_or_default();
        bail!("{status}: {}", body["error"]["message"].as_str().unwrap_or("unknown error"));
    }
    Ok(Export { text, exported, skipped_without_expected: skipped })
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn describe_version(
    versions: &[DatasetVersionInfo],
    info: &DatasetVersionInfo,
    items: &[StoredItem],
) -> anyhow::Result<String> {
    let mut out = format!("{}@{}  ({} version(s))\n", info.name, info.version, versions.len());
    out.push_str(&format!("items:   {}\nsource:  {}\n", info.items, info.source));
    if let Some(parent) = info.parent_version {
        out.push_str(&format!("parent:  {parent}\n"));
    }
    out.push_str(&format!("author:  {}\ncreated: {} UTC\n\n", info.author, time(&info.created_at)));
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.items.to_string(),
                v.parent_version.map_or_else(|| "-".to_string(), |p| p.to_string()),
                v.author.clone(),
                time(&v.created_at),
                v.source.clone(),
            ]
        })
        .collect();
    out.push_str(&table::render(&["VERSION", "ITEMS", "PARENT", "AUTHOR", "CREATED (UTC)", "SOURCE"], &rows));
    if !items.is_empty() {
        out.push('\n');
        for item in items {
            out.push_str(&format!("#{} {}\n", item.index, serde_json::to_string(&item.item)?));
        }
    }
    Ok(out)
}

fn describe_clean(outcome: &CleanOutcome) -> String {
    let report = &outcome.report;
    let mut out = format!(
        "{}: cleaned version {} into version {} ({} -> {} items)\n",
        report.name, report.from_version, outcome.version.version, report.items_before, report.items_after
    );
    for step in &report.steps {
        let what = if step.changed > 0 || step.step == "redact_pii" {
            format!("changed {}", step.changed)
        } else {
            format!("removed {}", step.removed)
        };
        out.push_str(&format!("  {:<22} {what}\n", step.step));
        for reason in &step.reasons {
            let examples: Vec<String> =
                reason
                    .examples
                    .iter()
                    .map(|e| {
                        if e.detail.is_empty() {
                            format!("#{}", e.index)
                        } else {
                            format!("#{} ({})", e.index, e.detail)
                        }
                    })
                    .collect();
            out.push_str(&format!("    {}: {}  e.g. {}\n", reason.reason, reason.count, examples.join(", ")));
        }
    }
    out
}

/// A bar of `count` against `max`, at most `BAR_WIDTH` wide; any count above 0 shows.
fn bar(count: u64, max: u64) -> String {
    let width = if max == 0 { 0 } else { (count * BAR_WIDTH).div_ceil(max) };
    "█".repeat(width as usize)
}

fn describe_distribution(out: &mut String, title: &str, d: &Distribution) {
    out.push_str(&format!(
        "\n{title}: min {}  mean {:.1}  median {}  p95 {}  max {}\n",
        d.min, d.mean, d.median, d.p95, d.max
    ));
    let max = d.histogram.iter().map(|b| b.count).max().unwrap_or(0);
    let labels: Vec<String> = d
        .histogram
        .iter()
        .map(|b| if b.end - b.start == 1 { b.start.to_string() } else { format!("{}-{}", b.start, b.end - 1) })
        .collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (label, bin) in labels.iter().zip(&d.histogram) {
        let bar = bar(bin.count, max);
        let filled = if bar.is_empty() { bin.count.to_string() } else { format!("{bar} {}", bin.count) };
        out.push_str(&format!("  {label:>width$} | {filled}\n"));
    }
}

fn describe_stats(stats: &DatasetStats) -> String {
    let mut out = format!("{}@{}: {} items\n", stats.name, stats.version, stats.items);
    out.push_str(&format!(
        "missing expected: {}   duplicates: {} ({:.1}%)\n",
        stats.missing_expected,
        stats.duplicates,
        stats.duplicate_rate * 100.0
    ));
    if let Some(d) = &stats.input_chars {
        describe_distribution(&mut out, "input length (characters)", d);
    }
    if let Some(d) = &stats.input_tokens {
        describe_distribution(&mut out, "input length (tokens)", d);
    }
    if let Some(labels) = &stats.labels {
        out.push_str(&format!("\nlabels ({}):\n", labels.key));
        let max = labels.counts.iter().map(|c| c.count).max().unwrap_or(0);
        let width = labels.counts.iter().map(|c| c.label.chars().count()).max().unwrap_or(0);
        for c in &labels.counts {
            out.push_str(&format!("  {:<width$} | {} {}\n", c.label, bar(c.count, max), c.count));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_count() {
        assert_eq!(bar(10, 10).chars().count(), 40);
        assert_eq!(bar(1, 1000).chars().count(), 1, "a small count still shows");
        assert_eq!(bar(0, 10), "");
        let d = Distribution::of(&[1, 1, 2, 30]).unwrap();
        let mut out = String::new();
        describe_distribution(&mut out, "chars", &d);
        assert!(out.contains("chars: min 1  mean 8.5  median 1  p95 30  max 30\n"), "{out}");
        assert!(out.contains("   1-3 | ████████████████████████████████████████ 3\n"), "{out}");
        assert!(out.contains("  28-30 | ██████████████ 1\n"), "{out}");
    }
}
