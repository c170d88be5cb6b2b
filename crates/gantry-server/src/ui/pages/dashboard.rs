//! `/`: the dashboard. Requests, errors, latency, time to first token, tokens and cost over a
//! chosen window (charts from the per-minute rollups), the top models, prompts and keys, and
//! every objective met or missed.

use crate::error::ApiError;
use crate::ui::charts::{line_chart, Series};
use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{Query, State};
use axum::response::Html;
use gantry_core::analytics::{self, AnalyticsQuery, Dashboard};
use minijinja::context;
use serde::Deserialize;

/// The windows the page offers.
const WINDOWS: &[&str] = &["15m", "1h", "6h", "24h", "7d", "30d"];

/// Which window and model to show.
#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    window: Option<String>,
    model: Option<String>,
}

/// The charts of the page, as SVG.
#[derive(serde::Serialize)]
struct Charts {
    requests: String,
    latency: String,
    ttft: String,
    tokens: String,
    cost: String,
}

fn charts(d: &Dashboard) -> Charts {
    // Minutes within a day; dates beyond.
    let long = d.until - d.since > chrono::Duration::hours(24);
    let labels: Vec<String> =
        d.series.iter().map(|p| p.start.format(if long { "%m-%d %H:%M" } else { "%H:%M" }).to_string()).collect();
    let pick = |f: &dyn Fn(&analytics::SeriesPoint) -> Option<f64>| d.series.iter().map(f).collect::<Vec<_>>();
    // A minute without calls has no latency: a gap, not a zero.
    let busy = |p: &analytics::SeriesPoint| p.requests > 0;
    Charts {
        requests: line_chart(
            "requests and errors",
            &labels,
            &[
                Series { name: "requests", values: pick(&|p| Some(p.requests as f64)) },
                Series { name: "errors", values: pick(&|p| Some(p.errors as f64)) },
            ],
            "",
        ),
        latency: line_chart(
            "latency",
            &labels,
            &[
                Series { name: "p50", values: pick(&|p| p.latency_p50_ms.filter(|_| busy(p))) },
                Series { name: "p95", values: pick(&|p| p.latency_p95_ms.filter(|_| busy(p))) },
                Series { name: "p99", values: pick(&|p| p.latency_p99_ms.filter(|_| busy(p))) },
            ],
            " ms",
        ),
        ttft: line_chart(
            "time to first token",
            &labels,
            &[Series { name: "p50", values: pick(&|p| p.ttft_p50_ms) }],
            " ms",
        ),
        tokens: line_chart(
            "tokens",
            &labels,
            &[Series { name: "tokens", values: pick(&|p| Some(p.tokens as f64)) }],
            "",
        ),
        cost: line_chart("cost", &labels, &[Series { name: "USD", values: pick(&|p| Some(p.cost_usd)) }], ""),
    }
}

/// `GET /?window=24h&model=`.
pub async fn show(State(state): State<AppState>, Query(query): Query<DashboardQuery>) -> Result<Html<String>, UiError> {
    let window = query.window.filter(|w| !w.is_empty()).unwrap_or_else(|| "24h".to_string());
    let duration = analytics::parse_window(&window)
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.to_string(), Some("window")))?;
    let model = query.model.filter(|m| !m.is_empty());
    let mut analytics_query = AnalyticsQuery::last(duration);
    analytics_query.model = model.clone();
    let d = analytics::dashboard(state.gateway.store().as_ref(), &state.objectives, &analytics_query)
        .await
        .map_err(ApiError::from_domain)?;
    let models: Vec<String> = state.gateway.list_models().data.into_iter().map(|m| m.id).collect();
    let charts = charts(&d);
    let objectives = d.objectives.clone();
    render(
        "dashboard.html",
        context! { nav => "dashboard", d, charts, objectives, window, windows => WINDOWS, model, models },
    )
}
