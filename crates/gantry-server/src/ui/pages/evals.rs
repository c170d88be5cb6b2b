//! `/ui/evals`: eval runs, one run's aggregates, gate and items, and two runs compared.

use crate::error::ApiError;
use crate::ui::charts::bar_chart;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_evals::runs;
use minijinja::context;
use serde::Deserialize;

/// Which suite's runs to list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    suite: Option<String>,
}

/// `GET /ui/evals?suite=`.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Html<String>, UiError> {
    let suite = query.suite.filter(|s| !s.is_empty());
    let runs = runs::list_runs(state.gateway.store().as_ref(), suite.as_deref(), 200).await.map_err(ApiError::from)?;
    render("evals.html", context! { nav => "evals", runs, suite })
}

/// `GET /ui/evals/{id}`.
pub async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, UiError> {
    let details = runs::run_details(state.gateway.store().as_ref(), &id).await.map_err(ApiError::from)?;
    // Every evaluator's main metric in one chart: the run at a glance.
    let bars: Vec<(String, f64)> = details
        .run
        .summaries
        .iter()
        .filter_map(|s| s.metrics.get(&s.main).map(|v| (s.evaluator.clone(), *v)))
        .collect();
    let metrics_chart = (!bars.is_empty()).then(|| bar_chart("main metric per evaluator", &bars, ""));
    let evaluators: Vec<String> = details.run.summaries.iter().map(|s| s.evaluator.clone()).collect();
    render("eval_run.html", context! { nav => "evals", details, metrics_chart, evaluators })
}

/// The two runs to compare.
#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
}

/// `GET /ui/evals/compare?a=&b=`.
pub async fn compare(
    State(state): State<AppState>,
    Query(query): Query<CompareQuery>,
) -> Result<Html<String>, UiError> {
    let (Some(a), Some(b)) = (query.a.filter(|a| !a.is_empty()), query.b.filter(|b| !b.is_empty())) else {
        return Err(UiError {
            status: axum::http::StatusCode::BAD_REQUEST,
            message: "choose two runs to compare: /ui/evals/compare?a=RUN&b=RUN".to_string(),
        });
    };
    let comparison = runs::compare(state.gateway.store().as_ref(), &a, &b).await.map_err(ApiError::from)?;
    let evaluators: Vec<String> = comparison.a.summaries.iter().map(|s| s.evaluator.clone()).collect();
    render("eval_compare.html", context! { nav => "evals", comparison, evaluators })
}
