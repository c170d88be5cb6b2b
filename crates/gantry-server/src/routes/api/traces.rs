//! `GET /api/traces` (filters: limit, model, prompt, status, since, q; `before` pages on) and
//! `GET /api/traces/{id}`.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use gantry_store::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use gantry_types::{TraceCursor, TraceFilter, TraceId, TraceRecord, TraceStatus, TraceTree};
use serde::Deserialize;
use serde_json::{json, Value};

/// Query parameters, taken as text so each gets its own error message.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    pub(crate) limit: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) prompt: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) since: Option<String>,
    /// Text the request or the response contains.
    pub(crate) q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub(crate) before: Option<String>,
}

/// Parses `since` as RFC 3339 or as Unix seconds.
fn parse_since(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| text.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)))
}

// The error becomes the response at once; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
pub(crate) fn filter_from(query: ListQuery) -> Result<TraceFilter, ApiError> {
    let limit = match query.limit {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("limit must be a whole number from 1 to {MAX_LIST_LIMIT}, got '{text}'"),
                    Some("limit"),
                ))
            }
        },
    };
    let status = match query.status {
        None => None,
        Some(text) => Some(TraceStatus::parse(&text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("status must be one of ok, error, cancelled; got '{text}'"),
                Some("status"),
            )
        })?),
    };
    let since = match query.since {
        None => None,
        Some(text) => Some(parse_since(&text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("since must be an RFC 3339 time (2026-01-31T12:00:00Z) or Unix seconds; got '{text}'"),
                Some("since"),
            )
        })?),
    };
    let before = match query.before.filter(|b| !b.is_empty()) {
        None => None,
        Some(text) => Some(TraceCursor::decode(&text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("before must be the next_cursor of a previous page; got '{text}'"),
                Some("before"),
            )
        })?),
    };
    Ok(TraceFilter {
        limit,
        parent: None,
        model: query.model.filter(|m| !m.is_empty()),
        prompt: query.prompt.filter(|p| !p.is_empty()),
        status,
        since,
        until: None,
        search: query.q.filter(|q| !q.is_empty()),
        before,
    })
}

/// Recorded calls, newest first; `next_cursor` (when the page is full) fetches the next page.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let filter = filter_from(query)?;
    let traces = state.gateway.list_traces(&filter).await.map_err(|e| ApiError::internal(&e))?;
    let next_cursor = next_cursor(&filter, &traces);
    Ok(Json(json!({"object": "list", "data": traces, "next_cursor": next_cursor})))
}

/// The cursor of the page after `page`, when `page` is full (there may be more).
pub(crate) fn next_cursor(filter: &TraceFilter, page: &[TraceRecord]) -> Option<String> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIST_LIMIT) as usize;
    match page.last() {
        Some(last) if page.len() >= limit => Some(TraceCursor::after(last).encode()),
        _ => None,
    }
}

/// One recorded call, with the spans nested under it (a chain run's steps) as `spans`.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TraceTree>, ApiError> {
    let trace_id: TraceId = id.parse().map_err(|_| {
        ApiError::bad_request("invalid_parameter", format!("'{id}' is not a trace id (a UUID)"), Some("id"))
    })?;
    match state.gateway.get_trace_tree(trace_id).await.map_err(|e| ApiError::internal(&e))? {
        Some(trace) => Ok(Json(trace)),
        None => Err(ApiError::not_found("trace_not_found", format!("no trace with id {trace_id}"))),
    }
}
