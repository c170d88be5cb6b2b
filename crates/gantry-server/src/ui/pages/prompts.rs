//! `/ui/prompts`: every prompt; one prompt's versions, labels and their history, a version's
//! content, two versions side by side, and a playground that runs a version on a model.

use crate::error::ApiError;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_core::prompts;
use minijinja::context;
use serde::Deserialize;

/// `GET /ui/prompts`.
pub async fn list(State(state): State<AppState>) -> Result<Html<String>, UiError> {
    let prompts = prompts::list(state.gateway.store().as_ref()).await.map_err(ApiError::from_domain)?;
    render("prompts.html", context! { nav => "prompts", prompts })
}

/// Which version to show and which two to compare.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    version: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /ui/prompts/{name}?version=&from=&to=`.
pub async fn detail(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Html<String>, UiError> {
    let store = state.gateway.store().as_ref();
    let details = prompts::details(store, &name).await.map_err(ApiError::from_domain)?;
    let shown = match query.version.as_deref().filter(|v| !v.is_empty()) {
        Some(selector) => prompts::get(store, &name, selector).await.map_err(ApiError::from_domain)?,
        None => details.latest.clone(),
    };
    // By default the diff shows what the newest version changed.
    let latest = details.latest.version;
    let from = query.from.filter(|f| !f.is_empty()).unwrap_or_else(|| latest.saturating_sub(1).max(1).to_string());
    let to = query.to.filter(|t| !t.is_empty()).unwrap_or_else(|| latest.to_string());
    let diff = prompts::diff(store, &name, &from, &to).await.map_err(ApiError::from_domain)?;
    let models: Vec<String> = state.gateway.list_models().data.into_iter().map(|m| m.id).collect();
    render("prompt.html", context! { nav => "prompts", details, shown, diff, from, to, models })
}
