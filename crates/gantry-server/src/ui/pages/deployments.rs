//! `/ui/deployments`: what each route runs in each environment; one route's arms side by side
//! (the canary or experiment comparison with intervals and tests) and its history.

use crate::error::ApiError;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_core::deploy;
use gantry_types::DEFAULT_ENVIRONMENT;
use minijinja::context;
use serde::Deserialize;

/// `GET /ui/deployments`.
pub async fn list(State(state): State<AppState>) -> Result<Html<String>, UiError> {
    let deployments = deploy::status(state.gateway.store().as_ref(), None).await.map_err(ApiError::from_domain)?;
    render("deployments.html", context! { nav => "deployments", deployments })
}

/// Which environment to show.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    environment: Option<String>,
}

/// `GET /ui/deployments/{route}?environment=`.
pub async fn detail(
    State(state): State<AppState>,
    Path(route): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Html<String>, UiError> {
    let store = state.gateway.store().as_ref();
    let environment = query.environment.filter(|e| !e.is_empty()).unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string());
    let comparison = deploy::compare(store, &route, &environment, None).await.map_err(ApiError::from_domain)?;
    let status = deploy::status(store, Some(&route))
        .await
        .map_err(ApiError::from_domain)?
        .into_iter()
        .find(|s| s.deployment.environment == environment);
    let history = store
        .deployment_history(Some(&route), Some(&environment), 50)
        .await
        .map_err(|e| ApiError::from_domain(deploy::DeployError::from(e)))?;
    render("deployment.html", context! { nav => "deployments", route, environment, status, comparison, history })
}
