//! `gantry review ...`: human review queues, in the local store or on a server (`--url`).

use super::Context;
use crate::table;
use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use gantry_evals::review::{self, AddItemsRequest};
use gantry_store::Store;
use gantry_types::{FeedbackValue, ItemInput, NewReview, ReviewItem, ReviewQueueInfo, ReviewedItem, Scale};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Review queue commands.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Create a queue from a rubric file (TOML or YAML: description, instructions, criteria).
    Create {
        name: String,
        #[arg(long)]
        rubric: PathBuf,
        /// A running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// Every queue with its counts.
    List {
        #[arg(long)]
        url: Option<String>,
    },
    /// One queue: rubric, instructions, counts.
    Show {
        name: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Add recorded calls to a queue.
    Add {
        name: String,
        /// A trace id; repeat for more.
        #[arg(long = "trace", value_name = "TRACE_ID", required_unless_present = "eval_run")]
        traces: Vec<String>,
        /// The answered items of an eval run (with their dataset input and expected output).
        #[arg(long, value_name = "RUN_ID")]
        eval_run: Option<String>,
        /// With --eval-run: only items EVALUATOR scored below VALUE (or could not score).
        #[arg(long, value_name = "EVALUATOR=VALUE", requires = "eval_run")]
        below: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Claim the next item (the one you hold, else the oldest free one) for 10 minutes.
    Next {
        name: String,
        #[arg(long)]
        reviewer: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Submit the review of an item: a score for every criterion.
    Submit {
        name: String,
        item_id: String,
        #[arg(long)]
        reviewer: String,
        /// CRITERION=VALUE (true/false, a number, else a category); repeat for each criterion.
        #[arg(long = "score", value_name = "CRITERION=VALUE", required = true)]
        scores: Vec<String>,
        /// The output as it should have been.
        #[arg(long)]
        correction: Option<String>,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Export the reviewed items as dataset JSONL (`gantry datasets import` reads it).
    Export {
        name: String,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        #[arg(long)]
        url: Option<String>,
    },
}

/// The local store, or a server's management API.
enum Queues {
    Local(Arc<dyn Store>),
    Remote(String),
}

impl Queues {
    async fn open(ctx: &Context, url: Option<String>) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Queues::Remote(url)),
            None => {
                let config = ctx.load_config(None)?;
                Ok(Queues::Local(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?))
            }
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let Queues::Remote(url) = self else { bail!("not connected to a server") };
        crate::remote::call(method, url, path, &[], body).await
    }

    async fn queue(&self, name: &str) -> anyhow::Result<ReviewQueueInfo> {
        Ok(match self {
            Queues::Local(store) => review::get_queue(store.as_ref(), name).await?,
            Queues::Remote(_) => serde_json::from_value(
                self.call(reqwest::Method::GET, &format!("/api/review/queues/{name}"), None).await?,
            )?,
        })
    }
}

/// A server's text answer (the JSONL export); a non-2xx answer becomes its error message.
async fn get_text(url: &str, path: &str) -> anyhow::Result<String> {
    let address = format!("{}{path}", url.trim_end_matches('/'));
    let response = reqwest::get(&address).await.with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.context("the server's answer could not be read")?;
    if !status.is_success() {
        let body: Value = serde_json::from_str(&text).unwrap_or_default();
        let message = body["error"]["message"].as_str().unwrap_or("unknown error");
        return Err(anyhow!("{status}: {message}"));
    }
    Ok(text)
}

fn scale_hint(scale: &Scale) -> String {
    match scale {
        Scale::Numeric { min, max, step: None } => format!("{min}..{max}"),
        Scale::Numeric { min, max, step: Some(step) } => format!("{min}..{max} step {step}"),
        Scale::Boolean => "true|false".to_string(),
        Scale::Categories { categories } => categories.join("|"),
    }
}

fn criteria_line(info: &ReviewQueueInfo) -> String {
    let parts: Vec<String> =
        info.queue.rubric.criteria.iter().map(|c| format!("{} ({})", c.name, scale_hint(&c.scale))).collect();
    parts.join(", ")
}

fn show_queue(info: &ReviewQueueInfo) -> String {
    let q = &info.queue;
    let mut out = format!("queue:        {}\n", q.name);
    if let Some(d) = &q.description {
        out.push_str(&format!("description:  {d}\n"));
    }
    out.push_str(&format!("created:      {}\n", q.created_at.format("%Y-%m-%d %H:%M:%S UTC")));
    out.push_str(&format!(
        "items:        {} pending, {} claimed, {} done\n",
        info.counts.pending, info.counts.claimed, info.counts.done
    ));
    out.push_str("criteria:\n");
    for c in &q.rubric.criteria {
        out.push_str(&format!("  {}: {}", c.name, scale_hint(&c.scale)));
        if let Some(d) = &c.description {
            out.push_str(&format!(" - {d}"));
        }
        out.push('\n');
    }
    if let Some(i) = &q.instructions {
        out.push_str("instructions:\n");
        for line in i.trim_end().lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// Appends `text` indented by two spaces; blank lines stay empty.
fn push_indented(out: &mut String, text: &str) {
    for line in text.trim_end().lines() {
        if !line.trim().is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn show_item(item: &ReviewItem) -> String {
    let mut out = format!("item:     {}\n", item.id);
    if let (Some(who), Some(until)) = (&item.claimed_by, item.claim_expires_at) {
        out.push_str(&format!("claimed:  by {who} until {}\n", until.format("%Y-%m-%d %H:%M:%S UTC")));
    }
    if let Some(trace) = item.source.trace_id {
        out.push_str(&format!("trace:    {trace}\n"));
    }
    if let Some(run) = &item.source.eval_run_id {
        out.push_str(&format!(
            "eval run: {run} item {}\n",
            item.source.eval_item_index.map_or("-".into(), |i| i.to_string())
        ));
    }
    out.push_str("input:\n");
    match &item.input {
        ItemInput::Messages(messages) => {
            for m in messages {
                out.push_str(&format!("  {}: {}\n", m.role.as_str(), m.text_content()));
            }
        }
        ItemInput::Variables(vars) => {
            for (k, v) in vars {
                out.push_str(&format!("  {k} = {}\n", gantry_types::value_text(v)));
            }
        }
    }
    out.push_str("output:\n");
    push_indented(&mut out, &item.output);
    if let Some(expected) = &item.expected {
        out.push_str("expected:\n");
        push_indented(&mut out, &gantry_types::value_text(expected));
    }
    out
}

fn parse_scores(pairs: &[String]) -> anyhow::Result<BTreeMap<String, FeedbackValue>> {
    let mut scores = BTreeMap::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| anyhow!("--score '{pair}' is not CRITERION=VALUE"))?;
        if scores.insert(name.trim().to_string(), review::parse_value_text(value.trim())).is_some() {
            bail!("--score gives '{}' twice", name.trim());
        }
    }
    Ok(scores)
}

/// Runs a review subcommand.
pub async fn run(ctx: &Context, command: ReviewCommand) -> anyhow::Result<()> {
    match command {
        ReviewCommand::Create { name, rubric, url } => {
            let queue = review::read_rubric_file(&rubric)?.into_queue(&name);
            let queues = Queues::open(ctx, url).await?;
            let created: ReviewQueueInfo = match &queues {
                Queues::Local(store) => review::create_queue(store.as_ref(), queue).await?,
                Queues::Remote(_) => serde_json::from_value(
                    queues
                        .call(reqwest::Method::POST, "/api/review/queues", Some(&serde_json::to_value(&queue)?))
                        .await?,
                )?,
            };
            println!("review queue '{}' created: {}", created.queue.name, criteria_line(&created));
        }
        ReviewCommand::List { url } => {
            let queues = Queues::open(ctx, url).await?;
            let list: Vec<ReviewQueueInfo> = match &queues {
                Queues::Local(store) => review::list_queues(store.as_ref()).await?,
                Queues::Remote(_) => serde_json::from_value(
                    queues.call(reqwest::Method::GET, "/api/review/queues", None).await?["data"].take(),
                )?,
            };
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|q| {
                    vec![
                        q.queue.name.clone(),
                        q.queue.rubric.criteria.len().to_string(),
                        q.counts.pending.to_string(),
                        q.counts.claimed.to_string(),
                        q.counts.done.to_string(),
                        q.queue.description.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            print!("{}", table::render(&["NAME", "CRITERIA", "PENDING", "CLAIMED", "DONE", "DESCRIPTION"], &rows));
        }
        ReviewCommand::Show { name, url } => {
            print!("{}", show_queue(&Queues::open(ctx, url).await?.queue(&name).await?));
        }
        ReviewCommand::Add { name, traces, eval_run, below, url } => {
            let eval_run = eval_run.map(|run_id| eval_run_items(run_id, below.as_deref())).transpose()?;
            let request = AddItemsRequest { trace_ids: traces, eval_run, items: Vec::new() };
            let queues = Queues::open(ctx, url).await?;
            let added: Vec<ReviewItem> = match &queues {
                Queues::Local(store) => review::add_items(store.as_ref(), &name, request).await?,
                Queues::Remote(_) => {
                    let body = json!({"trace_ids": request.trace_ids, "eval_run": request.eval_run});
                    let path = format!("/api/review/queues/{name}/items");
                    serde_json::from_value(
                        queues.call(reqwest::Method::POST, &path, Some(&body)).await?["data"].take(),
                    )?
                }
            };
            println!("added {} item(s) to '{name}'", added.len());
            for item in &added {
                let from_run = match (&item.source.eval_run_id, item.source.eval_item_index) {
                    (Some(run), Some(index)) => format!("  eval run {run} item {index}"),
                    _ => String::new(),
                };
                let trace = item.source.trace_id.map_or("-".into(), |t| t.to_string());
                println!("  {}  trace {trace}{from_run}", item.id);
            }
        }
        ReviewCommand::Next { name, reviewer, url } => {
            let queues = Queues::open(ctx, url).await?;
            let item: Option<ReviewItem> = match &queues {
                Queues::Local(store) => review::next_item(store.as_ref(), &name, &reviewer).await?,
                Queues::Remote(url) => {
                    let path = format!("/api/review/queues/{name}/next");
                    let query = [("reviewer", reviewer.clone())];
                    let mut body = crate::remote::call(reqwest::Method::GET, url, &path, &query, None).await?;
                    serde_json::from_value(body["item"].take())?
                }
            };
            let Some(item) = item else {
                println!("no item is free in '{name}'");
                return Ok(());
            };
            print!("{}", show_item(&item));
            let info = queues.queue(&name).await?;
            let scores: Vec<String> = info
                .queue
                .rubric
                .criteria
                .iter()
                .map(|c| format!("--score {}=<{}>", c.name, scale_hint(&c.scale)))
                .collect();
            println!("submit:   gantry review submit {name} {} --reviewer {reviewer} {}", item.id, scores.join(" "));
        }
        ReviewCommand::Submit { name, item_id, reviewer, scores, correction, comment, url } => {
            let review = NewReview { reviewer, scores: parse_scores(&scores)?, correction, comment };
            let queues = Queues::open(ctx, url).await?;
            let done: ReviewedItem = match &queues {
                Queues::Local(store) => review::submit_review(store.as_ref(), &name, &item_id, review).await?,
                Queues::Remote(_) => {
                    let path = format!("/api/review/queues/{name}/items/{item_id}/review");
                    serde_json::from_value(
                        queues.call(reqwest::Method::POST, &path, Some(&serde_json::to_value(&review)?)).await?,
                    )?
                }
            };
            let scores: Vec<String> = done.review.scores.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "review of {} stored in '{name}' by {}: {}{}",
                done.item.id,
                done.review.reviewer,
                scores.join(" "),
                if done.review.correction.is_some() { " (with a correction)" } else { "" }
            );
        }
        ReviewCommand::Export { name, output, url } => {
            let text = match Queues::open(ctx, url).await? {
                Queues::Local(store) => review::export_jsonl(store.as_ref(), &name).await?,
                Queues::Remote(url) => get_text(&url, &format!("/api/review/queues/{name}/export")).await?,
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("exported {} reviewed item(s) to {}", text.lines().count(), path.display());
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

/// `--eval-run RUN_ID [--below EVALUATOR=VALUE]` as the request's selection.
fn eval_run_items(run_id: String, below: Option<&str>) -> anyhow::Result<review::EvalRunItems> {
    let (evaluator, below) = match below {
        None => (None, None),
        Some(text) => {
            let (name, value) =
                text.split_once('=').ok_or_else(|| anyhow::anyhow!("--below takes EVALUATOR=VALUE, got '{text}'"))?;
            let value: f64 =
                value.trim().parse().map_err(|_| anyhow::anyhow!("--below {name}=: '{value}' is not a number"))?;
            (Some(name.trim().to_string()), Some(value))
        }
    };
    Ok(review::EvalRunItems { run_id, evaluator, below })
}
