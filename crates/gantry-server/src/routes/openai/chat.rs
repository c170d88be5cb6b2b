//! `POST /v1/chat/completions`.

use super::trace_headers;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::{sse, AppState};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gantry_core::prompts::GANTRY_FIELD;
use gantry_core::Principal;
use gantry_types::ChatCompletionRequest;
use serde_json::{Map, Value};

/// Creates a completion, streamed as SSE when `stream` is true, under the caller's key limits.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    OpenAiJson(mut request): OpenAiJson<ChatCompletionRequest>,
) -> Response {
    route_headers(&headers, &mut request);
    if request.is_stream() {
        let call = match state.access.chat_stream(&state.gateway, &principal, request).await {
            Ok(call) => call,
            Err(refused) => return ApiError::from(refused).into_response(),
        };
        match call.result {
            Ok(stream) => (
                trace_headers(call.trace_id),
                [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")],
                sse::body(stream),
            )
                .into_response(),
            Err(e) => ApiError::from(e).with_trace(call.trace_id).into_response(),
        }
    } else {
        let call = match state.access.chat(&state.gateway, &principal, request).await {
            Ok(call) => call,
            Err(refused) => return ApiError::from(refused).into_response(),
        };
        match call.result {
            Ok(completion) => (trace_headers(call.trace_id), Json(completion)).into_response(),
            Err(e) => ApiError::from(e).with_trace(call.trace_id).into_response(),
        }
    }
}

/// The headers that pick a deployed route's environment and sticky arm, passed to the core as
/// Gantry options of the request (a value already in the body wins).
fn route_headers(headers: &HeaderMap, request: &mut ChatCompletionRequest) {
    for (header, option) in [("x-gantry-environment", "environment"), ("x-gantry-session-id", "session")] {
        let Some(value) = headers.get(header).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
        else {
            continue;
        };
        let options = request.extra.entry(GANTRY_FIELD).or_insert_with(|| Value::Object(Map::new()));
        if let Some(options) = options.as_object_mut() {
            options.entry(option).or_insert_with(|| Value::String(value.to_string()));
        }
    }
}
