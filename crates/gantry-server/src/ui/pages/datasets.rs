//! `/ui/datasets`: every dataset; one dataset's versions, a page of items and the version's
//! statistics as charts.

use crate::error::ApiError;
use crate::ui::charts::bar_chart;
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use gantry_evals::datasets::{self, Distribution};
use minijinja::context;
use serde::Deserialize;

const PAGE: u64 = 25;

/// `GET /ui/datasets`.
pub async fn list(State(state): State<AppState>) -> Result<Html<String>, UiError> {
    let datasets = datasets::list(state.gateway.store().as_ref()).await.map_err(ApiError::from)?;
    render("datasets.html", context! { nav => "datasets", datasets })
}

/// Which version, which page of items, and which metadata key to count labels by.
#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    version: Option<u32>,
    #[serde(default)]
    offset: u64,
    label: Option<String>,
}

fn histogram(title: &str, distribution: &Option<Distribution>) -> Option<String> {
    let d = distribution.as_ref()?;
    let bars: Vec<(String, f64)> =
        d.histogram.iter().map(|b| (format!("{}–{}", b.start, b.end), b.count as f64)).collect();
    Some(bar_chart(title, &bars, ""))
}

/// `GET /ui/datasets/{name}?version=&offset=&label=`.
pub async fn detail(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Result<Html<String>, UiError> {
    let store = state.gateway.store().as_ref();
    let versions = datasets::versions(store, &name).await.map_err(ApiError::from)?;
    let page =
        datasets::items_page(store, &name, query.version, query.offset, Some(PAGE)).await.map_err(ApiError::from)?;
    let label = query.label.filter(|l| !l.is_empty()).unwrap_or_else(|| "label".to_string());
    let stats =
        datasets::stats(store, &name, Some(page.version.version), Some(&label)).await.map_err(ApiError::from)?;
    let chars_chart = histogram("input characters", &stats.input_chars);
    let tokens_chart = histogram("input tokens", &stats.input_tokens);
    let labels_chart = stats.labels.as_ref().filter(|l| !l.counts.is_empty()).map(|l| {
        let bars: Vec<(String, f64)> = l.counts.iter().map(|c| (c.label.clone(), c.count as f64)).collect();
        bar_chart("labels", &bars, "")
    });
    let next = (page.offset + PAGE < page.version.items).then_some(page.offset + PAGE);
    let previous = (page.offset > 0).then(|| page.offset.saturating_sub(PAGE));
    render(
        "dataset.html",
        context! { nav => "datasets", name, versions, page, stats, chars_chart, tokens_chart, labels_chart, label, next, previous },
    )
}
