//! `/api/review/queues`: human review queues. Create and inspect queues, add items, claim the
//! next item, submit reviews, export them as dataset JSONL.

use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_evals::review::{self, AddItemsRequest};
use gantry_types::{NewReview, NewReviewQueue, ReviewQueueInfo, ReviewedItem};
use serde::Deserialize;
use serde_json::{json, Value};

/// Query of `GET /api/review/queues/{name}/next`.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    reviewer: Option<String>,
}

/// Every queue with its counts.
pub async fn list_queues(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let queues = review::list_queues(state.gateway.store().as_ref()).await?;
    Ok(Json(json!({"object": "list", "data": queues})))
}

/// Creates a queue with its rubric (201).
pub async fn create_queue(
    State(state): State<AppState>,
    OpenAiJson(body): OpenAiJson<NewReviewQueue>,
) -> Result<(StatusCode, Json<ReviewQueueInfo>), ApiError> {
    Ok((StatusCode::CREATED, Json(review::create_queue(state.gateway.store().as_ref(), body).await?)))
}

/// One queue: rubric, instructions, counts per status.
pub async fn get_queue(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ReviewQueueInfo>, ApiError> {
    Ok(Json(review::get_queue(state.gateway.store().as_ref(), &name).await?))
}

/// Adds items from trace ids or raw items (201).
pub async fn add_items(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<AddItemsRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let items = review::add_items(state.gateway.store().as_ref(), &name, body).await?;
    Ok((StatusCode::CREATED, Json(json!({"object": "list", "data": items}))))
}

/// Claims the next item for a reviewer: `{"item": ...}`, or `{"item": null}` when none is free.
pub async fn next(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<NextQuery>,
) -> Result<Json<Value>, ApiError> {
    let reviewer = query.reviewer.unwrap_or_default();
    let item = review::next_item(state.gateway.store().as_ref(), &name, &reviewer).await?;
    Ok(Json(json!({"item": item})))
}

/// Submits the review of one item (201).
pub async fn submit(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    OpenAiJson(body): OpenAiJson<NewReview>,
) -> Result<(StatusCode, Json<ReviewedItem>), ApiError> {
    Ok((StatusCode::CREATED, Json(review::submit_review(state.gateway.store().as_ref(), &name, &id, body).await?)))
}

/// The reviewed items as JSON Lines in the dataset item format.
pub async fn export(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let body = review::export_jsonl(state.gateway.store().as_ref(), &name).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}
