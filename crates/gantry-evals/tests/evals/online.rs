//! Online evaluation over live traces: the configured sample of finished root chat traces is
//! scored by a regex and an LLM judge (the in-process calculator judge), scores land on the
//! traces as feedback by `online:NAME`, each trace is scored once, and the judge's own calls
//! (spans under the trace) are never scored themselves.

use super::runs::Fixture;
use chrono::{Duration, Utc};
use gantry_evals::online::{parse_configs, OnlineEvaluation};
use gantry_types::{Attempt, DeploymentUse, FeedbackValue, TraceFilter, TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::json;

fn live_trace(question: &str, answer: &str, seconds_ago: i64, route: Option<&str>) -> TraceRecord {
    let started_at = Utc::now() - Duration::seconds(seconds_ago);
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at,
        kind: TraceKind::Chat,
        requested_model: "calc".into(),
        provider: Some("fake".into()),
        upstream_model: Some("calc".into()),
        attempts: vec![Attempt {
            provider: "fake".into(),
            upstream_model: "calc".into(),
            started_at,
            latency_ms: 3.0,
            status: Some(200),
            error: None,
        }],
        status: TraceStatus::Ok,
        http_status: 200,
        error: None,
        stream: false,
        request: json!({"model": "calc", "messages": [{"role": "user", "content": question}]}),
        response: Some(json!({"role": "assistant", "content": answer})),
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(5),
        completion_tokens: Some(3),
        total_tokens: Some(8),
        latency_ms: 3.0,
        ttft_ms: None,
        cost_usd: None,
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: Vec::new(),
        deployment: route.map(|r| DeploymentUse {
            route: r.into(),
            environment: "production".into(),
            release: 1,
            variant: "stable".into(),
        }),
    }
}

#[tokio::test]
async fn sampled_live_traces_get_online_scores_once() {
    let fx = Fixture::start().await;
    let store = fx.service.gateway.store().clone();
    let raw = vec![
        json!({"sample": 1.0, "evaluator": {"name": "format", "type": "regex", "pattern": "^#### -?\\d+$"}}),
        json!({"sample": 1.0, "route": "calc-bot",
               "evaluator": {"name": "judged", "type": "llm_judge", "prompt": "judge-sum@1", "min": 1, "max": 5}}),
    ];
    let configs = parse_configs(&raw).unwrap();
    let start = Utc::now() - Duration::seconds(60);
    let mut online = OnlineEvaluation::new(fx.service.gateway.clone(), configs, start).await.unwrap();

    let good = live_trace("What is 1+2?", "#### 3", 30, Some("calc-bot"));
    let prose = live_trace("What is 2+2?", "four, I think", 20, None);
    let before = live_trace("What is 5+5?", "#### 10", 120, Some("calc-bot"));
    store.insert_traces(&[good.clone(), prose.clone(), before.clone()]).await.unwrap();

    let stored = online.poll(Utc::now()).await.unwrap();
    // good: format + judge; prose: format only (not the route); before: older than the start.
    assert_eq!(stored, 3);
    let scores = |id| {
        let store = store.clone();
        async move {
            let mut list: Vec<(String, f64, String)> = store
                .list_feedback(id)
                .await
                .unwrap()
                .into_iter()
                .map(|f| match f.value {
                    FeedbackValue::Number(n) => (f.name, n, f.author),
                    other => panic!("{other:?}"),
                })
                .collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list
        }
    };
    // The calculator judge gives 4 on a 1-5 scale: 0.75 once normalised.
    assert_eq!(
        scores(good.id).await,
        [("format".into(), 1.0, "online:format".into()), ("judged".into(), 0.75, "online:judged".into())]
    );
    assert_eq!(scores(prose.id).await, [("format".to_string(), 0.0, "online:format".to_string())]);
    assert!(scores(before.id).await.is_empty());

    // The judge's call is a span under the trace it judged, not a root trace to score.
    // (The trace writer commits it in the background: wait for it, boundedly.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let spans = loop {
        let spans = store.list_traces(&TraceFilter { parent: Some(good.id), ..TraceFilter::default() }).await.unwrap();
        if !spans.is_empty() || std::time::Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!((spans.len(), spans[0].requested_model.as_str()), (1, "judge"), "{spans:?}");
    // Polling again scores nothing twice; a new trace is picked up.
    assert_eq!(online.poll(Utc::now()).await.unwrap(), 0);
    let late = live_trace("What is 3+3?", "#### 6", 0, None);
    store.insert_traces(std::slice::from_ref(&late)).await.unwrap();
    // Not yet: the worker stays a few seconds behind the present for the writer's batches.
    assert_eq!(online.poll(Utc::now()).await.unwrap(), 0);
    let later = Utc::now() + Duration::seconds(5);
    assert_eq!(online.poll(later).await.unwrap(), 1);
    assert_eq!(online.poll(later).await.unwrap(), 0);
}

#[test]
fn online_evaluator_configs_report_every_problem() {
    let raw = vec![
        json!({"sample": 2.0, "evaluator": {"name": "a", "type": "regex", "pattern": "x"}}),
        json!({"evaluator": {"name": "b", "type": "exact_match"}}),
        json!({"evaluator": {"name": "c", "type": "json_valid"}, "unknown": 1}),
        json!({"evaluator": {"name": "d", "type": "regex", "pattern": "(unclosed"}}),
        json!({"evaluator": {"name": "e", "type": "llm_judge", "prompt": "j@1", "min": 5, "max": 1}}),
    ];
    let message = parse_configs(&raw).unwrap_err().to_string();
    assert!(message.contains("[0] 'a': sample is a share in 0..1"), "{message}");
    assert!(message.contains("[1] 'b': this evaluator compares with an expected output"), "{message}");
    assert!(message.contains("online_evaluators[2]: unknown field `unknown`"), "{message}");
    assert!(message.contains("online_evaluators[3] 'd': ") && message.contains("(unclosed"), "{message}");
    assert!(message.contains("[4] 'e': the judge's min 5 must be below its max 1"), "{message}");
    assert!(message.starts_with("invalid [[online_evaluators]]: "), "{message}");
    let sampled = parse_configs(&[json!({"sample": 0.3, "evaluator": {"name": "s", "type": "json_valid"}})]).unwrap();
    let hits = (0..2000).filter(|i| sampled[0].selects(&live_trace(&format!("{i}"), "x", 1, None))).count();
    assert!((500..700).contains(&hits), "a 30% sample picked {hits} of 2000");
}
