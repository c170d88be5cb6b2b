//! Feedback on SQLite: values of every kind read back, many per trace, and aggregates by
//! model and by prompt version.

use crate::trace;
use chrono::{Duration, Utc};
use gantry_store::open_store;
use gantry_types::{Feedback, FeedbackGroupBy, FeedbackValue, PromptUse, TraceId, TraceStatus};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

fn feedback(trace_id: TraceId, name: &str, value: FeedbackValue, seconds: i64) -> Feedback {
    Feedback {
        id: Uuid::now_v7(),
        trace_id,
        name: name.to_string(),
        value,
        comment: None,
        author: "ana".to_string(),
        created_at: Utc::now() - Duration::seconds(100 - seconds),
    }
}

fn prompt(name: &str, version: u32) -> Option<PromptUse> {
    Some(PromptUse { name: name.into(), version, label: None, variables: json!({}) })
}

#[tokio::test]
async fn feedback_reads_back_per_trace_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let t = trace("m1", TraceStatus::Ok, 5);
    let other = trace("m1", TraceStatus::Ok, 5);
    store.insert_traces(&[t.clone(), other.clone()]).await.unwrap();
    let mut rating = feedback(t.id, "rating", FeedbackValue::Number(4.5), 2);
    rating.comment = Some("good but long".into());
    let thumbs = feedback(t.id, "thumbs", FeedbackValue::Bool(false), 1);
    let category = feedback(t.id, "category", FeedbackValue::Category("billing".into()), 3);
    for f in [&rating, &thumbs, &category, &feedback(other.id, "thumbs", FeedbackValue::Bool(true), 0)] {
        store.insert_feedback(f).await.unwrap();
    }
    let listed = store.list_feedback(t.id).await.unwrap();
    // Timestamps are kept to the microsecond; compare what was stored at that precision.
    let micros = |f: &Feedback| {
        let mut f = f.clone();
        f.created_at = chrono::DateTime::from_timestamp_micros(f.created_at.timestamp_micros()).unwrap();
        f
    };
    assert_eq!(listed, vec![micros(&thumbs), micros(&rating), micros(&category)]);
    assert!(store.list_feedback(TraceId::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn summaries_group_by_model_and_by_prompt_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let mut a = trace("gpt", TraceStatus::Ok, 5);
    a.prompt = prompt("support", 1);
    let mut b = trace("gpt", TraceStatus::Ok, 4);
    b.prompt = prompt("support", 2);
    let c = trace("claude", TraceStatus::Ok, 3);
    store.insert_traces(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    let values = [
        (a.id, "thumbs", FeedbackValue::Bool(true)),
        (a.id, "thumbs", FeedbackValue::Bool(false)),
        (a.id, "rating", FeedbackValue::Number(5.0)),
        (b.id, "thumbs", FeedbackValue::Bool(true)),
        (b.id, "rating", FeedbackValue::Number(2.0)),
        (b.id, "rating", FeedbackValue::Category("n/a".into())),
        (c.id, "thumbs", FeedbackValue::Bool(false)),
        (c.id, "category", FeedbackValue::Category("billing".into())),
        (c.id, "category", FeedbackValue::Category("billing".into())),
        (c.id, "category", FeedbackValue::Category("shipping".into())),
        // Feedback whose trace is gone (or never existed) is left out of aggregates.
        (TraceId::new(), "thumbs", FeedbackValue::Bool(true)),
    ];
    for (i, (id, name, value)) in values.into_iter().enumerate() {
        store.insert_feedback(&feedback(id, name, value, i as i64)).await.unwrap();
    }

    let by_model = store.feedback_summary(FeedbackGroupBy::Model, None).await.unwrap();
    type Row<'a> = (Option<&'a str>, &'a str, u64, u64, Option<f64>);
    let rows: Vec<Row> =
        by_model.iter().map(|r| (r.group.as_deref(), r.name.as_str(), r.count, r.numeric_count, r.mean)).collect();
    assert_eq!(
        rows,
        vec![
            (Some("claude"), "category", 3, 0, None),
            (Some("claude"), "thumbs", 1, 1, Some(0.0)),
            (Some("gpt"), "rating", 3, 2, Some(3.5)),
            (Some("gpt"), "thumbs", 3, 3, Some(2.0 / 3.0)),
        ]
    );
    assert_eq!(by_model[0].categories, BTreeMap::from([("billing".to_string(), 2), ("shipping".to_string(), 1)]));
    assert_eq!(by_model[2].categories, BTreeMap::from([("n/a".to_string(), 1)]));
    assert!(by_model[3].categories.is_empty());

    let by_prompt = store.feedback_summary(FeedbackGroupBy::Prompt, Some("thumbs")).await.unwrap();
    let rows: Vec<(Option<&str>, u64, Option<f64>)> =
        by_prompt.iter().map(|r| (r.group.as_deref(), r.count, r.mean)).collect();
    assert_eq!(rows, vec![(Some("support@1"), 2, Some(0.5)), (Some("support@2"), 1, Some(1.0)), (None, 1, Some(0.0))]);
    assert!(store.feedback_summary(FeedbackGroupBy::Model, Some("nothing")).await.unwrap().is_empty());
}
