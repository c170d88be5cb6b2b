//! `POST /v1/embeddings`.

use super::trace_headers;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_types::EmbeddingRequest;

/// Embeds one or more inputs.
pub async fn create(State(state): State<AppState>, OpenAiJson(request): OpenAiJson<EmbeddingRequest>) -> Response {
    let call = state.gateway.embed(request).await;
    match call.result {
        Ok(response) => (trace_headers(call.trace_id), Json(response)).into_response(),
        Err(e) => ApiError::from(e).with_trace(call.trace_id).into_response(),
    }
}
