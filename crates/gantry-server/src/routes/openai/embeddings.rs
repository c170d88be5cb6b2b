//! `POST /v1/embeddings`.

use super::trace_headers;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use gantry_core::Principal;
use gantry_types::EmbeddingRequest;

/// Embeds one or more inputs, under the caller's key limits.
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    OpenAiJson(request): OpenAiJson<EmbeddingRequest>,
) -> Response {
    let call = match state.access.embed(&state.gateway, &principal, request).await {
        Ok(call) => call,
        Err(refused) => return ApiError::from(refused).into_response(),
    };
    match call.result {
        Ok(response) => (trace_headers(call.trace_id), Json(response)).into_response(),
        Err(e) => ApiError::from(e).with_trace(call.trace_id).into_response(),
    }
}
