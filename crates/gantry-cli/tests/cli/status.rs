//! `gantry status` on the local store and against a running server (`--url`).

use super::{gantry, succeeds as ok};
use chrono::{Duration, Utc};
use gantry_types::{TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::{json, Value};
use std::path::Path;

const CONFIG: &str = r#"
data_dir = "data"
[local]
enabled = false

[[objectives]]
name = "snappy"
metric = "latency_p95_ms"
target = 500
window = "1h"

[[objectives]]
name = "reliable"
metric = "error_rate"
target = 0.01

[[objectives]]
name = "liked"
metric = "feedback_avg"
feedback = "thumbs"
target = 0.5
"#;

fn call(status: TraceStatus) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: Utc::now() - Duration::minutes(5),
        kind: TraceKind::Chat,
        requested_model: "gpt".into(),
        provider: Some("oa".into()),
        upstream_model: None,
        attempts: vec![],
        status,
        http_status: 200,
        error: None,
        stream: false,
        request: json!({}),
        response: None,
        finish_reason: None,
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
        total_tokens: Some(15),
        latency_ms: 100.0,
        ttft_ms: None,
        cost_usd: Some(0.01),
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: vec![],
        deployment: None,
    }
}

/// Ten calls five minutes ago, one of them failed.
fn seed(dir: &Path) {
    std::fs::write(dir.join("gantry.toml"), CONFIG).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = gantry_store::open_store(None, &dir.join("data")).await.unwrap();
        let calls: Vec<TraceRecord> =
            (0..10).map(|i| call(if i == 0 { TraceStatus::Error } else { TraceStatus::Ok })).collect();
        store.insert_traces(&calls).await.unwrap();
    });
}

fn check_text(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("OBJECTIVE") && lines[0].contains("TREND"), "{out}");
    let (snappy, reliable, liked) = (lines[1], lines[2], lines[3]);
    assert!(snappy.starts_with("snappy") && snappy.contains("latency_p95_ms") && snappy.contains("<= 500 ms"), "{out}");
    assert!(snappy.contains(" met ") && snappy.contains(" 1h "), "{out}");
    assert!(reliable.contains("10.00%") && reliable.contains("<= 1.00%") && reliable.contains("MISSED"), "{out}");
    assert!(reliable.contains(" 24h ") && reliable.trim_end().ends_with("unknown"), "no earlier window: {out}");
    assert!(liked.contains("feedback_avg(thumbs)") && liked.contains("no data") && liked.contains(">= 0.500"), "{out}");
    assert!(lines[4].starts_with("last 24h: 10 requests, error rate 10.00%, p95 latency "), "{out}");
    assert!(lines[4].ends_with("cost $0.1000"), "{out}");
}

fn check_json(out: &str) {
    let body: Value = serde_json::from_str(out.trim()).unwrap();
    let objectives = body["objectives"].as_array().unwrap();
    let verdicts: Vec<(&str, Value)> =
        objectives.iter().map(|o| (o["name"].as_str().unwrap(), o["met"].clone())).collect();
    assert_eq!(verdicts, vec![("snappy", json!(true)), ("reliable", json!(false)), ("liked", Value::Null)]);
    assert_eq!((body["summary"]["requests"].as_u64(), body["summary"]["errors"].as_u64()), (Some(10), Some(1)));
}

#[test]
fn status_shows_objectives_and_the_last_day_locally_and_from_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed(d);
    check_text(&ok(d, &["status"]));
    check_json(&ok(d, &["status", "--json"]));

    // The same through a server's API.
    let server = crate::BackgroundServer::start(CONFIG, &d.join("data"));
    let url = server.url.clone();
    let elsewhere = tempfile::tempdir().unwrap();
    check_text(&ok(elsewhere.path(), &["status", "--url", &url]));
    check_json(&ok(elsewhere.path(), &["status", "--url", &url, "--json"]));
    server.stop();
    let out = gantry(elsewhere.path(), &["status", "--url", "http://127.0.0.1:9"]);
    assert!(!out.status.success());
}
