#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The whole server end to end: `gantry_core::Service` behind `gantry_server::serve` on
//! 127.0.0.1:0, mock OpenAI and Anthropic upstreams from `gantry-testkit`, the embedded engine
//! on tiny generated models, and the real SmolLM2/MiniLM when `GANTRY_TEST_MODELS_DIR` holds them.

use base64::Engine;
use gantry_core::config::{parse, validate};
use gantry_core::{Overrides, Progress, Service};
use gantry_testkit::{Flavor, MockUpstream, Reply, TOOL_CALL_COMPLETION_TOKENS, TOOL_CALL_PROMPT_TOKENS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bound on waiting for anything asynchronous (a trace to be written, a disconnect to be seen).
const WAIT: Duration = Duration::from_secs(20);
const TRACE_HEADER: &str = "x-gantry-trace-id";

/// A running server, its service and its data directory.
struct TestServer {
    base: String,
    http: reqwest::Client,
    data_dir: tempfile::TempDir,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    service: Service,
}

impl TestServer {
    /// Validates `toml` (with a fresh data directory), starts the service and serves it.
    async fn start(toml: &str) -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        let raw = parse(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let config = validate(raw, Overrides { data_dir: Some(data_dir.path().to_path_buf()), ..Overrides::default() })
            .unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let service = Service::start(&config, Progress::Quiet).await.unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gantry_server::serve(listener, service.gateway.clone(), async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
        TestServer { base, http, data_dir, stop, task, service }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(body).send().await.unwrap()
    }

    async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// The trace `id`, polled until the writer has committed it.
    async fn trace(&self, id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(&format!("/api/traces/{id}")).await;
            if status == StatusCode::OK {
                return body;
            }
            assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
            assert!(Instant::now() < deadline, "trace {id} was not written within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops accepting requests, waits for open ones, drains the trace queue; returns the
    /// data directory.
    async fn shutdown(self) -> tempfile::TempDir {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("server stops").unwrap().unwrap();
        tokio::time::timeout(WAIT, self.service.shutdown()).await.expect("trace writer drains in time");
        self.data_dir
    }
}

/// `[providers.NAME]` for a mock.
fn provider(name: &str, mock: &MockUpstream) -> String {
    let kind = match mock.flavor() {
        Flavor::OpenAi => "openai",
        Flavor::Anthropic => "anthropic",
    };
    format!("[providers.{name}]\ntype = \"{kind}\"\nbase_url = \"{}\"\n", mock.base_url())
}

/// A config without the embedded engine, the given providers and the rest as written.
fn mock_config(providers: &[(&str, &MockUpstream)], rest: &str) -> String {
    let mut toml = String::from("[local]\nenabled = false\n\n");
    for (name, mock) in providers {
        toml.push_str(&provider(name, mock));
        toml.push('\n');
    }
    toml.push_str(rest);
    toml
}

fn trace_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(TRACE_HEADER)
        .unwrap_or_else(|| panic!("no {TRACE_HEADER} header on {response:?}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// Checks an OpenAI error body and returns its `error` object.
fn openai_error(body: &Value) -> &Value {
    let error = body.get("error").unwrap_or_else(|| panic!("not an OpenAI error body: {body}"));
    for field in ["message", "type"] {
        assert!(error[field].as_str().is_some_and(|s| !s.is_empty()), "error.{field} missing: {body}");
    }
    assert!(error.get("param").is_some() && error.get("code").is_some(), "param/code missing: {body}");
    error
}

/// Status and OpenAI error object of a failed response.
async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, openai_error(&body).clone())
}

/// The `data:` payloads of an SSE body, in order.
fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|event| !event.is_empty())
        .map(|event| event.strip_prefix("data: ").unwrap_or_else(|| panic!("not a data event: {event:?}")).to_string())
        .collect()
}

/// A streamed response's chunks, with the check that it ended with `[DONE]`.
async fn stream_chunks(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let payloads = sse_payloads(&response.text().await.unwrap());
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"), "{payloads:?}");
    payloads[..payloads.len() - 1].iter().map(|p| serde_json::from_str(p).unwrap()).collect()
}

/// The text the chunks spell out.
fn joined_text(chunks: &[Value]) -> String {
    chunks.iter().filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str().map(str::to_string)).collect()
}

fn has_usage(chunk: &Value) -> bool {
    chunk.get("usage").is_some_and(|u| !u.is_null())
}

// ---------------------------------------------------------------------------------------

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

#[tokio::test]
async fn bad_requests_get_openai_errors_naming_the_parameter() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o" }]

        [[models]]
        name = "embed"
        kind = "embeddings"
        targets = [{ provider = "oa", model = "text-embedding-3-small" }]
        "#,
    ))
    .await;
    let raw = |body: &'static str| {
        server
            .http
            .post(server.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let (status, error) = error_of(raw(r#"{"model": "gpt", "messages": ["#).await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")), "{error}");
    assert_eq!(error["type"], "invalid_request_error");
    let (status, error) = error_of(raw("").await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")), "{error}");

    let (status, error) = error_of(raw(r#"{"model":"x"}"#).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("messages"), "{error}");

    let cases = [
        (json!({"model": "gpt", "messages": []}), "messages"),
        (json!({"model": "gpt", "messages": [{"role": "wizard", "content": "abracadabra"}]}), "messages[0].role"),
        (json!({"model": "gpt", "messages": user("hi"), "temperature": 5}), "temperature"),
        (json!({"model": "gpt", "messages": user("hi"), "n": 2}), "n"),
        (json!({"model": "gpt", "messages": user("hi"), "top_p": 1.5}), "top_p"),
        (json!({"model": "gpt", "messages": user("hi"), "max_tokens": 0}), "max_tokens"),
        (json!({"model": "gpt", "messages": user("hi"), "stream_options": {"include_usage": true}}), "stream_options"),
        (json!({"model": "gpt", "messages": [{"role": "tool", "content": "42"}]}), "messages[0].tool_call_id"),
    ];
    for (body, param) in cases {
        let (status, error) = error_of(server.chat(&body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{body}: {error}");
        assert_eq!(error["param"], param, "{body}: {error}");
    }
    let (status, error) = error_of(server.post("/v1/embeddings", &json!({"model": "embed", "input": ""})).await).await;
    assert_eq!((status, error["param"].as_str()), (StatusCode::BAD_REQUEST, Some("input")), "{error}");

    // An unknown model is a 404, and traced.
    let response = server.chat(&json!({"model": "gpt-17", "messages": user("hi")})).await;
    let id = trace_id(&response);
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
    assert!(error["message"].as_str().unwrap().contains("gpt-17"));
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["http_status"], 404);
    assert_eq!(trace["requested_model"], "gpt-17");
    assert_eq!(trace["error"]["code"], "model_not_found");
    assert_eq!(trace["attempts"], json!([]));

    // The wrong kind of model, either way round.
    let (status, error) = error_of(server.chat(&json!({"model": "embed", "messages": user("hi")})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("wrong_model_kind")), "{error}");
    let (status, error) = error_of(server.post("/v1/embeddings", &json!({"model": "gpt", "input": "hi"})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("wrong_model_kind")), "{error}");

    // Wrong method and unknown path.
    let (status, error) = error_of(server.http.get(server.url("/v1/chat/completions")).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{error}"
    );
    let (status, error) = error_of(server.http.get(server.url("/v1/nothing/here")).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_url")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("/v1/nothing/here"));

    assert_eq!(mock.request_count(), 0, "no bad request reached the upstream");
    server.shutdown().await;
}

#[tokio::test]
async fn models_and_health_endpoints() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o" }]

        [[models]]
        name = "embed"
        kind = "embeddings"
        targets = [{ provider = "oa", model = "text-embedding-3-small" }]
        "#,
    ))
    .await;
    let (status, list) = server.get("/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["gpt", "embed"]);
    for model in list["data"].as_array().unwrap() {
        assert_eq!(model["object"], "model");
        assert_eq!(model["owned_by"], "oa");
        assert!(model["created"].as_i64().unwrap() > 1_600_000_000);
    }
    let (status, model) = server.get("/v1/models/embed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(model["id"], "embed");
    let (status, body) = server.get("/v1/models/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(openai_error(&body)["code"], "model_not_found");

    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = server.get("/readyz").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ready")), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn trace_list_filters_and_rejects_bad_parameters() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 2, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "a"
        targets = [{ provider = "oa", model = "up-a" }]

        [[models]]
        name = "b"
        targets = [{ provider = "oa", model = "up-b" }]
        "#,
    ))
    .await;
    // Oldest first: a ok, b ok, a error (bad temperature), a ok.
    let mut ids = Vec::new();
    for (model, temperature) in [("a", 1.0), ("b", 1.0), ("a", 5.0), ("a", 1.0)] {
        let response = server.chat(&json!({"model": model, "messages": user("hi"), "temperature": temperature})).await;
        ids.push(trace_id(&response));
    }
    let mut started = Vec::new();
    for id in &ids {
        started.push(server.trace(id).await["started_at"].as_str().unwrap().to_string());
    }
    let newest_first = |picks: &[usize]| picks.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    let list = |query: Vec<(&'static str, String)>| {
        let request = server.http.get(server.url("/api/traces")).query(&query);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let listed = |body: &Value| -> Vec<String> {
        assert_eq!(body["object"], "list");
        body["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };

    let (status, body) = list(vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&body), newest_first(&[3, 2, 1, 0]));
    assert_eq!(listed(&list(vec![("limit", "2".into())]).await.1), newest_first(&[3, 2]));
    assert_eq!(listed(&list(vec![("model", "a".into())]).await.1), newest_first(&[3, 2, 0]));
    assert_eq!(listed(&list(vec![("model", "b".into())]).await.1), newest_first(&[1]));
    assert_eq!(listed(&list(vec![("model", "zzz".into())]).await.1), Vec::<String>::new());
    assert_eq!(listed(&list(vec![("status", "error".into())]).await.1), newest_first(&[2]));
    assert_eq!(listed(&list(vec![("status", "cancelled".into())]).await.1), Vec::<String>::new());
    assert_eq!(listed(&list(vec![("model", "a".into()), ("status", "ok".into())]).await.1), newest_first(&[3, 0]));
    assert_eq!(listed(&list(vec![("since", started[1].clone())]).await.1), newest_first(&[3, 2, 1]));
    assert_eq!(listed(&list(vec![("since", started[1].clone()), ("limit", "1".into())]).await.1), newest_first(&[3]));
    assert_eq!(listed(&list(vec![("since", "0".into())]).await.1).len(), 4);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).timestamp().to_string();
    assert_eq!(listed(&list(vec![("since", tomorrow)]).await.1), Vec::<String>::new());

    for (name, value) in
        [("status", "bogus"), ("limit", "0"), ("limit", "-3"), ("limit", "100000"), ("since", "yesterday")]
    {
        let (status, body) = list(vec![(name, value.to_string())]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value}: {body}");
        assert_eq!(openai_error(&body)["param"], name, "{body}");
    }
    let (status, body) = server.get("/api/traces/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(openai_error(&body)["param"], "id");
    let (status, body) = server.get("/api/traces/0190a5c4-1f2e-7000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(openai_error(&body)["code"], "trace_not_found");
    server.shutdown().await;
}

/// A config serving the tiny generated models through the embedded engine.
fn tiny_models(dir: &Path) -> String {
    let chat = dir.join("tiny.gguf");
    let bert = dir.join("tiny-bert");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    local_config(&chat, &bert, 512)
}

fn local_config(chat: &Path, embeddings: &Path, context_size: u32) -> String {
    format!(
        "[local]\nchat_model = {:?}\nembedding_model = {:?}\nthreads = 2\ncontext_size = {context_size}\nmax_concurrent = 2\n",
        chat.display().to_string(),
        embeddings.display().to_string()
    )
}

fn floats(embedding: &Value) -> Vec<f32> {
    embedding.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[tokio::test]
async fn the_embedded_engine_serves_chat_and_embeddings() {
    use gantry_local::testing::{TINY_BERT_DIMENSION, TINY_LLAMA_GREEDY_TEXT, TINY_LLAMA_GREEDY_TOKENS};
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_models(models.path())).await;
    let chat_model = gantry_core::config::DEFAULT_CHAT_MODEL;
    let embedding_model = gantry_core::config::DEFAULT_EMBEDDING_MODEL;
    let (_, list) = server.get("/v1/models").await;
    let owners: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["owned_by"].as_str().unwrap()))
        .collect();
    assert_eq!(owners, vec![(chat_model, "local"), (embedding_model, "local")]);

    let request = json!({"model": chat_model, "messages": user("Hi there"), "temperature": 0});
    let response = server.chat(&request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], TINY_LLAMA_GREEDY_TEXT);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = body["usage"].clone();
    assert_eq!(usage["completion_tokens"], TINY_LLAMA_GREEDY_TOKENS);
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt_tokens > 5, "{usage}");
    let trace = server.trace(&id).await;
    assert_eq!(trace["provider"], "local");
    assert_eq!(trace["completion_tokens"], TINY_LLAMA_GREEDY_TOKENS);
    assert_eq!(trace["prompt_tokens"].as_u64(), Some(prompt_tokens));
    assert_eq!(trace["cost_usd"].as_f64(), Some(0.0));

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let response = server.chat(&streamed).await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert_eq!(joined_text(&chunks), TINY_LLAMA_GREEDY_TEXT, "split UTF-8 tokens rejoined");
    assert_eq!(chunks.last().unwrap()["usage"], usage);
    assert!(chunks[..chunks.len() - 1].iter().all(|c| !has_usage(c)));
    let trace = server.trace(&id).await;
    assert_eq!(trace["stream"], true);
    assert!(trace["ttft_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(trace["total_tokens"], usage["total_tokens"]);

    let inputs = json!(["the cat sat on the mat", "hello world"]);
    let response = server.post("/v1/embeddings", &json!({"model": embedding_model, "input": inputs})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let plain: Value = response.json().await.unwrap();
    assert_eq!(plain["object"], "list");
    let data = plain["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let vectors: Vec<Vec<f32>> = data.iter().map(|d| floats(&d["embedding"])).collect();
    assert!(vectors.iter().all(|v| v.len() == TINY_BERT_DIMENSION));
    assert_ne!(vectors[0], vectors[1]);
    let embed_tokens = plain["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(embed_tokens >= 4, "{plain}");
    let trace = server.trace(&id).await;
    assert_eq!(trace["kind"], "embeddings");
    assert_eq!(trace["prompt_tokens"].as_u64(), Some(embed_tokens));
    assert_eq!(trace["response"], json!({"vectors": 2, "dimensions": TINY_BERT_DIMENSION}));

    let response = server
        .post("/v1/embeddings", &json!({"model": embedding_model, "input": inputs, "encoding_format": "base64"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let encoded: Value = response.json().await.unwrap();
    for (item, expected) in encoded["data"].as_array().unwrap().iter().zip(&vectors) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(item["embedding"].as_str().unwrap()).unwrap();
        let decoded: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(&decoded, expected);
    }
    let trace = server.trace(&id).await;
    assert_eq!(trace["request"]["encoding_format"], "base64");
    assert_eq!(trace["response"]["dimensions"], TINY_BERT_DIMENSION, "dimensions read from the base64 vectors");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_every_queued_trace() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("quick", 3, 1)]).await;
    // A long flush interval keeps the records queued in the writer until shutdown drains it.
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [traces]
        flush_interval_ms = 600000
        batch_size = 1000

        [[models]]
        name = "m"
        targets = [{ provider = "oa", model = "up" }]
        "#,
    ))
    .await;
    let calls = (0..50).map(|i| {
        let server = &server;
        async move {
            let response = server.chat(&json!({"model": "m", "messages": user(&format!("call {i}"))})).await;
            assert_eq!(response.status(), StatusCode::OK);
            trace_id(&response)
        }
    });
    let ids: std::collections::BTreeSet<String> = futures::future::join_all(calls).await.into_iter().collect();
    assert_eq!(ids.len(), 50);
    let (_, ready) = server.get("/readyz").await;
    assert_eq!(ready["traces"]["enqueued"], 50, "{ready}");
    assert_eq!(ready["traces"]["dropped"], 0, "{ready}");
    let (_, listed) = server.get("/api/traces?limit=100").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "the batch should still be waiting: {listed}");

    let started = Instant::now();
    let data_dir = server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited for the flush interval: {:?}",
        started.elapsed()
    );
    let store = gantry_store::open_store(None, data_dir.path()).await.unwrap();
    let stored =
        store.list_traces(&gantry_types::TraceFilter { limit: Some(1000), ..Default::default() }).await.unwrap();
    let stored_ids: std::collections::BTreeSet<String> = stored.iter().map(|t| t.id.to_string()).collect();
    assert_eq!(stored_ids, ids);
    assert!(stored.iter().all(|t| t.status == gantry_types::TraceStatus::Ok && t.prompt_tokens == Some(3)));
}

/// The data directory holding the real models, if `GANTRY_TEST_MODELS_DIR` points at one.
fn real_models() -> Option<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(std::env::var_os("GANTRY_TEST_MODELS_DIR")?).join("models");
    let chat = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let embeddings = dir.join("all-MiniLM-L6-v2");
    (chat.is_file() && embeddings.join("model.safetensors").is_file()).then_some((chat, embeddings))
}

#[tokio::test]
async fn real_smollm2_and_minilm_through_the_server() {
    let Some((chat, embeddings)) = real_models() else {
        println!("skipping: real models not found (set GANTRY_TEST_MODELS_DIR)");
        return;
    };
    let server = TestServer::start(&local_config(&chat, &embeddings, 2048)).await;
    let response = server
        .chat(&json!({"model": gantry_core::config::DEFAULT_CHAT_MODEL, "messages": user("What is 2+2?"), "temperature": 0, "max_tokens": 48}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains('4'), "{answer:?}");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 10);

    let response = server
        .post(
            "/v1/embeddings",
            &json!({"model": gantry_core::config::DEFAULT_EMBEDDING_MODEL, "input": "The cat sits on the mat."}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let vector = floats(&body["data"][0]["embedding"]);
    assert_eq!(vector.len(), 384);
    let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "sentence-transformers vectors are normalised: {norm}");
    server.shutdown().await;
}
