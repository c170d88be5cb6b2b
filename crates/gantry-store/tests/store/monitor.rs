//! Monitoring samples: a route's root calls by environment and release, or a model's, newest
//! first and capped; spans never count; numeric feedback of many traces in one read.

use crate::trace;
use chrono::{Duration, Utc};
use gantry_store::{open_store, TrafficSample, TrafficSource};
use gantry_types::{DeploymentUse, Feedback, FeedbackValue, TraceRecord, TraceStatus};

fn routed(minutes_ago: i64, environment: &str, release: u32) -> TraceRecord {
    let mut t = trace("bot", TraceStatus::Ok, minutes_ago);
    t.deployment =
        Some(DeploymentUse { route: "bot".into(), environment: environment.into(), release, variant: "stable".into() });
    t
}

#[tokio::test]
async fn samples_select_by_route_environment_release_or_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let (p1, p2, s1) = (routed(30, "production", 1), routed(20, "production", 2), routed(10, "staging", 1));
    let mut span = routed(5, "production", 2);
    span.parent_id = Some(p2.id);
    let direct = trace("gpt", TraceStatus::Ok, 15);
    store.insert_traces(&[p1.clone(), p2.clone(), s1.clone(), span, direct.clone()]).await.unwrap();

    let now = Utc::now();
    let sample = |source: TrafficSource, limit: u32| TrafficSample {
        source,
        since: now - Duration::hours(1),
        until: now,
        limit,
    };
    let route = |environment: Option<&str>, release: Option<u32>| TrafficSource::Route {
        route: "bot".into(),
        environment: environment.map(Into::into),
        release,
    };
    let ids = |traces: Vec<TraceRecord>| traces.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let all = store.sample_traffic(&sample(route(None, None), 10)).await.unwrap();
    assert_eq!(ids(all), vec![s1.id, p2.id, p1.id], "root calls only, newest first");
    let production = store.sample_traffic(&sample(route(Some("production"), None), 10)).await.unwrap();
    assert_eq!(ids(production), vec![p2.id, p1.id]);
    let first = store.sample_traffic(&sample(route(Some("production"), Some(1)), 10)).await.unwrap();
    assert_eq!(ids(first), vec![p1.id]);
    let capped = store.sample_traffic(&sample(route(None, None), 2)).await.unwrap();
    assert_eq!(ids(capped), vec![s1.id, p2.id]);
    let model = store.sample_traffic(&sample(TrafficSource::Model("gpt".into()), 10)).await.unwrap();
    assert_eq!((ids(model.clone()), model[0].deployment.as_ref()), (vec![direct.id], None));
    let earlier = TrafficSample { until: now - Duration::minutes(25), ..sample(route(None, None), 10) };
    assert_eq!(ids(store.sample_traffic(&earlier).await.unwrap()), vec![p1.id]);

    let feedback = |trace_id, name: &str, value| Feedback {
        id: uuid::Uuid::now_v7(),
        trace_id,
        name: name.into(),
        value,
        comment: None,
        author: "user".into(),
        created_at: now,
    };
    store.insert_feedback(&feedback(p1.id, "thumbs", FeedbackValue::Bool(true))).await.unwrap();
    store.insert_feedback(&feedback(p1.id, "rating", FeedbackValue::Number(4.0))).await.unwrap();
    store.insert_feedback(&feedback(p2.id, "topic", FeedbackValue::Category("billing".into()))).await.unwrap();
    store.insert_feedback(&feedback(s1.id, "thumbs", FeedbackValue::Bool(false))).await.unwrap();
    let mut scores: Vec<(String, f64)> =
        store.trace_scores(&[p1.id, p2.id]).await.unwrap().into_iter().map(|s| (s.name, s.value)).collect();
    scores.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(scores, vec![("rating".to_string(), 4.0), ("thumbs".to_string(), 1.0)], "categories are left out");
    assert!(store.trace_scores(&[]).await.unwrap().is_empty());
}
