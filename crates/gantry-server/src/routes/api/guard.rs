//! `/api/guard`: scanning text on demand, the known prompt-injection attacks the similarity
//! check compares with, and the guardrails' hit counts.

use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gantry_types::{GuardScanRequest, GuardScanResponse, InjectionExample, NewInjectionExample};
use serde_json::{json, Value};

/// Scans `text` with the named scanners (pii, secrets, injection; all by default).
pub async fn scan(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<GuardScanRequest>,
) -> Result<Json<GuardScanResponse>, ApiError> {
    let guard = state.gateway.guardrails();
    Ok(Json(guard.scan_on_demand(Some(&state.gateway), &body).await?))
}

/// The added known attacks.
pub async fn list_examples(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let guard = state.gateway.guardrails();
    let data = guard.examples().await?;
    Ok(Json(json!({"object": "list", "seed_examples": guard.seed_size(), "data": data})))
}

/// Adds a known attack (201).
pub async fn add_example(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<NewInjectionExample>,
) -> Result<(StatusCode, Json<InjectionExample>), ApiError> {
    let added = state.gateway.guardrails().add_example(&body.text, body.category.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Removes an added known attack.
pub async fn delete_example(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let parsed: i64 = id.parse().map_err(|_| {
        ApiError::bad_request("invalid_id", format!("'{id}' is not an example id (a number)"), Some("id"))
    })?;
    if !state.gateway.guardrails().delete_example(parsed).await? {
        return Err(ApiError::not_found("example_not_found", format!("no injection example with id {parsed}")));
    }
    Ok(Json(json!({"id": parsed, "object": "guard.example", "deleted": true})))
}

/// Hits since start by guardrail, entity, stage and action, and the configured rules.
pub async fn stats(State(state): State<AppState>) -> Json<Value> {
    let guard = state.gateway.guardrails();
    let rules: Vec<Value> = guard
        .rules()
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "scanner": r.scanner.name(),
                "action": r.action,
                "stages": r.stages,
            })
        })
        .collect();
    Json(
        json!({"object": "guard.stats", "rules": rules, "redact_traces": guard.redact_traces(), "hits": guard.counts()}),
    )
}
