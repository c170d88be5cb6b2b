//! `gantry monitor drift` on the local store (inputs embedded by a local BERT) and against a
//! running server (`--url`), with refusals as the shift, and its clear failures.

use super::{refused, succeeds as ok};
use chrono::{Duration, Utc};
use gantry_testkit::drift::{deploy_route, route_window, TrafficShape};
use serde_json::Value;
use std::path::Path;

fn config(dir: &Path) -> String {
    let bert = dir.join("tiny-bert");
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    format!("data_dir = \"data\"\n[local]\nenabled = false\nembedding_model = {:?}\n", bert.display().to_string())
}

/// Support traffic over the week before yesterday; yesterday every third answer is a refusal.
fn seed(dir: &Path) -> String {
    let toml = config(dir);
    std::fs::write(dir.join("gantry.toml"), &toml).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = gantry_store::open_store(None, &dir.join("data")).await.unwrap();
        deploy_route(store.as_ref(), "support-bot").await;
        let (now, day) = (Utc::now(), Duration::days(1));
        let baseline = route_window("support-bot", now - day * 7, day * 5, 90, TrafficShape::default(), 1);
        let refusing = TrafficShape { refuse_every: 3, seed: 2, ..TrafficShape::default() };
        let recent = route_window("support-bot", now - Duration::hours(23), Duration::hours(22), 90, refusing, 1);
        store.insert_traces(&baseline).await.unwrap();
        store.insert_traces(&recent).await.unwrap();
    });
    toml
}

fn check_json(out: &str, embedded: bool) {
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["top_component"], "refusal_rate", "{report:#}");
    assert_eq!(report["level"], "significant");
    assert_eq!((report["recent"]["traces"].as_u64(), report["baseline"]["samples"].as_u64()), (Some(90), Some(90)));
    let skipped_topics = report["skipped"].as_array().unwrap().iter().any(|s| s["name"] == "input_topics");
    assert_eq!(skipped_topics, !embedded, "{report:#}");
}

#[test]
fn drift_is_reported_locally_and_from_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let toml = seed(d);

    let text = ok(d, &["monitor", "drift", "support-bot"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("drift of route 'support-bot': score ") && lines[0].ends_with("SIGNIFICANT"),
        "{text}"
    );
    assert!(lines[1].starts_with("recent:") && lines[1].ends_with("90 calls"), "{text}");
    assert!(lines[2].starts_with("baseline: the 7d before") && lines[2].ends_with("90 samples"), "{text}");
    assert!(lines[3].starts_with("moved most: refusal rate (0.0% -> 33.3% of answers"), "{text}");
    assert!(lines[5].starts_with("COMPONENT") && lines[5].ends_with("LEVEL"), "{text}");
    assert!(lines[6].starts_with("refusal rate") && lines[6].ends_with("significant"), "{text}");
    assert!(text.contains("input topics (embedding clusters)"), "the local BERT embedded the inputs: {text}");
    check_json(&ok(d, &["monitor", "drift", "support-bot", "--json"]), true);
    check_json(&ok(d, &["monitor", "drift", "support-bot", "--json", "--no-embeddings"]), false);

    assert!(refused(d, &["monitor", "drift", "nobody"]).contains("neither a deployed route nor a model"));
    assert!(refused(d, &["monitor", "drift", "support-bot", "--window", "5s"]).contains("is not a window"));
    let few = refused(d, &["monitor", "drift", "support-bot", "--window", "1m"]);
    assert!(few.contains("not enough data to compare: the recent window holds 0"), "{few}");
    let both = refused(d, &["monitor", "drift", "support-bot", "--baseline-release", "1", "--baseline-dataset", "x"]);
    assert!(both.contains("cannot be used with"), "{both}");

    // The same through a server's API (no embeddings model is configured there).
    let server = crate::BackgroundServer::start(&toml, &d.join("data"));
    let url = server.url.clone();
    let elsewhere = tempfile::tempdir().unwrap();
    let e = elsewhere.path();
    check_json(&ok(e, &["monitor", "drift", "support-bot", "--url", &url, "--json"]), false);
    assert!(ok(e, &["monitor", "drift", "support-bot", "--url", &url]).contains("moved most: refusal rate"));
    let missing = refused(e, &["monitor", "drift", "support-bot", "--url", &url, "--baseline-release", "4"]);
    assert!(missing.contains("404") && missing.contains("has no release 4"), "{missing}");
    server.stop();
}
