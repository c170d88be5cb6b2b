//! `/ui/drift`: the deployed routes, and for the one chosen its drift report (the recent window
//! against the week before it), through the same core function as `/api/monitor/drift`.

use crate::error::ApiError;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Query, State};
use axum::response::Html;
use gantry_core::monitor::{self, DriftError, DriftParams, GatewayEmbedder, TextEmbedder};
use minijinja::context;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The windows the page offers.
const WINDOWS: &[&str] = &["1h", "6h", "24h", "7d"];

/// Which route, environment and window to compare.
#[derive(Debug, Deserialize)]
pub struct DriftPageQuery {
    route: Option<String>,
    env: Option<String>,
    window: Option<String>,
}

/// `GET /ui/drift?route=&env=&window=24h`.
pub async fn show(State(state): State<AppState>, Query(query): Query<DriftPageQuery>) -> Result<Html<String>, UiError> {
    let store = state.gateway.store();
    let deployments = store.list_deployments().await.map_err(|e| ApiError::from_domain(DriftError::from(e)))?;
    let routes: BTreeSet<String> = deployments.iter().map(|d| d.route.clone()).collect();
    let environments: BTreeSet<String> = deployments.iter().map(|d| d.environment.clone()).collect();
    let window = query.window.filter(|w| !w.is_empty()).unwrap_or_else(|| "24h".to_string());
    let env = query.env.filter(|e| !e.is_empty());
    let route = query.route.filter(|r| !r.is_empty());
    let (mut report, mut problem) = (None, None);
    if let Some(route) = &route {
        let params = DriftParams { env: env.clone(), window: Some(window.clone()), ..DriftParams::default() };
        let query = params.into_query(route, chrono::Utc::now()).map_err(ApiError::from_domain)?;
        let embedder = GatewayEmbedder::for_service(&state.gateway, &state.collections);
        match monitor::drift_report(store.as_ref(), embedder.as_ref().map(|e| e as &dyn TextEmbedder), &query).await {
            Ok(r) => report = Some(r),
            // Too little traffic is an answer worth showing on the page, not an error page.
            Err(e @ DriftError::InsufficientData { .. }) => problem = Some(e.to_string()),
            Err(e) => return Err(ApiError::from_domain(e).into()),
        }
    }
    render(
        "drift.html",
        context! { nav => "drift", routes, environments, route, env, window, windows => WINDOWS, report, problem },
    )
}
