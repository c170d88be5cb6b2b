//! `GET /api/monitor/drift/{route}`: how far a route's recent calls drifted from a baseline.

use crate::error::ApiError;
use crate::extract::OpenAiQuery;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use gantry_core::monitor::{self, DriftParams, DriftReport, GatewayEmbedder, TextEmbedder};

/// The drift report of `route` (or a model name) for the query's window and baseline.
pub async fn drift(
    State(state): State<AppState>,
    Path(route): Path<String>,
    OpenAiQuery(params): OpenAiQuery<DriftParams>,
) -> Result<Json<DriftReport>, ApiError> {
    let query = params.into_query(&route, chrono::Utc::now()).map_err(ApiError::from_domain)?;
    // Without an embeddings model configured the other components still report.
    let embedder = GatewayEmbedder::for_service(&state.gateway, &state.collections);
    let store = state.gateway.store();
    let report = monitor::drift_report(store.as_ref(), embedder.as_ref().map(|e| e as &dyn TextEmbedder), &query)
        .await
        .map_err(ApiError::from_domain)?;
    Ok(Json(report))
}
