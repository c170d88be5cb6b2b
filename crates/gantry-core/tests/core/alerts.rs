//! Alert delivery end to end: an error-rate rule over traces in a temporary SQLite store, a
//! local webhook receiver whose first answer on each path is a failure, Slack-shaped and plain
//! JSON bodies, retries recorded in the store, and the resolved message.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use gantry_core::alerts::{AlertEngine, AlertRule, Notify, WebhookNotifier};
use gantry_core::config::{parse, validate, Overrides};
use gantry_types::{AlertEventKind, DeliveryOutcome, TraceRecord};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw: every request's path, body and the answer it gave.
#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<(String, Value, u16)>>,
    answered: Mutex<HashMap<String, u32>>,
}

async fn hook(
    State(receiver): State<Arc<Receiver>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let count = {
        let mut answered = receiver.answered.lock().unwrap();
        let n = answered.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    let auth_ok = path != "json" || headers.get("authorization").is_some_and(|v| v == "Bearer hook-token");
    // The first request of each path fails: 500 on Slack's, 503 with Retry-After on the other.
    let status = match (count, path.as_str()) {
        (1, "slack") => StatusCode::INTERNAL_SERVER_ERROR,
        (1, _) => StatusCode::SERVICE_UNAVAILABLE,
        _ if !auth_ok => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    };
    receiver.seen.lock().unwrap().push((path, body, status.as_u16()));
    let mut response = (status, "ok").into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert("retry-after", "0".parse().unwrap());
    }
    response
}

async fn start_receiver() -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver::default());
    let app = Router::new().route("/hooks/{path}", post(hook)).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hooks"), receiver)
}

fn trace(at: DateTime<Utc>, failed: bool) -> TraceRecord {
    serde_json::from_value(json!({
        "id": gantry_types::TraceId::new(), "started_at": at, "kind": "chat", "requested_model": "support-model",
        "provider": "oa", "upstream_model": "up", "attempts": [], "status": if failed { "error" } else { "ok" },
        "http_status": if failed { 502 } else { 200 }, "error": null, "stream": false, "request": {},
        "response": null, "finish_reason": null, "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
        "latency_ms": 120.0, "ttft_ms": null, "cost_usd": 0.001
    }))
    .unwrap()
}

#[tokio::test]
async fn an_alert_is_delivered_once_after_a_failed_attempt_and_resolved() {
    let (base, receiver) = start_receiver().await;
    std::env::set_var("GANTRY_TEST_ALERT_TOKEN", "Bearer hook-token");
    let config = validate(
        parse(&format!(
            r#"
            [alerting]
            retries = 3
            backoff_base_ms = 10
            backoff_max_ms = 100
            timeout_ms = 5000
            [alerting.webhooks.chat]
            url = "{base}/slack"
            format = "slack"
            [alerting.webhooks.plain]
            url = "{base}/json"
            format = "json"
            headers = {{ Authorization = "env:GANTRY_TEST_ALERT_TOKEN" }}
            [[alerts]]
            name = "support-errors"
            metric = "error_rate"
            model = "support-model"
            op = ">"
            threshold = 0.25
            window = "5m"
            for = "0"
            severity = "critical"
            webhooks = ["chat", "plain"]
            "#
        ))
        .unwrap(),
        Overrides::default(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap();
    // 4 of 10 calls fail in the first minutes; later ones all succeed.
    let mut traces: Vec<TraceRecord> = (0..10).map(|i| trace(t0 + ChronoDuration::seconds(10 * i), i < 4)).collect();
    traces.extend((0..10).map(|i| trace(t0 + ChronoDuration::minutes(20) + ChronoDuration::seconds(i), false)));
    store.insert_traces(&traces).await.unwrap();

    let rules: Arc<[AlertRule]> = config.alerting.rules.clone().into();
    let notifier = Arc::new(WebhookNotifier::spawn(&config.alerting, store.clone()).unwrap());
    let as_notify: Arc<dyn Notify> = notifier.clone();
    let mut engine = AlertEngine::load(store.clone(), rules, as_notify).await.unwrap();

    let firing_at = t0 + ChronoDuration::minutes(2);
    let outcome = engine.tick(firing_at).await;
    assert_eq!((outcome[0].value, outcome[0].transition), (Some(0.4), Some(AlertEventKind::Firing)));
    // Still firing a minute later: deduplicated.
    let outcome = engine.tick(firing_at + ChronoDuration::minutes(1)).await;
    assert_eq!(outcome[0].transition, None);
    // 09:30: the window holds only the successful calls.
    let resolved_at = t0 + ChronoDuration::minutes(24);
    let outcome = engine.tick(resolved_at).await;
    assert_eq!((outcome[0].value, outcome[0].transition), (Some(0.0), Some(AlertEventKind::Resolved)));

    // Everything queued goes out (the firing retry first) before the workers stop.
    drop(engine);
    let Ok(notifier) = Arc::try_unwrap(notifier) else { panic!("the notifier is still shared") };
    tokio::time::timeout(Duration::from_secs(20), notifier.shutdown(Duration::from_secs(15))).await.unwrap();

    let seen = receiver.seen.lock().unwrap().clone();
    let of = |path: &str| -> Vec<(Value, u16)> {
        seen.iter().filter(|(p, _, _)| p == path).map(|(_, b, s)| (b.clone(), *s)).collect()
    };
    let (slack, plain) = (of("slack"), of("json"));
    let statuses = |v: &[(Value, u16)]| v.iter().map(|(_, s)| *s).collect::<Vec<_>>();
    // A failed attempt, its retry, then the resolved message: exactly one firing delivered each.
    assert_eq!(statuses(&slack), vec![500, 200, 200]);
    assert_eq!(statuses(&plain), vec![503, 200, 200]);
    assert_eq!(slack[0].0, slack[1].0, "a retry sends the same body");

    let firing = &slack[1].0;
    let text = firing["text"].as_str().unwrap();
    assert!(text.starts_with("[FIRING] support-errors (critical) [model=support-model]: error_rate = 0.4"), "{text}");
    assert!(text.contains("threshold > 0.25, window 5m"), "{text}");
    assert_eq!(firing["blocks"][0]["type"], "section");
    assert_eq!(firing["blocks"][0]["text"]["text"], text);
    let resolved = slack[2].0["text"].as_str().unwrap();
    assert!(resolved.starts_with("[RESOLVED] support-errors [model=support-model]: error_rate = 0"), "{resolved}");

    let body = &plain[1].0;
    assert_eq!(body["alert"], "support-errors");
    assert_eq!(body["state"], "firing");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["metric"], "error_rate");
    assert_eq!(body["op"], ">");
    assert_eq!(body["threshold"], 0.25);
    assert_eq!(body["value"], 0.4);
    assert_eq!(body["window"], "5m");
    assert_eq!(body["filter"], json!({"model": "support-model"}));
    assert_eq!(body["started_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), firing_at);
    assert_eq!(body["resolved_at"], Value::Null);
    let body = &plain[2].0;
    assert_eq!((body["state"].as_str(), body["value"].as_f64()), (Some("resolved"), Some(0.0)));
    assert_eq!(body["started_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), firing_at);
    assert_eq!(body["resolved_at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), resolved_at);

    // The history: both transitions, each delivery attempt with its answer.
    let history = gantry_core::alerts::history(store.as_ref(), None, 10).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![AlertEventKind::Resolved, AlertEventKind::Firing]);
    let attempts = |kind: AlertEventKind, webhook: &str| -> Vec<(u32, Option<u16>, DeliveryOutcome)> {
        let event = history.iter().find(|e| e.kind == kind).unwrap();
        event.deliveries.iter().filter(|d| d.webhook == webhook).map(|d| (d.attempt, d.status, d.outcome)).collect()
    };
    assert_eq!(
        attempts(AlertEventKind::Firing, "chat"),
        vec![(1, Some(500), DeliveryOutcome::Retrying), (2, Some(200), DeliveryOutcome::Delivered)]
    );
    assert_eq!(
        attempts(AlertEventKind::Firing, "plain"),
        vec![(1, Some(503), DeliveryOutcome::Retrying), (2, Some(200), DeliveryOutcome::Delivered)]
    );
    assert_eq!(attempts(AlertEventKind::Resolved, "chat"), vec![(1, Some(200), DeliveryOutcome::Delivered)]);
    assert_eq!(attempts(AlertEventKind::Resolved, "plain"), vec![(1, Some(200), DeliveryOutcome::Delivered)]);
    let failed = history[1].deliveries.iter().find(|d| d.webhook == "chat").unwrap();
    assert_eq!(failed.error.as_deref(), Some("the webhook answered 500 Internal Server Error"));
}

#[tokio::test]
async fn a_webhook_that_refuses_is_not_retried_and_a_dead_one_is_retried_then_given_up() {
    let (base, _receiver) = start_receiver().await;
    // Nothing listens on a port just released.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let config = validate(
        parse(&format!(
            r#"
            [alerting]
            retries = 2
            backoff_base_ms = 5
            backoff_max_ms = 20
            [alerting.webhooks.noauth]
            url = "{base}/json"
            [alerting.webhooks.dead]
            url = "{dead}"
            [[alerts]]
            name = "volume"
            metric = "requests"
            op = ">="
            threshold = 0
            webhooks = ["noauth", "dead"]
            "#
        ))
        .unwrap(),
        Overrides::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    let now = Utc::now();
    let deliveries = gantry_core::alerts::send_test(store.as_ref(), &config.alerting, "volume", now).await.unwrap();
    let outcomes: Vec<_> = deliveries.iter().map(|d| (d.webhook.as_str(), d.outcome)).collect();
    assert_eq!(outcomes, vec![("noauth", DeliveryOutcome::Failed), ("dead", DeliveryOutcome::Failed)]);

    let history = gantry_core::alerts::history(store.as_ref(), Some("volume"), 5).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, AlertEventKind::Test);
    let of = |webhook: &str| -> Vec<(u32, Option<u16>, DeliveryOutcome)> {
        history[0]
            .deliveries
            .iter()
            .filter(|d| d.webhook == webhook)
            .map(|d| (d.attempt, d.status, d.outcome))
            .collect()
    };
    // 503 (retried), then 401: a refusal is final.
    assert_eq!(of("noauth"), vec![(1, Some(503), DeliveryOutcome::Retrying), (2, Some(401), DeliveryOutcome::Failed)]);
    // No answer at all: the first try and two retries.
    assert_eq!(
        of("dead"),
        vec![
            (1, None, DeliveryOutcome::Retrying),
            (2, None, DeliveryOutcome::Retrying),
            (3, None, DeliveryOutcome::Failed)
        ]
    );
    let error = history[0].deliveries.iter().find(|d| d.webhook == "dead").unwrap().error.clone().unwrap();
    assert_eq!(error, "could not connect");
    assert!(gantry_core::alerts::send_test(store.as_ref(), &config.alerting, "nope", now).await.is_err());
}
