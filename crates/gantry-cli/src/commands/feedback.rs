//! `gantry feedback add|list|summary`: user feedback on traces, in the local store or on a
//! server (`--url`).

use super::Context;
use crate::table;
use clap::Subcommand;
use gantry_evals::review;
use gantry_store::Store;
use gantry_types::{Feedback, FeedbackAggregate, FeedbackGroupBy, NewFeedback};
use serde_json::{json, Value};
use std::sync::Arc;

/// Feedback commands.
#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// Record feedback on a trace. VALUE is true/false, a number, else a category.
    Add {
        trace_id: String,
        /// What is rated, e.g. thumbs, rating, category.
        name: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[arg(long)]
        comment: Option<String>,
        /// Who gives it (default: $GANTRY_AUTHOR, git user.name, $USER).
        #[arg(long)]
        author: Option<String>,
        /// A running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// A trace's feedback, oldest first.
    List {
        trace_id: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Count, mean (true = 1) and category counts per prompt version or model and name.
    Summary {
        /// prompt or model.
        #[arg(long, default_value = "model")]
        group_by: String,
        /// Only this feedback name.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
}

enum Target {
    Local(Arc<dyn Store>),
    Remote(String),
}

impl Target {
    async fn open(ctx: &Context, url: Option<String>) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Target::Remote(url)),
            None => {
                let config = ctx.load_config(None)?;
                Ok(Target::Local(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?))
            }
        }
    }
}

fn feedback_rows(feedback: &[Feedback]) -> String {
    let rows: Vec<Vec<String>> = feedback
        .iter()
        .map(|f| {
            vec![
                f.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                f.name.clone(),
                f.value.to_string(),
                f.author.clone(),
                f.comment.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table::render(&["TIME (UTC)", "NAME", "VALUE", "AUTHOR", "COMMENT"], &rows)
}

fn summary_rows(group_by: FeedbackGroupBy, rows: &[FeedbackAggregate]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let categories: Vec<String> = r.categories.iter().map(|(c, n)| format!("{c}={n}")).collect();
            vec![
                r.group.clone().unwrap_or_else(|| "-".into()),
                r.name.clone(),
                r.count.to_string(),
                r.mean.map(|m| format!("{m:.3}")).unwrap_or_else(|| "-".into()),
                if categories.is_empty() { "-".into() } else { categories.join(" ") },
            ]
        })
        .collect();
    let group = match group_by {
        FeedbackGroupBy::Prompt => "PROMPT",
        FeedbackGroupBy::Model => "MODEL",
    };
    table::render(&[group, "NAME", "COUNT", "MEAN", "CATEGORIES"], &rows)
}

/// Runs a feedback subcommand.
pub async fn run(ctx: &Context, command: FeedbackCommand) -> anyhow::Result<()> {
    match command {
        FeedbackCommand::Add { trace_id, name, value, comment, author, url } => {
            let new = NewFeedback {
                name,
                value: review::parse_value_text(&value),
                comment,
                author: Some(super::prompts::author(author)),
            };
            let stored: Feedback = match Target::open(ctx, url).await? {
                Target::Local(store) => {
                    let id = review::parse_trace_id(&trace_id, "TRACE_ID")?;
                    review::add_feedback(store.as_ref(), id, new).await?
                }
                Target::Remote(url) => {
                    let body = serde_json::to_value(&new)?;
                    let path = format!("/api/traces/{trace_id}/feedback");
                    serde_json::from_value(
                        crate::remote::call(reqwest::Method::POST, &url, &path, &[], Some(&body)).await?,
                    )?
                }
            };
            println!(
                "feedback {}: {} = {} on trace {}{}",
                stored.id,
                stored.name,
                json!(stored.value),
                stored.trace_id,
                stored.comment.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
            );
        }
        FeedbackCommand::List { trace_id, url } => {
            let feedback: Vec<Feedback> = match Target::open(ctx, url).await? {
                Target::Local(store) => {
                    let id = review::parse_trace_id(&trace_id, "TRACE_ID")?;
                    review::list_feedback(store.as_ref(), id).await?
                }
                Target::Remote(url) => {
                    let path = format!("/api/traces/{trace_id}/feedback");
                    let mut body = crate::remote::call(reqwest::Method::GET, &url, &path, &[], None).await?;
                    serde_json::from_value(body["data"].take())?
                }
            };
            print!("{}", feedback_rows(&feedback));
        }
        FeedbackCommand::Summary { group_by, name, url } => {
            let group = review::parse_group_by(&group_by)?;
            let rows: Vec<FeedbackAggregate> = match Target::open(ctx, url).await? {
                Target::Local(store) => review::feedback_summary(store.as_ref(), group, name.as_deref()).await?,
                Target::Remote(url) => {
                    let mut query = vec![("group_by", group_by)];
                    query.extend(name.map(|n| ("name", n)));
                    let mut body: Value =
                        crate::remote::call(reqwest::Method::GET, &url, "/api/feedback/summary", &query, None).await?;
                    serde_json::from_value(body["data"].take())?
                }
            };
            print!("{}", summary_rows(group, &rows));
        }
    }
    Ok(())
}
