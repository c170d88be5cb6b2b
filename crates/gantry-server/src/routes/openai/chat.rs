//! `POST /v1/chat/completions`.

use super::trace_headers;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::{sse, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_types::ChatCompletionRequest;

/// Creates a completion, streamed as SSE when `stream` is true.
pub async fn create(State(state): State<AppState>, OpenAiJson(request): OpenAiJson<ChatCompletionRequest>) -> Response {
    if request.is_stream() {
        let call = state.gateway.chat_stream(request).await;
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
        let call = state.gateway.chat(request).await;
        match call.result {
            Ok(completion) => (trace_headers(call.trace_id), Json(completion)).into_response(),
            Err(e) => ApiError::from(e).with_trace(call.trace_id).into_response(),
        }
    }
}
