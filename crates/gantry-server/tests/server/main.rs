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
        let service = Service::start(&config, Progress::Quiet).await.unwrap().start_monitors(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task =
            tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async move {
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

mod access;
mod alerts;
mod analytics;
mod api;
mod browser;
mod chains;
mod collections;
mod datasets;
mod deploy;
mod embedded;
mod evals;
mod experiments;
mod feedback;
mod guard;
mod monitor;
mod otel;
mod prompts;
mod routing;
mod ui;
