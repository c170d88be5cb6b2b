//! Alerts in a running server: calls through the gateway fail upstream, the background loop
//! fires an error-rate rule, a local webhook receiver refuses the first delivery and takes the
//! retry, and `/api/alerts` and `/api/alerts/history` show the state and every attempt.

use crate::*;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use std::sync::{Arc, Mutex};

/// Every body the receiver got, with the status it answered: 500 first, then 200.
type Seen = Arc<Mutex<Vec<(u16, Value)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|State(seen): State<Seen>, axum::Json(body): axum::Json<Value>| async move {
                let mut seen = seen.lock().unwrap();
                let status = if seen.is_empty() { AxumStatus::INTERNAL_SERVER_ERROR } else { AxumStatus::OK };
                seen.push((status.as_u16(), body));
                status
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_failing_upstream_fires_an_alert_delivered_after_a_retry() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "upstream is down")]).await;
    let (hook, seen) = receiver().await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        &format!(
            r#"
            [[models]]
            name = "gpt"
            targets = [{{ provider = "oa", model = "gpt-4o-mini" }}]
            routing = {{ retries = 0 }}

            [alerting]
            interval_s = 1
            backoff_base_ms = 10
            [alerting.webhooks.ops]
            url = "{hook}"
            format = "json"

            [[alerts]]
            name = "gpt errors"
            metric = "error_rate"
            model = "gpt"
            op = ">"
            threshold = 0.5
            window = "15m"
            webhooks = ["ops"]
            "#
        ),
    ))
    .await;
    let (status, body) = server.get("/api/alerts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["name"], "gpt errors");
    assert_eq!(body["data"][0]["filter"], json!({"model": "gpt"}));
    for _ in 0..3 {
        let response = server.chat(&json!({"model": "gpt", "messages": user("hi")})).await;
        assert!(response.status().is_server_error());
    }

    let deadline = Instant::now() + WAIT;
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no delivery within {WAIT:?}: {:?}", seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = server.get("/api/alerts").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rule = &body["data"][0];
    assert_eq!((rule["state"].as_str(), rule["value"].as_f64()), (Some("firing"), Some(1.0)), "{rule}");

    let deadline = Instant::now() + WAIT;
    let firing = loop {
        let (status, body) = server.get("/api/alerts/history?rule=gpt%20errors").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let firing = body["data"].as_array().unwrap().iter().find(|e| e["kind"] == "firing").cloned();
        if let Some(firing) = firing.filter(|f| f["deliveries"].as_array().unwrap().len() == 2) {
            break firing;
        }
        assert!(Instant::now() < deadline, "the deliveries were not recorded: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let attempts: Vec<(u64, u64, &str)> = firing["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["status"].as_u64().unwrap(), d["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(attempts, vec![(1, 500, "retrying"), (2, 200, "delivered")]);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one notification while firing: {seen:?}");
    let body = &seen[1].1;
    assert_eq!((body["alert"].as_str(), body["state"].as_str()), (Some("gpt errors"), Some("firing")));
    assert_eq!((body["value"].as_f64(), body["threshold"].as_f64()), (Some(1.0), Some(0.5)));

    let (status, body) = server.get("/api/alerts/history?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(openai_error(&body)["param"], "limit");
    let response = server.post("/api/alerts/nope/test", &json!({})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(openai_error(&body)["code"], "alert_rule_not_found");
    server.shutdown().await;
}
