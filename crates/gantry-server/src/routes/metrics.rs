//! `GET /metrics`: Prometheus text.

use crate::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// Every gateway metric in the Prometheus text format (version 0.0.4).
pub async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, gantry_core::metrics::CONTENT_TYPE)], state.gateway.metrics_text())
}
