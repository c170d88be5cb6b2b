//! The dashboard, objectives and Prometheus metrics after real calls through the gateway to a
//! mock OpenAI upstream: plain, streamed, failed upstream, unknown model.

use crate::*;

fn config(mock: &MockUpstream) -> String {
    mock_config(
        &[("oa", mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o-mini" }]
        routing = { retries = 0 }

        [prices."gpt-4o-mini"]
        input_per_mtok = 1000.0
        output_per_mtok = 2000.0

        [[objectives]]
        name = "gpt is fast"
        metric = "latency_p95_ms"
        target = 60000
        window = "1h"
        model = "gpt"

        [[objectives]]
        name = "few errors"
        metric = "error_rate"
        target = 0.01

        [[objectives]]
        name = "users are happy"
        metric = "feedback_avg"
        feedback = "thumbs"
        target = 0.5
        window = "7d"
        "#,
    )
}

/// Polls `/metrics` until `series` reads `value`; returns the whole text.
async fn metrics_when(server: &TestServer, series: &str, value: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let response = server.http.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        let text = response.text().await.unwrap();
        if sample(&text, series) == Some(value) {
            return text;
        }
        assert!(Instant::now() < deadline, "{series} never read {value}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of one series in Prometheus text.
fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
}

#[tokio::test]
async fn dashboard_objectives_and_metrics_count_real_calls() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Paris is nice.", 8, 2)]).await;
    let server = TestServer::start(&config(&mock)).await;
    let mut traces = Vec::new();
    for _ in 0..3 {
        let response = server.chat(&json!({"model": "gpt", "messages": user("Capital of France?")})).await;
        assert_eq!(response.status(), StatusCode::OK);
        traces.push(trace_id(&response));
    }
    let response = server
        .chat(&json!({"model": "gpt", "messages": user("Again"), "stream": true,
                      "stream_options": {"include_usage": true}}))
        .await;
    traces.push(trace_id(&response));
    assert_eq!(joined_text(&stream_chunks(response).await), "Paris is nice.");
    mock.set_script(vec![Reply::error(500, "upstream broke")]);
    let response = server.chat(&json!({"model": "gpt", "messages": user("Fail")})).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    traces.push(trace_id(&response));
    let response = server.chat(&json!({"model": "a-model-nobody-configured", "messages": user("Hi")})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    traces.push(trace_id(&response));
    for id in &traces {
        server.trace(id).await;
    }
    let (status, _) = server.get(&format!("/api/traces/{}", traces[0])).await;
    assert_eq!(status, StatusCode::OK);
    let thumbs = json!({"name": "thumbs", "value": true});
    let response = server.post(&format!("/api/traces/{}/feedback", traces[0]), &thumbs).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The dashboard.
    let (status, d) = server.get("/api/analytics/dashboard?window=1h&buckets=12").await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!((d["bucket_seconds"].as_u64(), d["series"].as_array().unwrap().len()), (Some(300), 12));
    let s = &d["summary"];
    assert_eq!((s["requests"].as_u64(), s["errors"].as_u64()), (Some(6), Some(2)), "{s}");
    assert!((s["error_rate"].as_f64().unwrap() - 2.0 / 6.0).abs() < 1e-12);
    assert_eq!((s["prompt_tokens"].as_u64(), s["completion_tokens"].as_u64()), (Some(32), Some(8)), "{s}");
    // 8 prompt tokens at $1000/M and 2 completion tokens at $2000/M: $0.012 a call.
    assert!((s["cost_usd"].as_f64().unwrap() - 0.048).abs() < 1e-9, "{s}");
    assert!(s["latency_p95_ms"].as_f64().unwrap() > 0.0 && s["ttft_p50_ms"].as_f64().unwrap() > 0.0, "{s}");
    let last = d["series"].as_array().unwrap().last().unwrap();
    assert_eq!(last["requests"], 6, "every call is in the last five minutes: {d}");
    let top: Vec<(String, u64)> = d["top_models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(top, vec![("gpt".to_string(), 5), ("a-model-nobody-configured".to_string(), 1)]);
    assert_eq!(d["objectives"].as_array().unwrap().len(), 3);

    let (status, only_gpt) = server.get("/api/analytics/dashboard?window=24h&model=gpt&key=").await;
    assert_eq!(status, StatusCode::OK, "{only_gpt}");
    assert_eq!((only_gpt["summary"]["requests"].as_u64(), only_gpt["series"].as_array().unwrap().len()), (Some(5), 60));
    for (query, param) in
        [("window=yesterday", "window"), ("window=0h", "window"), ("buckets=0", "buckets"), ("buckets=x", "buckets")]
    {
        let (status, body) = server.get(&format!("/api/analytics/dashboard?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(openai_error(&body)["param"], param, "{body}");
    }

    // The objectives.
    let (status, body) = server.get("/api/objectives").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gpt is fast", "few errors", "users are happy"]);
    assert_eq!(
        (data[0]["met"].as_bool(), data[0]["model"].as_str(), data[0]["window"].as_str()),
        (Some(true), Some("gpt"), Some("1h"))
    );
    assert_eq!((data[1]["met"].as_bool(), data[1]["window"].as_str()), (Some(false), Some("24h")));
    assert!((data[1]["value"].as_f64().unwrap() - 2.0 / 6.0).abs() < 1e-12);
    assert_eq!((data[1]["trend"].as_str(), data[1]["previous_value"].clone()), (Some("unknown"), Value::Null));
    assert_eq!(
        (data[2]["value"].as_f64(), data[2]["met"].as_bool(), data[2]["direction"].as_str()),
        (Some(1.0), Some(true), Some("at_least"))
    );

    // The metrics.
    let text = metrics_when(&server, "gantry_traces_written_total", "6").await;
    let ok = r#"gantry_requests_total{model="gpt",provider="oa",status="ok"}"#;
    assert_eq!(sample(&text, ok), Some("4"), "{text}");
    assert_eq!(sample(&text, r#"gantry_requests_total{model="gpt",provider="oa",status="error"}"#), Some("1"));
    assert_eq!(sample(&text, r#"gantry_requests_total{model="unknown",provider="none",status="error"}"#), Some("1"));
    assert!(!text.contains("a-model-nobody-configured"), "client strings never become labels");
    assert_eq!(
        sample(&text, r#"gantry_request_errors_total{model="unknown",provider="none",code="model_not_found"}"#),
        Some("1")
    );
    assert_eq!(sample(&text, r#"gantry_tokens_total{model="gpt",provider="oa",kind="prompt"}"#), Some("32"));
    assert_eq!(sample(&text, r#"gantry_tokens_total{model="gpt",provider="oa",kind="completion"}"#), Some("8"));
    let cost: f64 = sample(&text, r#"gantry_cost_usd_total{model="gpt",provider="oa"}"#).unwrap().parse().unwrap();
    assert!((cost - 0.048).abs() < 1e-9, "{cost}");
    assert_eq!(sample(&text, r#"gantry_request_duration_seconds_count{model="gpt",provider="oa"}"#), Some("5"));
    assert_eq!(sample(&text, r#"gantry_gateway_overhead_seconds_count{model="gpt",provider="oa"}"#), Some("5"));
    assert_eq!(sample(&text, r#"gantry_time_to_first_token_seconds_count{model="gpt",provider="oa"}"#), Some("1"));
    assert_eq!(sample(&text, "gantry_traces_dropped_total"), Some("0"));
    assert_eq!(sample(&text, "gantry_trace_queue_depth"), Some("0"));
    assert!(text.contains("# TYPE gantry_request_duration_seconds histogram"));
    server.shutdown().await;
}
