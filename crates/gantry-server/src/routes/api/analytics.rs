//! `GET /api/analytics/dashboard` (window, model, prompt, key, buckets) and `GET /api/objectives`.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Query, State};
use axum::Json;
use gantry_core::analytics::{self, AnalyticsQuery, Dashboard, DEFAULT_BUCKETS, MAX_BUCKETS};
use serde::Deserialize;
use serde_json::{json, Value};

/// Query parameters, taken as text so each gets its own error message.
#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    window: Option<String>,
    model: Option<String>,
    prompt: Option<String>,
    key: Option<String>,
    buckets: Option<String>,
}

// The error becomes the response at once; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn query_from(params: DashboardQuery) -> Result<AnalyticsQuery, ApiError> {
    let window = params.window.filter(|w| !w.is_empty()).unwrap_or_else(|| "24h".to_string());
    let window = analytics::parse_window(&window).map_err(ApiError::from_domain)?;
    let buckets = match params.buckets.filter(|b| !b.is_empty()) {
        None => DEFAULT_BUCKETS,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_BUCKETS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("buckets must be a whole number from 1 to {MAX_BUCKETS}, got '{text}'"),
                    Some("buckets"),
                ))
            }
        },
    };
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    Ok(AnalyticsQuery {
        model: non_empty(params.model),
        prompt: non_empty(params.prompt),
        api_key_id: non_empty(params.key),
        buckets,
        ..AnalyticsQuery::last(window)
    })
}

/// Summary, series, top models/prompts/keys and objectives of the window ending now.
pub async fn dashboard(
    State(state): State<AppState>,
    Query(params): Query<DashboardQuery>,
) -> Result<Json<Dashboard>, ApiError> {
    let query = query_from(params)?;
    let store = state.gateway.store();
    Ok(Json(analytics::dashboard(store.as_ref(), &state.objectives, &query).await.map_err(ApiError::from_domain)?))
}

/// Every objective from the config with its live value, target, verdict and trend.
pub async fn objectives(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = state.gateway.store();
    let statuses = analytics::objective_statuses(store.as_ref(), &state.objectives, chrono::Utc::now())
        .await
        .map_err(ApiError::from_domain)?;
    Ok(Json(json!({"object": "list", "data": statuses})))
}
