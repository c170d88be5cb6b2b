//! `/api/alerts`: the alert rules with their states, their history, and test notifications.

use crate::error::ApiError;
use crate::extract::OpenAiQuery;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use gantry_core::alerts::{self, AlertError};
use serde::Deserialize;
use serde_json::{json, Value};

impl From<AlertError> for ApiError {
    fn from(err: AlertError) -> Self {
        ApiError::from_domain(err)
    }
}

/// `?rule=&limit=`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    rule: Option<String>,
    limit: Option<String>,
}

/// Every rule with its state and last value.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = alerts::statuses(state.gateway.store().as_ref(), &state.alerting).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// History, newest first, with every delivery attempt.
pub async fn history(
    State(state): State<AppState>,
    OpenAiQuery(query): OpenAiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = match query.limit.filter(|l| !l.is_empty()) {
        None => 100,
        Some(text) => text.parse::<u32>().map_err(|_| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("limit must be a whole number from 1 to {}, got '{text}'", alerts::MAX_HISTORY_LIMIT),
                Some("limit"),
            )
        })?,
    };
    let rule = query.rule.filter(|r| !r.is_empty());
    let data = alerts::history(state.gateway.store().as_ref(), rule.as_deref(), limit).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Sends a test notification of one rule and reports each webhook's outcome.
pub async fn test(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let deliveries =
        alerts::send_test(state.gateway.store().as_ref(), &state.alerting, &name, chrono::Utc::now()).await?;
    Ok(Json(json!({"rule": name, "deliveries": deliveries})))
}
