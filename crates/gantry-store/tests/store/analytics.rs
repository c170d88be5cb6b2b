//! Trace rollups: what insert_traces adds up (root traces once, spans never), reads over
//! minutes and hours agreeing, the backfill of traces stored before rollups, feedback means.

use super::trace;
use chrono::{DateTime, Duration, TimeZone, Utc};
use gantry_store::{open_store, FeedbackScope, RollupCell, RollupGroup, RollupQuery};
use gantry_types::{Feedback, FeedbackValue, PromptUse, TraceRecord, TraceStatus};
use serde_json::json;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

/// A root trace at `base + seconds` with the given latency, tokens and cost.
fn at(seconds: i64, model: &str, status: TraceStatus, latency_ms: f64) -> TraceRecord {
    let mut t = trace(model, status, 0);
    t.started_at = base() + Duration::seconds(seconds);
    t.latency_ms = latency_ms;
    t.ttft_ms = None;
    t.prompt_tokens = Some(10);
    t.completion_tokens = Some(5);
    t.cost_usd = Some(0.5);
    t
}

fn query(start_s: i64, bucket_seconds: u64, buckets: u32) -> RollupQuery {
    RollupQuery {
        start: base() + Duration::seconds(start_s),
        bucket_seconds,
        buckets,
        model: None,
        prompt: None,
        api_key_id: None,
        group: RollupGroup::Full,
    }
}

/// (bucket, model, requests, errors, prompt tokens, completion tokens, cost) of each cell.
fn sums(cells: &[RollupCell]) -> Vec<(u32, String, u64, u64, u64, u64, f64)> {
    cells
        .iter()
        .map(|c| {
            let model = c.model.clone().unwrap_or_default();
            (c.bucket, model, c.requests, c.errors, c.prompt_tokens, c.completion_tokens, c.cost_usd)
        })
        .collect()
}

#[tokio::test]
async fn root_traces_are_counted_once_and_spans_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let a = at(5, "m1", TraceStatus::Ok, 100.0);
    let b = at(30, "m1", TraceStatus::Error, 300.0);
    let mut streamed = at(65, "m1", TraceStatus::Ok, 200.0);
    streamed.ttft_ms = Some(40.0);
    let mut cancelled = at(70, "m2", TraceStatus::Cancelled, 50.0);
    cancelled.cost_usd = None;
    cancelled.completion_tokens = None;
    let mut span = at(6, "m1", TraceStatus::Ok, 10.0);
    span.parent_id = Some(a.id);
    store.insert_traces(&[a.clone(), b.clone(), span.clone(), streamed.clone(), cancelled]).await.unwrap();
    // The same ids again, alone and with a new one: only the new one counts.
    store.insert_traces(&[a.clone(), span]).await.unwrap();
    let c = at(40, "m1", TraceStatus::Ok, 120.0);
    store.insert_traces(&[b.clone(), c]).await.unwrap();

    let cells = store.rollups(&query(0, 60, 2)).await.unwrap();
    assert_eq!(
        sums(&cells),
        vec![
            (0, "m1".into(), 3, 1, 30, 15, 1.5),
            (1, "m1".into(), 1, 0, 10, 5, 0.5),
            (1, "m2".into(), 1, 0, 10, 0, 0.0),
        ]
    );
    assert_eq!(cells[0].latency.count(), 3);
    assert!(cells[0].ttft.is_empty());
    assert_eq!(cells[1].ttft.count(), 1);
    let ttft = cells[1].ttft.quantile(0.5).unwrap();
    assert!((ttft - 40.0).abs() / 40.0 < gantry_store::histogram::MAX_RELATIVE_ERROR, "{ttft}");
    assert_eq!((cells[2].cancelled, cells[2].provider.as_deref()), (1, Some("local")));
    assert_eq!(cells[0].prompt, None);
}

#[tokio::test]
async fn filters_narrow_and_hours_agree_with_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let mut traces = Vec::new();
    // One call every 7 minutes for 10 hours, alternating models, keys and prompts.
    for i in 0..86 {
        let mut t = at(i * 7 * 60 + 13, if i % 2 == 0 { "even" } else { "odd" }, TraceStatus::Ok, 10.0 + i as f64);
        t.api_key_id = Some(format!("k{}", i % 3));
        if i % 5 == 0 {
            t.prompt = Some(PromptUse { name: "qa".into(), version: 1, label: None, variables: json!({}) });
        }
        traces.push(t);
    }
    // Committed in two batches out of order: rows are merged, not replaced.
    store.insert_traces(&traces[40..]).await.unwrap();
    store.insert_traces(&traces[..40]).await.unwrap();

    let total = |cells: &[RollupCell]| cells.iter().map(|c| c.requests).sum::<u64>();
    // Ten one-hour buckets read hour rows; 600 one-minute buckets read minute rows.
    let hourly = store.rollups(&query(0, 3600, 10)).await.unwrap();
    let minutely = store.rollups(&query(0, 60, 600)).await.unwrap();
    assert_eq!((total(&hourly), total(&minutely)), (86, 86));
    for hour in 0..10u32 {
        let in_minutes: u64 = minutely.iter().filter(|c| c.bucket / 60 == hour).map(|c| c.requests).sum();
        let in_hour: u64 = hourly.iter().filter(|c| c.bucket == hour).map(|c| c.requests).sum();
        assert_eq!(in_minutes, in_hour, "hour {hour}");
    }
    // 100-minute buckets from 00:30 mix both kinds of rows; each call lands in its bucket.
    let mixed = store.rollups(&query(1800, 6000, 5)).await.unwrap();
    for b in 0..5u32 {
        let (from, to) = (1800 + i64::from(b) * 6000, 1800 + i64::from(b + 1) * 6000);
        let expected =
            traces.iter().filter(|t| (from..to).contains(&(t.started_at - base()).num_seconds())).count() as u64;
        let got: u64 = mixed.iter().filter(|c| c.bucket == b).map(|c| c.requests).sum();
        assert_eq!(got, expected, "bucket {b}");
    }
    let mut latency = gantry_store::histogram::HistogramSum::default();
    hourly.iter().for_each(|c| latency.add(&c.latency));
    let p50 = latency.quantile(0.5).unwrap();
    assert!((p50 - 52.0).abs() / 52.0 < gantry_store::histogram::MAX_RELATIVE_ERROR, "{p50}");

    let mut q = query(0, 3600, 10);
    q.model = Some("even".into());
    assert_eq!(total(&store.rollups(&q).await.unwrap()), 43);
    q.api_key_id = Some("k0".into());
    let cells = store.rollups(&q).await.unwrap();
    assert_eq!(total(&cells), 15, "even and k0: i % 6 == 0");
    assert!(cells.iter().all(|c| c.model.as_deref() == Some("even") && c.api_key_id.as_deref() == Some("k0")));
    let mut q = query(0, 3600, 10);
    q.prompt = Some("qa".into());
    let cells = store.rollups(&q).await.unwrap();
    assert_eq!(total(&cells), 18);
    assert!(cells.iter().all(|c| c.prompt.as_deref() == Some("qa")));

    // The small cuboids (every call, by model, by prompt, by key) agree with the full one.
    let grouped = |group: RollupGroup, model: Option<&str>| {
        let mut q = query(0, 36_000, 1);
        q.group = group;
        q.model = model.map(str::to_string);
        let store = store.clone();
        async move { store.rollups(&q).await.unwrap() }
    };
    let everything = grouped(RollupGroup::Total, None).await;
    assert_eq!((everything.len(), everything[0].requests, everything[0].model.clone()), (1, 86, None));
    assert_eq!(everything[0].latency, {
        let mut all = gantry_store::histogram::Histogram::default();
        hourly.iter().for_each(|c| all.merge(&c.latency));
        all
    });
    let models: Vec<(Option<String>, u64)> =
        grouped(RollupGroup::Model, None).await.into_iter().map(|c| (c.model, c.requests)).collect();
    assert_eq!(models, vec![(Some("even".into()), 43), (Some("odd".into()), 43)]);
    let prompts: Vec<(Option<String>, u64)> =
        grouped(RollupGroup::Prompt, None).await.into_iter().map(|c| (c.prompt, c.requests)).collect();
    assert_eq!(prompts, vec![(None, 68), (Some("qa".into()), 18)]);
    let keys: Vec<u64> = grouped(RollupGroup::ApiKey, None).await.iter().map(|c| c.requests).collect();
    assert_eq!(keys, vec![29, 29, 28]);
    let even_by_key: Vec<(Option<String>, u64)> =
        grouped(RollupGroup::ApiKey, Some("even")).await.into_iter().map(|c| (c.api_key_id, c.requests)).collect();
    assert_eq!(even_by_key, vec![(Some("k0".into()), 15), (Some("k1".into()), 14), (Some("k2".into()), 14)]);
    assert_eq!(grouped(RollupGroup::Total, Some("odd")).await[0].requests, 43);

    assert_eq!(store.rollups(&query(30, 60, 1)).await.unwrap_err().code(), "invalid_store_query");
    assert_eq!(store.rollups(&query(0, 90, 1)).await.unwrap_err().code(), "invalid_store_query");
}

#[tokio::test]
async fn traces_stored_before_rollups_are_backfilled_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let traces: Vec<TraceRecord> =
        (0..50).map(|i| at(i * 100, if i % 2 == 0 { "a" } else { "b" }, TraceStatus::Ok, 20.0)).collect();
    let before = {
        let store = open_store(None, dir.path()).await.unwrap();
        store.insert_traces(&traces).await.unwrap();
        store.rollups(&query(0, 3600, 2)).await.unwrap()
    };
    assert_eq!(before.iter().map(|c| c.requests).sum::<u64>(), 50);
    // The state a store migrated from 0009 is in: traces, no rollups, the backfill pending.
    {
        let url = format!("sqlite://{}", dir.path().join("gantry.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM trace_rollups").execute(&pool).await.unwrap();
        sqlx::query("UPDATE trace_rollup_backfill SET done_at_us = NULL").execute(&pool).await.unwrap();
        pool.close().await;
    }
    let store = open_store(None, dir.path()).await.unwrap();
    let after = store.rollups(&query(0, 3600, 2)).await.unwrap();
    assert_eq!(after, before);
    drop(store);
    // Opening again does not count them a second time.
    let store = open_store(None, dir.path()).await.unwrap();
    assert_eq!(store.rollups(&query(0, 3600, 2)).await.unwrap(), before);
}

#[tokio::test]
async fn feedback_means_cover_a_window_and_a_scope() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let mut on_qa = at(0, "m1", TraceStatus::Ok, 1.0);
    on_qa.prompt = Some(PromptUse { name: "qa".into(), version: 2, label: None, variables: json!({}) });
    let other = at(0, "m2", TraceStatus::Ok, 1.0);
    store.insert_traces(&[on_qa.clone(), other.clone()]).await.unwrap();
    let give = |trace: &TraceRecord, name: &str, value: FeedbackValue, minutes: i64| Feedback {
        id: uuid::Uuid::now_v7(),
        trace_id: trace.id,
        name: name.into(),
        value,
        comment: None,
        author: "t".into(),
        created_at: base() + Duration::minutes(minutes),
    };
    for f in [
        give(&on_qa, "rating", FeedbackValue::Number(4.0), 10),
        give(&on_qa, "rating", FeedbackValue::Number(2.0), 20),
        give(&other, "rating", FeedbackValue::Number(5.0), 30),
        give(&other, "rating", FeedbackValue::Category("meh".into()), 31),
        give(&on_qa, "thumbs", FeedbackValue::Bool(true), 40),
        give(&on_qa, "rating", FeedbackValue::Number(1.0), 200),
    ] {
        store.insert_feedback(&f).await.unwrap();
    }
    let window = (base(), base() + Duration::minutes(60));
    let all = store.feedback_mean("rating", window.0, window.1, &FeedbackScope::default()).await.unwrap();
    assert_eq!((all.count, all.mean), (3, Some(11.0 / 3.0)));
    let qa = FeedbackScope { prompt: Some("qa".into()), ..Default::default() };
    let scoped = store.feedback_mean("rating", window.0, window.1, &qa).await.unwrap();
    assert_eq!((scoped.count, scoped.mean), (2, Some(3.0)));
    let m2 = FeedbackScope { model: Some("m2".into()), ..Default::default() };
    assert_eq!(store.feedback_mean("rating", window.0, window.1, &m2).await.unwrap().mean, Some(5.0));
    let none = store.feedback_mean("nothing", window.0, window.1, &FeedbackScope::default()).await.unwrap();
    assert_eq!((none.count, none.mean), (0, None));
}
