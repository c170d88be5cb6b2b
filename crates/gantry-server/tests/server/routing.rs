//! Chat through mock upstreams: answers, streams, fallback, retries, rate limits, timeouts, cancellation.

use crate::*;

#[tokio::test]
async fn non_streamed_chat_is_answered_and_traced() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Hello from the mock", 12, 5)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o-mini" }]
        [prices."gpt-4o-mini"]
        input_per_mtok = 0.15
        output_per_mtok = 0.6
        "#,
    ))
    .await;
    let messages = json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]);
    let response = server.chat(&json!({"model": "gpt", "messages": messages, "temperature": 0.2})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the mock");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"], json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}));

    // The upstream got the upstream model name and the messages unchanged.
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(sent.body["messages"], messages);

    let trace = server.trace(&id).await;
    assert_eq!(trace["id"], id.as_str());
    assert_eq!(trace["kind"], "chat");
    assert_eq!(trace["requested_model"], "gpt");
    assert_eq!(trace["provider"], "oa");
    assert_eq!(trace["upstream_model"], "gpt-4o-mini");
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["http_status"], 200);
    assert_eq!(trace["error"], Value::Null);
    assert_eq!(trace["stream"], false);
    assert_eq!(trace["prompt_tokens"], 12);
    assert_eq!(trace["completion_tokens"], 5);
    assert_eq!(trace["total_tokens"], 17);
    let expected_cost = 12.0 * 0.15 / 1e6 + 5.0 * 0.6 / 1e6;
    assert_eq!(trace["cost_usd"].as_f64(), Some(expected_cost), "{trace}");
    assert!(trace["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(trace["ttft_ms"], Value::Null);
    assert_eq!(trace["finish_reason"], "stop");
    let attempts = trace["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{trace}");
    assert_eq!(attempts[0]["provider"], "oa");
    assert_eq!(attempts[0]["status"], 200);
    assert_eq!(attempts[0]["error"], Value::Null);
    assert_eq!(trace["request"]["messages"], messages);
    assert_eq!(trace["request"]["temperature"].as_f64().map(|t| (t * 10.0).round()), Some(2.0));
    assert_eq!(trace["response"]["role"], "assistant");
    assert_eq!(trace["response"]["content"], "Hello from the mock");
    server.shutdown().await;
}

#[tokio::test]
async fn streamed_chat_passes_chunks_and_usage_only_when_asked() {
    let text = "The quick brown fox jumps over the lazy dog";
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text(text, 7, 9)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-up" }]
        [prices."gpt-up"]
        input_per_mtok = 1.0
        output_per_mtok = 2.0
        "#,
    ))
    .await;

    // With include_usage: the last chunk alone carries usage, with no choices.
    let response = server
        .chat(
            &json!({"model": "gpt", "messages": user("hi"), "stream": true, "stream_options": {"include_usage": true}}),
        )
        .await;
    let with_usage_id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert!(chunks.len() > 3, "{chunks:?}");
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], json!({"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}));
    assert!(rest.iter().all(|c| !has_usage(c)), "usage before the final chunk: {rest:?}");
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(joined_text(&chunks), text);

    // Without it: no chunk carries usage, though the gateway still asked the upstream for it.
    let response = server.chat(&json!({"model": "gpt", "messages": user("hi"), "stream": true})).await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert!(chunks.iter().all(|c| !has_usage(c)), "{chunks:?}");
    assert!(chunks.iter().all(|c| !c["choices"].as_array().unwrap().is_empty()), "{chunks:?}");
    assert_eq!(joined_text(&chunks), text);
    assert_eq!(mock.requests()[1].body["stream_options"]["include_usage"], true);

    for id in [with_usage_id, id] {
        let trace = server.trace(&id).await;
        assert_eq!(trace["status"], "ok");
        assert_eq!(trace["stream"], true);
        assert_eq!(trace["prompt_tokens"], 7, "{trace}");
        assert_eq!(trace["completion_tokens"], 9);
        assert_eq!(trace["total_tokens"], 16);
        assert_eq!(trace["cost_usd"].as_f64(), Some(7.0 * 1.0 / 1e6 + 9.0 * 2.0 / 1e6));
        let ttft = trace["ttft_ms"].as_f64().unwrap();
        let latency = trace["latency_ms"].as_f64().unwrap();
        assert!(ttft > 0.0 && ttft <= latency, "ttft {ttft} latency {latency}");
        assert_eq!(trace["response"]["content"], text);
        assert_eq!(trace["finish_reason"], "stop");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn failing_target_falls_back_to_the_next_after_retries() {
    let openai = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "the GPUs are on fire")]).await;
    let anthropic = MockUpstream::start(Flavor::Anthropic, vec![Reply::text("Claude here", 9, 3)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &openai), ("an", &anthropic)],
        r#"
        [[models]]
        name = "smart"
        targets = [{ provider = "oa", model = "gpt-4o" }, { provider = "an", model = "claude-sonnet" }]
        routing = { retries = 1, backoff_base_ms = 1, backoff_max_ms = 5 }
        "#,
    ))
    .await;
    let response = server.chat(&json!({"model": "smart", "messages": user("who are you?")})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Claude here");
    assert_eq!(openai.request_count(), 2, "one try and one retry");
    assert_eq!(anthropic.request_count(), 1);
    assert_eq!(anthropic.requests()[0].body["model"], "claude-sonnet");

    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["provider"], "an");
    assert_eq!(trace["upstream_model"], "claude-sonnet");
    assert_eq!(trace["prompt_tokens"], 9);
    assert_eq!(trace["completion_tokens"], 3);
    let attempts = trace["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{trace}");
    for failed in &attempts[..2] {
        assert_eq!(failed["provider"], "oa");
        assert_eq!(failed["upstream_model"], "gpt-4o");
        assert_eq!(failed["status"], 500);
        let error = failed["error"].as_str().unwrap();
        assert!(error.contains("500") && error.contains("the GPUs are on fire"), "{error}");
    }
    assert_eq!(attempts[2]["provider"], "an");
    assert_eq!(attempts[2]["status"], 200);
    assert_eq!(attempts[2]["error"], Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_passed_on_with_retry_after_or_waited_out() {
    let mock = MockUpstream::start(
        Flavor::OpenAi,
        vec![Reply::Error { status: 429, retry_after: Some("2".into()), message: "slow down".into() }],
    )
    .await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "strict"
        targets = [{ provider = "oa", model = "gpt-4o" }]
        routing = { retries = 0 }

        [[models]]
        name = "patient"
        targets = [{ provider = "oa", model = "gpt-4o" }]
        routing = { retries = 2, backoff_base_ms = 1, total_timeout_ms = 60000 }

        [[models]]
        name = "hurried"
        targets = [{ provider = "oa", model = "gpt-4o" }]
        routing = { retries = 3, backoff_base_ms = 1, total_timeout_ms = 5000 }
        "#,
    ))
    .await;

    // No retries: the client gets the 429 with the upstream's wait.
    let response = server.chat(&json!({"model": "strict", "messages": user("hi")})).await;
    let id = trace_id(&response);
    assert_eq!(response.headers()["retry-after"], "2");
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(error["message"].as_str().unwrap().contains("slow down"), "{error}");
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["http_status"], 429);
    assert_eq!(trace["error"]["code"], "rate_limit_exceeded");
    assert_eq!(trace["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(trace["attempts"][0]["status"], 429);

    // A Retry-After longer than the time left is not waited for: the 429 comes back at once.
    mock.set_script(vec![Reply::Error { status: 429, retry_after: Some("30".into()), message: "later".into() }]);
    let before = mock.request_count();
    let started = Instant::now();
    let response = server.chat(&json!({"model": "hurried", "messages": user("hi")})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(mock.request_count(), before + 1, "no retry when the wait exceeds the 5 s budget");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // With retries and room in the budget, the wait is honoured and the retry succeeds.
    mock.set_script(vec![
        Reply::Error { status: 429, retry_after: Some("1".into()), message: "one moment".into() },
        Reply::text("worth the wait", 3, 3),
    ]);
    let started = Instant::now();
    let response = server.chat(&json!({"model": "patient", "messages": user("hi")})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(1000), "Retry-After: 1 was not honoured");
    let trace = server.trace(&trace_id(&response)).await;
    let attempts = trace["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{trace}");
    assert_eq!(attempts[0]["status"], 429);
    assert_eq!(attempts[1]["status"], 200);
    let t0 = chrono::DateTime::parse_from_rfc3339(attempts[0]["started_at"].as_str().unwrap()).unwrap();
    let t1 = chrono::DateTime::parse_from_rfc3339(attempts[1]["started_at"].as_str().unwrap()).unwrap();
    assert!((t1 - t0).num_milliseconds() >= 1000, "retried after {} ms", (t1 - t0).num_milliseconds());
    server.shutdown().await;
}

#[tokio::test]
async fn slow_upstreams_time_out_and_streams_fall_back_before_the_first_token() {
    let slow = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("too late", 1, 1).delayed(10_000)]).await;
    let hanging = MockUpstream::start(Flavor::OpenAi, vec![Reply::Hang]).await;
    let backup = MockUpstream::start(Flavor::Anthropic, vec![Reply::text("backup answer streaming in", 4, 5)]).await;
    let server = TestServer::start(&mock_config(
        &[("slow", &slow), ("hanging", &hanging), ("backup", &backup)],
        r#"
        [[models]]
        name = "sluggish"
        targets = [{ provider = "slow", model = "m" }]
        routing = { retries = 0, attempt_timeout_ms = 300 }

        [[models]]
        name = "streamer"
        targets = [{ provider = "hanging", model = "m" }, { provider = "backup", model = "claude" }]
        routing = { retries = 0, attempt_timeout_ms = 60000, ttft_timeout_ms = 300 }
        "#,
    ))
    .await;

    let started = Instant::now();
    let response = server.chat(&json!({"model": "sluggish", "messages": user("hi")})).await;
    let id = trace_id(&response);
    let (status, error) = error_of(response).await;
    assert!(started.elapsed() < Duration::from_secs(10), "the attempt timeout did not cut the wait");
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(error["code"], "timeout");
    assert_eq!(error["type"], "upstream_error");
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["http_status"], 504);
    assert_eq!(trace["error"]["code"], "timeout");
    assert_eq!(trace["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(trace["attempts"][0]["status"], Value::Null);
    assert!(trace["attempts"][0]["error"].as_str().unwrap().contains("300 ms"), "{trace}");

    // No first token within ttft_timeout (the first target sends not even headers): the
    // stream comes from the second target, long before the attempt timeout.
    let started = Instant::now();
    let response = server
        .chat(&json!({"model": "streamer", "messages": user("hi"), "stream": true, "stream_options": {"include_usage": true}}))
        .await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert!(started.elapsed() < Duration::from_secs(30), "ttft_timeout was not applied: {:?}", started.elapsed());
    assert_eq!(joined_text(&chunks), "backup answer streaming in");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);
    assert_eq!(hanging.request_count(), 1);
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["provider"], "backup");
    let attempts = trace["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{trace}");
    assert_eq!(attempts[0]["provider"], "hanging");
    assert!(attempts[0]["error"].as_str().unwrap().contains("first token"), "{trace}");
    assert_eq!(attempts[1]["status"], 200);
    assert!(trace["ttft_ms"].as_f64().unwrap() >= 300.0, "ttft counts from the client's request: {trace}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_stream_that_breaks_after_the_first_token_is_not_retried_elsewhere() {
    let flaky =
        MockUpstream::start(Flavor::OpenAi, vec![Reply::StreamStall { first_text: "Partial".into(), stall_ms: 50 }])
            .await;
    let backup = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("never used", 1, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("flaky", &flaky), ("backup", &backup)],
        r#"
        [[models]]
        name = "m"
        targets = [{ provider = "flaky", model = "a" }, { provider = "backup", model = "b" }]
        routing = { retries = 2, backoff_base_ms = 1 }
        "#,
    ))
    .await;
    let response = server.chat(&json!({"model": "m", "messages": user("hi"), "stream": true})).await;
    assert_eq!(response.status(), StatusCode::OK, "the stream had started");
    let id = trace_id(&response);
    let payloads = sse_payloads(&response.text().await.unwrap());
    assert!(!payloads.iter().any(|p| p == "[DONE]"), "a failed stream ends without [DONE]: {payloads:?}");
    let (last, chunks) = payloads.split_last().unwrap();
    let chunks: Vec<Value> = chunks.iter().map(|p| serde_json::from_str(p).unwrap()).collect();
    assert_eq!(joined_text(&chunks), "Partial");
    let error_event: Value = serde_json::from_str(last).unwrap();
    let error = openai_error(&error_event);
    assert_eq!(error["type"], "upstream_error", "{error}");
    assert_eq!(flaky.request_count(), 1, "no retry once output reached the client");
    assert_eq!(backup.request_count(), 0, "no fallback once output reached the client");

    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["provider"], "flaky");
    assert_eq!(trace["error"]["code"], error["code"]);
    assert_eq!(trace["response"]["content"], "Partial");
    assert_eq!(trace["attempts"].as_array().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    let mock = MockUpstream::start(
        Flavor::OpenAi,
        vec![Reply::StreamStall { first_text: "Once upon".into(), stall_ms: 120_000 }],
    )
    .await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "m"
        targets = [{ provider = "oa", model = "storyteller" }]
        "#,
    ))
    .await;
    let mut response = server.chat(&json!({"model": "m", "messages": user("tell me a story"), "stream": true})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let mut seen = String::new();
    while !seen.contains("Once upon") {
        let chunk = tokio::time::timeout(WAIT, response.chunk()).await.expect("first chunk in time").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("stream ended before the first text")));
    }
    drop(response);
    tokio::time::timeout(WAIT, mock.wait_for_disconnects(1)).await.expect("the upstream request was not cancelled");
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "cancelled", "{trace}");
    assert_eq!(trace["error"]["code"], "client_disconnected");
    assert_eq!(trace["response"]["content"], "Once upon");
    assert_eq!(trace["stream"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn split_utf8_and_streamed_tool_calls_reach_the_client_intact() {
    let text = "Prix : 5 € — naïve 😀 fin";
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-raw", "object": "chat.completion.chunk", "created": 1, "model": "raw",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut body = chunk(json!({"role": "assistant", "content": text}), Value::Null);
    body.push_str(&chunk(json!({}), json!("stop")));
    body.push_str("data: [DONE]\n\n");
    let bytes = body.into_bytes();
    let euro = bytes.windows(3).position(|w| w == "€".as_bytes()).unwrap();
    let emoji = bytes.windows(4).position(|w| w == "😀".as_bytes()).unwrap();
    // Cut inside the three-byte € and inside the four-byte emoji.
    let raw = vec![bytes[..euro + 1].to_vec(), bytes[euro + 1..emoji + 2].to_vec(), bytes[emoji + 2..].to_vec()];
    let arguments = r#"{"city":"Zürich","days":3,"units":"metric"}"#;
    let mock =
        MockUpstream::start(Flavor::OpenAi, vec![Reply::RawSse(raw), Reply::tool_call("get_forecast", arguments)])
            .await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "m"
        targets = [{ provider = "oa", model = "gpt" }]
        "#,
    ))
    .await;

    let response = server.chat(&json!({"model": "m", "messages": user("price?"), "stream": true})).await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert_eq!(joined_text(&chunks), text);
    assert_eq!(server.trace(&id).await["response"]["content"], text);

    let tools = json!([{"type": "function", "function": {"name": "get_forecast", "parameters": {"type": "object"}}}]);
    let response =
        server.chat(&json!({"model": "m", "messages": user("weather?"), "tools": tools, "stream": true, "stream_options": {"include_usage": true}})).await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    let (mut call_id, mut name, mut args) = (String::new(), String::new(), String::new());
    let mut argument_pieces = 0;
    for c in &chunks {
        for delta in c["choices"].get(0).and_then(|ch| ch["delta"]["tool_calls"].as_array()).into_iter().flatten() {
            assert_eq!(delta["index"], 0);
            call_id.push_str(delta["id"].as_str().unwrap_or(""));
            name.push_str(delta["function"]["name"].as_str().unwrap_or(""));
            if let Some(piece) = delta["function"]["arguments"].as_str().filter(|p| !p.is_empty()) {
                args.push_str(piece);
                argument_pieces += 1;
            }
        }
    }
    assert!(argument_pieces > 1, "arguments were not streamed in pieces");
    assert!(call_id.starts_with("call_"), "{call_id}");
    assert_eq!(name, "get_forecast");
    let parsed: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(parsed, serde_json::from_str::<Value>(arguments).unwrap());
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).map(|ch| &ch["finish_reason"]))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&json!("tool_calls")]);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], TOOL_CALL_PROMPT_TOKENS);
    assert_eq!(usage["completion_tokens"], TOOL_CALL_COMPLETION_TOKENS);
    assert_eq!(mock.requests()[1].body["tools"], tools);

    let trace = server.trace(&id).await;
    assert_eq!(trace["finish_reason"], "tool_calls");
    let traced_call = &trace["response"]["tool_calls"][0];
    assert_eq!(traced_call["id"], call_id.as_str());
    assert_eq!(traced_call["function"]["name"], "get_forecast");
    assert_eq!(traced_call["function"]["arguments"], arguments);
    server.shutdown().await;
}
