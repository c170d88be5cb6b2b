//! `/ui/review`: the review queues, and a reviewer working through one queue: the page claims
//! the next item for the reviewer and shows it with the queue's rubric as a form.

use crate::error::ApiError;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_evals::review;
use minijinja::context;
use serde::Deserialize;

/// `GET /ui/review`.
pub async fn list(State(state): State<AppState>) -> Result<Html<String>, UiError> {
    let queues = review::list_queues(state.gateway.store().as_ref()).await.map_err(ApiError::from)?;
    render("review.html", context! { nav => "review", queues })
}

/// Who is reviewing.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    reviewer: Option<String>,
}

/// `GET /ui/review/{queue}?reviewer=NAME`: with a reviewer, claims and shows the next item.
pub async fn queue(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<QueueQuery>,
) -> Result<Html<String>, UiError> {
    let store = state.gateway.store().as_ref();
    let info = review::get_queue(store, &name).await.map_err(ApiError::from)?;
    let reviewer = query.reviewer.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    let item = match &reviewer {
        Some(reviewer) => review::next_item(store, &name, reviewer).await.map_err(ApiError::from)?,
        None => None,
    };
    render("review_queue.html", context! { nav => "review", info, reviewer, item })
}
