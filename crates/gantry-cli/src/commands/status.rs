//! `gantry status`: every objective from `gantry.toml`, met or missed, with its live value,
//! target and trend, and one line on the last 24 hours; from the local store or a server.

use super::Context;
use crate::table;
use clap::Args;
use gantry_core::analytics::{self, AnalyticsQuery, ObjectiveStatus, Summary};
use serde_json::{json, Value};
use std::time::Duration;

/// The window of the summary line.
const SUMMARY_WINDOW: Duration = Duration::from_secs(86_400);

/// `gantry status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Read from a running server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: Option<String>,
    /// One JSON object ({"objectives": [...], "summary": {...}}) instead of text.
    #[arg(long)]
    json: bool,
}

/// A value in the unit of its metric.
fn format_value(metric: &str, value: f64) -> String {
    match metric {
        "latency_p95_ms" | "latency_p99_ms" | "ttft_p95_ms" => format!("{value:.0} ms"),
        "error_rate" => format!("{:.2}%", value * 100.0),
        "cost_per_1k_requests" => format!("${value:.4}"),
        _ => format!("{value:.3}"),
    }
}

fn scope(o: &ObjectiveStatus) -> String {
    let parts: Vec<String> = [("model", &o.model), ("prompt", &o.prompt), ("key", &o.key), ("suite", &o.suite)]
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
        .collect();
    if parts.is_empty() {
        "all".to_string()
    } else {
        parts.join(" ")
    }
}

fn metric_name(o: &ObjectiveStatus) -> String {
    match (&o.feedback, &o.eval_metric) {
        (Some(feedback), _) => format!("feedback_avg({feedback})"),
        (_, Some(metric)) => format!("eval({metric})"),
        _ => o.metric.clone(),
    }
}

fn objectives_table(objectives: &[ObjectiveStatus]) -> String {
    let rows: Vec<Vec<String>> = objectives
        .iter()
        .map(|o| {
            let value = o.value.map_or_else(|| "no data".to_string(), |v| format_value(&o.metric, v));
            let comparison = if o.direction == "at_least" { ">=" } else { "<=" };
            let verdict = match o.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            };
            let trend = match o.previous_value {
                Some(p) => format!("{} (was {})", o.trend.as_str(), format_value(&o.metric, p)),
                None => o.trend.as_str().to_string(),
            };
            vec![
                o.name.clone(),
                metric_name(o),
                scope(o),
                o.window.clone(),
                value,
                format!("{comparison} {}", format_value(&o.metric, o.target)),
                verdict.to_string(),
                trend,
            ]
        })
        .collect();
    table::render(&["OBJECTIVE", "METRIC", "SCOPE", "WINDOW", "VALUE", "TARGET", "STATUS", "TREND"], &rows)
}

fn summary_line(s: &Summary) -> String {
    let p95 = s.latency_p95_ms.map_or_else(|| "-".to_string(), |v| format!("{v:.0} ms"));
    format!(
        "last 24h: {} requests, error rate {:.2}%, p95 latency {p95}, cost ${:.4}",
        s.requests,
        s.error_rate * 100.0,
        s.cost_usd
    )
}

/// Runs `gantry status`.
pub async fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let (objectives, summary): (Vec<ObjectiveStatus>, Summary) = match &args.url {
        Some(url) => {
            let get = |path: &'static str, query: Vec<(&'static str, String)>| async move {
                crate::remote::call(reqwest::Method::GET, url, path, &query, None).await
            };
            let mut objectives = get("/api/objectives", vec![]).await?;
            let query = vec![("window", "24h".to_string()), ("buckets", "1".to_string())];
            let mut dashboard = get("/api/analytics/dashboard", query).await?;
            (serde_json::from_value(objectives["data"].take())?, serde_json::from_value(dashboard["summary"].take())?)
        }
        None => {
            let config = ctx.load_config(None)?;
            let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
            let query = AnalyticsQuery { buckets: 1, ..AnalyticsQuery::last(SUMMARY_WINDOW) };
            let dashboard = analytics::dashboard(store.as_ref(), &config.objectives, &query).await?;
            (dashboard.objectives, dashboard.summary)
        }
    };
    if args.json {
        let out: Value = json!({"objectives": objectives, "summary": summary});
        println!("{out}");
        return Ok(());
    }
    if objectives.is_empty() {
        println!("no objectives: declare them as [[objectives]] in gantry.toml");
    } else {
        print!("{}", objectives_table(&objectives));
    }
    println!("{}", summary_line(&summary));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_in_their_unit() {
        assert_eq!(format_value("latency_p95_ms", 812.4), "812 ms");
        assert_eq!(format_value("error_rate", 0.0125), "1.25%");
        assert_eq!(format_value("cost_per_1k_requests", 1.5), "$1.5000");
        assert_eq!(format_value("feedback_avg", 0.8), "0.800");
    }
}
