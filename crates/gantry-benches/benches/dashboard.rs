#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The dashboard over a big store: generates a SQLite store of 1M root traces over 30 days
//! (`gantry_testkit::generate_traces`: five models, prompts, keys, errors, log-normal
//! latencies), then times `gantry_core::analytics::dashboard` for the last 1h, 24h, 7d and 30d
//! (60 series points, top lists, percentiles) against a naive baseline that computes only the
//! summary in SQL over the traces table (count, errors, token and cost sums, and p95 latency by
//! ORDER BY ... LIMIT 1 OFFSET), over the same range. Medians of several runs.
//!
//! Then serves the store and times whole pages of the web UI over loopback (the dashboard, the
//! trace list with its filters and text search, one trace), rendered HTML included.
//!
//! `cargo bench -p gantry-benches --bench dashboard --profile dev --config 'profile.dev.opt-level=3'`
//! Env: GANTRY_BENCH_TRACES (default 1000000), GANTRY_BENCH_RUNS (default 5).

use chrono::{DateTime, Duration, Utc};
use gantry_core::analytics::{dashboard, parse_window, AnalyticsQuery};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Row, SqlitePool};
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The summary the dashboard shows, straight from the traces table.
struct Naive {
    requests: i64,
    errors: i64,
    p95_ms: Option<f64>,
}

async fn naive_summary(pool: &SqlitePool, since: DateTime<Utc>, until: DateTime<Utc>) -> Naive {
    let (from, to) = (since.timestamp_micros(), until.timestamp_micros());
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(status = 'error'), 0) AS errors, SUM(prompt_tokens) AS pt,
         SUM(completion_tokens) AS ct, SUM(cost_usd) AS cost
         FROM traces WHERE parent_id IS NULL AND started_at_us >= ? AND started_at_us < ?",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await
    .unwrap();
    let requests: i64 = row.get("n");
    let errors: i64 = row.get("errors");
    let _: (Option<i64>, Option<i64>, Option<f64>) = (row.get("pt"), row.get("ct"), row.get("cost"));
    let p95_ms = if requests == 0 {
        None
    } else {
        let offset = ((0.95 * requests as f64).ceil() as i64 - 1).max(0);
        let row = sqlx::query(
            "SELECT latency_ms FROM traces WHERE parent_id IS NULL AND started_at_us >= ? AND started_at_us < ?
             ORDER BY latency_ms LIMIT 1 OFFSET ?",
        )
        .bind(from)
        .bind(to)
        .bind(offset)
        .fetch_one(pool)
        .await
        .unwrap();
        Some(row.get("latency_ms"))
    };
    Naive { requests, errors, p95_ms }
}

#[tokio::main]
async fn main() {
    let count = env_usize("GANTRY_BENCH_TRACES", 1_000_000);
    let runs = env_usize("GANTRY_BENCH_RUNS", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();

    let started = Instant::now();
    gantry_testkit::generate_traces(store.as_ref(), count, Duration::days(30), 42).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let db = dir.path().join("gantry.db");
    let size_mb = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    println!(
        "generated {count} traces over 30 days in {seconds:.1} s ({:.0} traces/s, with rollups); store {size_mb:.0} MB",
        count as f64 / seconds
    );

    let options = SqliteConnectOptions::new().filename(&db).read_only(true);
    let naive_pool = SqlitePool::connect_with(options).await.unwrap();
    println!(
        "{:<6} {:>10} {:>12} {:>12} {:>8}  {:>10} {:>10}",
        "window", "requests", "dashboard", "naive SQL", "ratio", "p95 (dash)", "p95 (SQL)"
    );
    for window in ["1h", "24h", "7d", "30d"] {
        let query = AnalyticsQuery::last(parse_window(window).unwrap());
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let t = Instant::now();
            let d = dashboard(store.as_ref(), &[], &query).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            last = Some(d);
        }
        let d = last.unwrap();
        assert_eq!(d.series.len(), 60);
        let mut naive_times = Vec::new();
        let mut naive = None;
        for _ in 0..runs {
            let t = Instant::now();
            let n = naive_summary(&naive_pool, d.since, d.until).await;
            naive_times.push(t.elapsed().as_secs_f64() * 1000.0);
            naive = Some(n);
        }
        let naive = naive.unwrap();
        assert_eq!(d.summary.requests as i64, naive.requests, "{window}: rollups and traces disagree");
        assert_eq!(d.summary.errors as i64, naive.errors, "{window}");
        let (dash_ms, naive_ms) = (median(times), median(naive_times));
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.0} ms"));
        println!(
            "{window:<6} {:>10} {:>9.1} ms {:>9.1} ms {:>7.1}x  {:>10} {:>10}",
            d.summary.requests,
            dash_ms,
            naive_ms,
            naive_ms / dash_ms,
            show(d.summary.latency_p95_ms),
            show(naive.p95_ms),
        );
    }
    pages(dir.path(), runs).await;
}

/// Serves the generated store and times pages of the web UI, end to end over loopback.
async fn pages(data_dir: &std::path::Path, runs: usize) {
    use gantry_core::config::{parse, validate};
    use gantry_core::{Overrides, Progress, Service};
    let raw = parse("[local]\nenabled = false\n").unwrap();
    let config = validate(raw, Overrides { data_dir: Some(data_dir.to_path_buf()), ..Default::default() }).unwrap();
    let service = Service::start(&config, Progress::Quiet).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let list: serde_json::Value =
        http.get(format!("{base}/api/traces?limit=1")).send().await.unwrap().json().await.unwrap();
    let some_trace = list["data"][0]["id"].as_str().unwrap().to_string();
    let model = list["data"][0]["requested_model"].as_str().unwrap().to_string();
    println!("{:<44} {:>10} {:>10}", "page (1M traces)", "median", "KB");
    let paths = [
        "/?window=1h".to_string(),
        "/?window=24h".to_string(),
        "/?window=30d".to_string(),
        format!("/?window=30d&model={model}"),
        "/ui/traces".to_string(),
        format!("/ui/traces?model={model}&status=error"),
        "/ui/traces?q=refund".to_string(),
        format!("/ui/traces/{some_trace}"),
    ];
    for path in paths {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            assert!(response.status().is_success(), "{path}: {}", response.status());
            size = response.bytes().await.unwrap().len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!("{path:<44} {:>7.1} ms {:>10.0}", median(times), size as f64 / 1024.0);
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    service.shutdown().await;
}
