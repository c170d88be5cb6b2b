#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Store behaviour on SQLite: round trips, filters, ordering, idempotent inserts.

use chrono::{Duration, Utc};
use gantry_store::open_store;
use gantry_types::{
    Attempt, OutputCheck, PromptUse, TraceError, TraceFilter, TraceId, TraceKind, TraceRecord, TraceStatus,
};
use serde_json::json;

pub(crate) fn trace(model: &str, status: TraceStatus, minutes_ago: i64) -> TraceRecord {
    let started_at = Utc::now() - Duration::minutes(minutes_ago);
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at,
        kind: TraceKind::Chat,
        requested_model: model.to_string(),
        provider: Some("local".into()),
        upstream_model: Some("smol".into()),
        attempts: vec![Attempt {
            provider: "local".into(),
            upstream_model: "smol".into(),
            started_at,
            latency_ms: 12.5,
            status: Some(200),
            error: None,
        }],
        status,
        http_status: if status == TraceStatus::Ok { 200 } else { 502 },
        error: (status == TraceStatus::Error)
            .then(|| TraceError { code: "upstream_error".into(), message: "boom".into() }),
        stream: false,
        request: json!({"messages": [{"role": "user", "content": "héllo"}]}),
        response: Some(json!({"role": "assistant", "content": "hi"})),
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(5),
        completion_tokens: None,
        total_tokens: None,
        latency_ms: 20.0,
        ttft_ms: Some(3.5),
        cost_usd: Some(0.000_12),
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: Vec::new(),
        deployment: None,
    }
}

#[tokio::test]
async fn traces_round_trip_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let a = trace("m1", TraceStatus::Ok, 30);
    let b = trace("m2", TraceStatus::Error, 10);
    let c = trace("m1", TraceStatus::Ok, 1);
    store.insert_traces(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    // Inserting the same id again changes nothing.
    store.insert_traces(std::slice::from_ref(&a)).await.unwrap();

    let got = store.get_trace(a.id).await.unwrap().unwrap();
    // Timestamps are stored with microsecond precision.
    assert_eq!(got.started_at.timestamp_micros(), a.started_at.timestamp_micros());
    let mut expected = a.clone();
    expected.started_at = got.started_at;
    expected.attempts[0].started_at = got.attempts[0].started_at;
    assert_eq!(got, expected);
    assert_eq!(got.completion_tokens, None, "unknown counts stay null");

    let all = store.list_traces(&TraceFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), vec![c.id, b.id, a.id]);

    let m1 = store.list_traces(&TraceFilter { model: Some("m1".into()), ..Default::default() }).await.unwrap();
    assert_eq!(m1.len(), 2);
    let errors =
        store.list_traces(&TraceFilter { status: Some(TraceStatus::Error), ..Default::default() }).await.unwrap();
    assert_eq!(errors.iter().map(|t| t.id).collect::<Vec<_>>(), vec![b.id]);
    let recent = store
        .list_traces(&TraceFilter { since: Some(Utc::now() - Duration::minutes(15)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(recent.len(), 2);
    let one = store.list_traces(&TraceFilter { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(one[0].id, c.id);
    assert!(store.get_trace(TraceId::new()).await.unwrap().is_none());
}

#[tokio::test]
async fn spans_nest_under_their_parent_and_keep_prompt_details() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let mut run = trace("chain:qa", TraceStatus::Ok, 5);
    run.kind = TraceKind::Chain;
    let mut first = trace("smol", TraceStatus::Ok, 4);
    first.parent_id = Some(run.id);
    first.name = Some("retrieve".into());
    first.kind = TraceKind::Retrieve;
    let mut second = trace("smol", TraceStatus::Ok, 3);
    second.parent_id = Some(run.id);
    second.name = Some("answer".into());
    second.prompt = Some(PromptUse {
        name: "qa".into(),
        version: 3,
        label: Some("production".into()),
        variables: json!({"question": "why?"}),
    });
    second.output_check = Some(OutputCheck { valid: false, error: Some("missing 'answer'".into()) });
    store.insert_traces(&[second.clone(), run.clone(), first.clone()]).await.unwrap();

    let by_prompt =
        store.list_traces(&TraceFilter { prompt: Some("qa".into()), parent: Some(run.id), ..Default::default() }).await;
    assert_eq!(by_prompt.unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), vec![second.id]);
    let roots = store.list_traces(&TraceFilter::default()).await.unwrap();
    assert_eq!(roots.iter().map(|t| t.id).collect::<Vec<_>>(), vec![run.id], "spans are not root traces");
    let spans = store.list_traces(&TraceFilter { parent: Some(run.id), ..Default::default() }).await.unwrap();
    assert_eq!(spans.iter().map(|t| t.id).collect::<Vec<_>>(), vec![first.id, second.id], "oldest first");
    let got = store.get_trace(second.id).await.unwrap().unwrap();
    assert_eq!(got.parent_id, Some(run.id));
    assert_eq!(got.name.as_deref(), Some("answer"));
    assert_eq!(got.prompt, second.prompt);
    assert_eq!(got.output_check, second.output_check);
    assert_eq!(store.get_trace(first.id).await.unwrap().unwrap().kind, TraceKind::Retrieve);
}

#[tokio::test]
async fn reopening_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace("m", TraceStatus::Ok, 0);
    {
        let store = open_store(None, dir.path()).await.unwrap();
        store.insert_traces(std::slice::from_ref(&t)).await.unwrap();
    }
    let store = open_store(None, dir.path()).await.unwrap();
    assert!(store.get_trace(t.id).await.unwrap().is_some());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = open_store(None, &file).await.err().unwrap();
    assert_eq!(err.code(), "data_dir_unusable");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[path = "store/access.rs"]
mod access;
#[path = "store/analytics.rs"]
mod analytics;
#[path = "store/collections.rs"]
mod collections;
#[path = "store/datasets.rs"]
mod datasets;
#[path = "store/deploy.rs"]
mod deploy;
#[path = "store/feedback.rs"]
mod feedback;
#[path = "store/monitor.rs"]
mod monitor;
#[path = "store/registry.rs"]
mod registry;
#[path = "store/review.rs"]
mod review;
