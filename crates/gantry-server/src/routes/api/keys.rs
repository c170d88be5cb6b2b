//! `/api/keys` (list, create, revoke) and `/api/audit`: admin only.

use crate::access::AuditIds;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use gantry_core::access::{create_key, list_audit, list_keys, revoke_key};
use gantry_store::MAX_LIST_LIMIT;
use gantry_types::{ApiKey, AuditFilter, NewApiKey};
use serde::Deserialize;
use serde_json::{json, Value};

/// Query of `GET /api/audit`, taken as text so each gets its own error message.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<String>,
    since: Option<String>,
    actor: Option<String>,
}

/// Every key (never a secret), oldest first.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = list_keys(state.access.store().as_ref()).await?;
    Ok(Json(json!({"object": "list", "data": keys})))
}

/// Creates a key (201); the answer holds its secret, which is never shown again.
pub async fn create(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<NewApiKey>,
) -> Result<Response, ApiError> {
    let created = create_key(state.access.store().as_ref(), body, state.access.utc_now()).await?;
    state.access.keys_changed();
    let ids = AuditIds(vec![format!("id={}", created.key.id)]);
    Ok((StatusCode::CREATED, axum::Extension(ids), Json(created)).into_response())
}

/// Revokes a key: requests with it are refused from now on.
pub async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ApiKey>, ApiError> {
    let key = revoke_key(state.access.store().as_ref(), &id, state.access.utc_now()).await?;
    state.access.keys_changed();
    Ok(Json(key))
}

/// Audit entries, newest first (filters: limit, since, actor).
pub async fn audit(State(state): State<AppState>, Query(query): Query<AuditQuery>) -> Result<Json<Value>, ApiError> {
    let limit = match query.limit.as_deref() {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => Some(n),
            _ => {
                let message = format!("limit must be a whole number from 1 to {MAX_LIST_LIMIT}, got '{text}'");
                return Err(ApiError::bad_request("invalid_parameter", message, Some("limit")));
            }
        },
    };
    let since = match query.since.as_deref() {
        None => None,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                let message = format!("since must be an RFC 3339 time such as 2026-01-31T00:00:00Z, got '{text}'");
                return Err(ApiError::bad_request("invalid_parameter", message, Some("since")));
            }
        },
    };
    let filter = AuditFilter { limit, since, actor: query.actor.filter(|a| !a.is_empty()) };
    let entries = list_audit(state.access.store().as_ref(), &filter).await?;
    Ok(Json(json!({"object": "list", "data": entries})))
}
