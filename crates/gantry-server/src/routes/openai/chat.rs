//! `POST /v1/chat/completions`.

use super::trace_headers;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::{sse, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gantry_core::Principal;
use gantry_types::ChatCompletionRequest;

/// Creates a completion, streamed as SSE when `stream` is true, under the caller's key limits.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    OpenAiJson(request): OpenAiJson<ChatCompletionRequest>,
) -> Response {
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
