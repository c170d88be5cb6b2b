//! `/api/traces/{id}/feedback` and `/api/feedback/summary`: user feedback on recorded calls.

use super::author_or_api;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use gantry_evals::review::{self, ReviewError};
use gantry_types::{Feedback, FeedbackGroupBy, NewFeedback};
use serde::Deserialize;
use serde_json::{json, Value};

impl From<ReviewError> for ApiError {
    fn from(err: ReviewError) -> Self {
        ApiError::from_domain(err)
    }
}

/// Query of `GET /api/feedback/summary`, taken as text so each gets its own error message.
#[derive(Debug, Deserialize)]
pub struct SummaryQuery {
    group_by: Option<String>,
    name: Option<String>,
}

/// Records feedback on a trace (201).
pub async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OpenAiJson(mut body): OpenAiJson<NewFeedback>,
) -> Result<(StatusCode, Json<Feedback>), ApiError> {
    let trace_id = review::parse_trace_id(&id, "id")?;
    body.author = Some(author_or_api(body.author));
    let feedback = review::add_feedback(state.gateway.store().as_ref(), trace_id, body).await?;
    Ok((StatusCode::CREATED, Json(feedback)))
}

/// A trace's feedback, oldest first.
pub async fn list(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let trace_id = review::parse_trace_id(&id, "id")?;
    let feedback = review::list_feedback(state.gateway.store().as_ref(), trace_id).await?;
    Ok(Json(json!({"object": "list", "data": feedback})))
}

/// Feedback aggregates per prompt version or model (default) and feedback name.
pub async fn summary(
    State(state): State<AppState>,
    Query(query): Query<SummaryQuery>,
) -> Result<Json<Value>, ApiError> {
    let group_by = match query.group_by.as_deref() {
        None | Some("") => FeedbackGroupBy::Model,
        Some(text) => review::parse_group_by(text)?,
    };
    let rows = review::feedback_summary(state.gateway.store().as_ref(), group_by, query.name.as_deref()).await?;
    Ok(Json(json!({"object": "list", "group_by": group_by, "data": rows})))
}
