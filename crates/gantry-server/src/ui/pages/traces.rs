//! `/ui/traces`: the filterable, paginated list, and one trace with its span tree, messages,
//! guardrail hits and feedback, with forms to add feedback or send it to a queue or dataset.

use super::{content_text, truncate};
use crate::routes::api::traces::{filter_from, next_cursor, ListQuery};
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_evals::{datasets, review};
use gantry_types::{TraceId, TraceRecord, TraceTree};
use minijinja::context;
use serde::Serialize;
use serde_json::{json, Value};

/// A trace as a row of the list.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    trace: &'a TraceRecord,
    preview: String,
    prompt_ref: Option<String>,
}

/// What a trace's request asked, in a line: the last user message, or the embedded input.
fn preview(trace: &TraceRecord) -> String {
    let request = &trace.request;
    if let Some(messages) = request.get("messages").and_then(Value::as_array) {
        let last_user = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        if let Some(message) = last_user.or(messages.last()) {
            return truncate(&content_text(message.get("content").unwrap_or(&Value::Null)), 120);
        }
    }
    if let Some(input) = request.get("input") {
        return truncate(&content_text(input), 120);
    }
    truncate(&trace.name.clone().unwrap_or_default(), 120)
}

/// `GET /ui/traces`.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Html<String>, UiError> {
    let filter = filter_from(query.clone())?;
    let traces = state.gateway.list_traces(&filter).await.map_err(|e| UiError::internal(&e))?;
    let next = next_cursor(&filter, &traces);
    let rows: Vec<Row> = traces
        .iter()
        .map(|t| Row {
            trace: t,
            preview: preview(t),
            prompt_ref: t.prompt.as_ref().map(|p| format!("{}@{}", p.name, p.version)),
        })
        .collect();
    let models: Vec<String> = state.gateway.list_models().data.into_iter().map(|m| m.id).collect();
    render(
        "traces.html",
        context! {
            nav => "traces",
            rows,
            next,
            models,
            filters => json!({
                "model": query.model, "prompt": query.prompt, "status": query.status,
                "since": query.since, "q": query.q, "limit": query.limit,
            }),
        },
    )
}

/// One span of the tree as the waterfall draws it.
#[derive(Serialize)]
struct SpanRow {
    id: String,
    depth: usize,
    label: String,
    kind: &'static str,
    status: &'static str,
    latency_ms: f64,
    offset_pct: f64,
    width_pct: f64,
    tokens: Option<u32>,
    cost_usd: Option<f64>,
}

fn flatten(node: &TraceTree, depth: usize, root_start: i64, total_ms: f64, out: &mut Vec<SpanRow>) {
    let record = &node.record;
    let offset_ms = (record.started_at.timestamp_micros() - root_start) as f64 / 1000.0;
    let label = match (&record.name, record.kind.as_str()) {
        (Some(name), _) => name.clone(),
        (None, kind) => format!("{kind} {}", record.requested_model),
    };
    out.push(SpanRow {
        id: record.id.to_string(),
        depth,
        label,
        kind: record.kind.as_str(),
        status: record.status.as_str(),
        latency_ms: record.latency_ms,
        offset_pct: (offset_ms / total_ms * 100.0).clamp(0.0, 100.0),
        width_pct: (record.latency_ms / total_ms * 100.0).clamp(0.0, 100.0),
        tokens: record.total_tokens,
        cost_usd: record.cost_usd,
    });
    for child in &node.spans {
        flatten(child, depth + 1, root_start, total_ms, out);
    }
}

/// How long the tree took from the root's start to the last span's end.
fn extent_ms(node: &TraceTree, root_start: i64) -> f64 {
    let own = (node.record.started_at.timestamp_micros() - root_start) as f64 / 1000.0 + node.record.latency_ms;
    node.spans.iter().map(|c| extent_ms(c, root_start)).fold(own, f64::max)
}

/// A chat message as the page shows it.
fn message_view(message: &Value) -> Value {
    json!({
        "role": message.get("role").and_then(Value::as_str).unwrap_or("message"),
        "name": message.get("name"),
        "text": content_text(message.get("content").unwrap_or(&Value::Null)),
        "tool_calls": message.get("tool_calls"),
        "tool_call_id": message.get("tool_call_id"),
    })
}

/// `GET /ui/traces/{id}`.
pub async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, UiError> {
    let trace_id: TraceId = id.parse().map_err(|_| UiError {
        status: axum::http::StatusCode::BAD_REQUEST,
        message: format!("'{id}' is not a trace id"),
    })?;
    let tree = state.gateway.get_trace_tree(trace_id).await.map_err(|e| UiError::internal(&e))?.ok_or_else(|| {
        UiError { status: axum::http::StatusCode::NOT_FOUND, message: format!("no trace with id {trace_id}") }
    })?;
    let store = state.gateway.store().as_ref();
    let root_start = tree.record.started_at.timestamp_micros();
    let total_ms = extent_ms(&tree, root_start).max(0.001);
    let mut spans = Vec::new();
    flatten(&tree, 0, root_start, total_ms, &mut spans);
    let record = &tree.record;
    let messages: Vec<Value> = record
        .request
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().map(message_view).collect())
        .unwrap_or_default();
    let response =
        record.response.as_ref().map(|r| if r.get("role").is_some() { message_view(r) } else { json!({"raw": r}) });
    let mut parameters = record.request.clone();
    if let Some(object) = parameters.as_object_mut() {
        object.remove("messages");
    }
    let feedback = review::list_feedback(store, trace_id).await.map_err(crate::error::ApiError::from_domain)?;
    let queues: Vec<String> = review::list_queues(store)
        .await
        .map_err(crate::error::ApiError::from_domain)?
        .into_iter()
        .map(|q| q.queue.name)
        .collect();
    let datasets: Vec<String> =
        datasets::list(store).await.map_err(crate::error::ApiError::from_domain)?.into_iter().map(|d| d.name).collect();
    render(
        "trace.html",
        context! {
            nav => "traces",
            trace => record,
            spans,
            messages,
            response,
            parameters,
            feedback,
            queues,
            datasets,
        },
    )
}
