//! `gantry traces list` and `gantry traces show ID`: from the local store, or from a server.

use super::Context;
use crate::table;
use anyhow::anyhow;
use clap::Subcommand;
use gantry_types::{TraceFilter, TraceId, TraceRecord, TraceStatus};

/// Trace commands.
#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Recent calls as a table, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        model: Option<String>,
        /// Only calls made through this registered prompt.
        #[arg(long)]
        prompt: Option<String>,
        /// ok, error or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// RFC 3339 time or Unix seconds.
        #[arg(long)]
        since: Option<String>,
        /// Read from a running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// One call in full.
    Show {
        id: String,
        #[arg(long)]
        url: Option<String>,
    },
}

async fn fetch(url: &str, path: &str, query: &[(&str, String)]) -> anyhow::Result<serde_json::Value> {
    crate::remote::call(reqwest::Method::GET, url, path, query, None).await
}

fn row(t: &TraceRecord) -> Vec<String> {
    let opt = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    vec![
        t.id.to_string(),
        t.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        t.requested_model.clone(),
        t.provider.clone().unwrap_or_else(|| "-".into()),
        t.status.as_str().to_string(),
        t.http_status.to_string(),
        format!("{}/{}", opt(t.prompt_tokens), opt(t.completion_tokens)),
        format!("{:.0}", t.latency_ms),
        t.cost_usd.map(|c| format!("{c:.6}")).unwrap_or_else(|| "-".into()),
    ]
}

fn show(t: &TraceRecord) -> String {
    let mut out = String::new();
    let opt = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into());
    out.push_str(&format!("id:            {}\n", t.id));
    out.push_str(&format!("time:          {}\n", t.started_at.to_rfc3339()));
    out.push_str(&format!("kind:          {}{}\n", t.kind.as_str(), if t.stream { " (stream)" } else { "" }));
    out.push_str(&format!("model:         {}\n", t.requested_model));
    out.push_str(&format!(
        "answered by:   {}/{}\n",
        t.provider.as_deref().unwrap_or("-"),
        t.upstream_model.as_deref().unwrap_or("-")
    ));
    out.push_str(&format!("status:        {} (HTTP {})\n", t.status.as_str(), t.http_status));
    if let Some(e) = &t.error {
        out.push_str(&format!("error:         [{}] {}\n", e.code, e.message));
    }
    out.push_str(&format!(
        "tokens:        {} prompt, {} completion, {} total\n",
        opt(t.prompt_tokens),
        opt(t.completion_tokens),
        opt(t.total_tokens)
    ));
    out.push_str(&format!("latency:       {:.1} ms\n", t.latency_ms));
    if let Some(ttft) = t.ttft_ms {
        out.push_str(&format!("first token:   {ttft:.1} ms\n"));
    }
    out.push_str(&format!(
        "cost:          {}\n",
        t.cost_usd.map(|c| format!("${c:.6}")).unwrap_or_else(|| "unknown".into())
    ));
    out.push_str(&format!("finish reason: {}\n", t.finish_reason.as_deref().unwrap_or("-")));
    out.push_str("attempts:\n");
    for a in &t.attempts {
        out.push_str(&format!(
            "  - {}/{} {:.1} ms {}{}\n",
            a.provider,
            a.upstream_model,
            a.latency_ms,
            a.status.map(|s| format!("HTTP {s}")).unwrap_or_default(),
            a.error.as_ref().map(|e| format!(" error: {e}")).unwrap_or_default()
        ));
    }
    if let Some(messages) = t.request.get("messages").and_then(|m| m.as_array()) {
        out.push_str("messages:\n");
        for m in messages {
            let role = m["role"].as_str().unwrap_or("?");
            let content = match &m["content"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("  {role}: {content}\n"));
        }
    }
    if let Some(response) = &t.response {
        let content = response
            .get("content")
            .and_then(|c| c.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| response.to_string());
        out.push_str(&format!("response:\n  {content}\n"));
    }
    out
}

/// Runs a traces subcommand.
pub async fn run(ctx: &Context, command: TracesCommand) -> anyhow::Result<()> {
    match command {
        TracesCommand::List { limit, model, prompt, status, since, url } => {
            let traces: Vec<TraceRecord> = if let Some(url) = url {
                let mut query = vec![("limit", limit.to_string())];
                query.extend(model.map(|m| ("model", m)));
                query.extend(prompt.map(|p| ("prompt", p)));
                query.extend(status.map(|s| ("status", s)));
                query.extend(since.map(|s| ("since", s)));
                serde_json::from_value(fetch(&url, "/api/traces", &query).await?["data"].take())?
            } else {
                let status = status
                    .map(|s| TraceStatus::parse(&s).ok_or_else(|| anyhow!("--status must be ok, error or cancelled")))
                    .transpose()?;
                let since = since
                    .map(|s| {
                        chrono::DateTime::parse_from_rfc3339(&s)
                            .map(|t| t.with_timezone(&chrono::Utc))
                            .map_err(|e| anyhow!("--since '{s}' is not an RFC 3339 time: {e}"))
                    })
                    .transpose()?;
                let config = ctx.load_config(None)?;
                let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                store
                    .list_traces(&TraceFilter {
                        limit: Some(limit),
                        parent: None,
                        model,
                        prompt,
                        status,
                        since,
                        ..Default::default()
                    })
                    .await?
            };
            let rows: Vec<Vec<String>> = traces.iter().map(row).collect();
            print!(
                "{}",
                table::render(
                    &["ID", "TIME (UTC)", "MODEL", "PROVIDER", "STATUS", "HTTP", "TOKENS P/C", "MS", "COST $"],
                    &rows
                )
            );
            Ok(())
        }
        TracesCommand::Show { id, url } => {
            let trace: TraceRecord = if let Some(url) = url {
                serde_json::from_value(fetch(&url, &format!("/api/traces/{id}"), &[]).await?)?
            } else {
                let trace_id: TraceId = id.parse().map_err(|_| anyhow!("'{id}' is not a trace id (a UUID)"))?;
                let config = ctx.load_config(None)?;
                let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                store.get_trace(trace_id).await?.ok_or_else(|| anyhow!("no trace with id {trace_id}"))?
            };
            print!("{}", show(&trace));
            Ok(())
        }
    }
}
