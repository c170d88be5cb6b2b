//! `/v1`: the OpenAI-compatible API.

pub mod chat;
pub mod embeddings;
pub mod models;

use axum::http::{HeaderMap, HeaderValue};
use gantry_types::TraceId;

/// Headers carrying the trace id.
pub(crate) fn trace_headers(id: TraceId) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        headers.insert(super::TRACE_HEADER, v);
    }
    headers
}
