//! Test support for Gantry: scripted mock upstreams that speak the OpenAI and Anthropic wire
//! formats as those providers document them. Used by tests and benches only.
//!
//! A mock binds 127.0.0.1 on a free port before `start` returns, so it accepts connections at
//! once (no sleeps). Each chat or embeddings request consumes the next scripted [`Reply`]; the
//! last one repeats. Every request is recorded, and a client that hangs up before a reply is
//! complete is counted as a disconnect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anthropic;
pub mod drift;
mod openai;
mod traces;
mod wire;

pub use traces::generate_traces;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::serve::ListenerExt;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wire::{Ctx, Step};

/// Which provider's wire format a mock speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `POST /v1/chat/completions` and `POST /v1/embeddings`, OpenAI error bodies.
    OpenAi,
    /// `POST /v1/messages` with Anthropic's event stream and error bodies.
    Anthropic,
}

/// Prompt tokens reported for a [`Reply::ToolCall`].
pub const TOOL_CALL_PROMPT_TOKENS: u32 = 20;
/// Completion tokens reported for a [`Reply::ToolCall`].
pub const TOOL_CALL_COMPLETION_TOKENS: u32 = 10;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A completion of `text`; streamed word by word when the request has `stream: true`.
    Text { text: String, prompt_tokens: u32, completion_tokens: u32 },
    /// One tool call; `arguments` (a JSON string) is streamed as several deltas.
    ToolCall { name: String, arguments: String },
    /// An error status with the flavour's error body and an optional `Retry-After` header.
    Error { status: u16, retry_after: Option<String>, message: String },
    /// Waits `ms` before answering with `then` (no headers are sent while waiting).
    Delay { ms: u64, then: Box<Reply> },
    /// Sends headers and the first piece (`first_text`), stalls `stall_ms`, then drops the
    /// connection without finishing the body.
    StreamStall { first_text: String, stall_ms: u64 },
    /// A 200 event stream whose body is exactly these chunks, each flushed separately.
    RawSse(Vec<Vec<u8>>),
    /// Any status, content type and body, e.g. an unparsable 200.
    RawBody { status: u16, content_type: String, body: Vec<u8> },
    /// Embedding vectors of `dims` dimensions, deterministic per input (OpenAI only).
    Embeddings { dims: usize },
    /// Never answers; the request stays open until the client gives up.
    Hang,
}

impl Reply {
    /// A text reply with the given usage.
    pub fn text(text: impl Into<String>, prompt_tokens: u32, completion_tokens: u32) -> Self {
        Reply::Text { text: text.into(), prompt_tokens, completion_tokens }
    }

    /// A tool call with JSON `arguments`.
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        Reply::ToolCall { name: name.into(), arguments: arguments.into() }
    }

    /// An error reply without `Retry-After`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Reply::Error { status, retry_after: None, message: message.into() }
    }

    /// `self`, answered after `ms` milliseconds.
    pub fn delayed(self, ms: u64) -> Self {
        Reply::Delay { ms, then: Box::new(self) }
    }
}

/// A request the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The JSON body, or `Null` when the body was not JSON.
    pub body: Value,
    /// The client's address; the same port on two requests means the connection was reused.
    pub peer: SocketAddr,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct Script {
    replies: Vec<Reply>,
    next: usize,
}

pub(crate) struct Shared {
    flavor: Flavor,
    script: Mutex<Script>,
    requests: Mutex<Vec<RecordedRequest>>,
    request_count: AtomicUsize,
    /// Off for long benchmark runs, where keeping every request would only grow memory.
    recording: AtomicBool,
    disconnects: watch::Sender<usize>,
    ids: AtomicU64,
}

impl Shared {
    fn next_reply(&self) -> Option<Reply> {
        let mut script = self.script.lock().unwrap();
        let index = script.next.min(script.replies.len().checked_sub(1)?);
        script.next += 1;
        Some(script.replies[index].clone())
    }

    /// A fresh number for response and tool-call ids.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Counts a disconnect when dropped while armed: hyper drops the handler future, or the body
/// stream, when the client goes away before the reply is complete.
pub(crate) struct DisconnectGuard {
    shared: Arc<Shared>,
    armed: bool,
}

impl DisconnectGuard {
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if self.armed {
            self.shared.disconnects.send_modify(|count| *count += 1);
        }
    }
}

/// A running mock upstream; stops accepting connections when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl MockUpstream {
    /// Binds 127.0.0.1:0 and serves `script`; ready for connections when this returns.
    pub async fn start(flavor: Flavor, script: Vec<Reply>) -> MockUpstream {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            flavor,
            script: Mutex::new(Script { replies: script, next: 0 }),
            requests: Mutex::new(Vec::new()),
            request_count: AtomicUsize::new(0),
            recording: AtomicBool::new(true),
            disconnects: watch::Sender::new(0),
            ids: AtomicU64::new(0),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        // Without TCP_NODELAY, small stream frames can wait for delayed ACKs (~40 ms).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        MockUpstream { addr, shared, server }
    }

    /// The base URL a provider is configured with: `http://127.0.0.1:PORT/v1` for OpenAI,
    /// `http://127.0.0.1:PORT` for Anthropic.
    pub fn base_url(&self) -> String {
        match self.shared.flavor {
            Flavor::OpenAi => format!("http://{}/v1", self.addr),
            Flavor::Anthropic => format!("http://{}", self.addr),
        }
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The wire format this mock speaks.
    pub fn flavor(&self) -> Flavor {
        self.shared.flavor
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests have arrived (any path), recorded or not.
    pub fn request_count(&self) -> usize {
        self.shared.request_count.load(Ordering::Relaxed)
    }

    /// Turns keeping requests for [`requests`](Self::requests) on or off (on at start);
    /// benchmarks turn it off. Requests are counted either way.
    pub fn set_recording(&self, enabled: bool) {
        self.shared.recording.store(enabled, Ordering::Relaxed);
    }

    /// How many clients hung up before their reply was complete.
    pub fn disconnects(&self) -> usize {
        *self.shared.disconnects.borrow()
    }

    /// Waits until at least `count` disconnects were seen (wrap it in a timeout).
    pub async fn wait_for_disconnects(&self, count: usize) {
        let mut seen = self.shared.disconnects.subscribe();
        let _ = seen.wait_for(|n| *n >= count).await;
    }

    /// Replaces the script; the next request gets its first reply.
    pub fn set_script(&self, script: Vec<Reply>) {
        *self.shared.script.lock().unwrap() = Script { replies: script, next: 0 };
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A base URL nothing listens on, for connection-refused tests.
pub fn unreachable_base_url(flavor: Flavor) -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    match flavor {
        Flavor::OpenAi => format!("http://{addr}/v1"),
        Flavor::Anthropic => format!("http://{addr}"),
    }
}

/// What an endpoint of the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Embeddings,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.request_count.fetch_add(1, Ordering::Relaxed);
    if shared.recording.load(Ordering::Relaxed) {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let path = uri.path().to_string();
        let recorded = RecordedRequest { method: method.to_string(), path, headers, body: body.clone(), peer };
        shared.requests.lock().unwrap().push(recorded);
    }
    let endpoint = match (shared.flavor, uri.path()) {
        (Flavor::OpenAi, "/v1/chat/completions") | (Flavor::Anthropic, "/v1/messages") => Endpoint::Chat,
        (Flavor::OpenAi, "/v1/embeddings") => Endpoint::Embeddings,
        _ => return wire::error_response(shared.flavor, 404, None, &format!("no route for {}", uri.path())),
    };
    if method != Method::POST {
        return wire::error_response(shared.flavor, 405, None, "only POST is served");
    }
    if body.is_null() {
        return wire::error_response(shared.flavor, 400, None, "the request body is not valid JSON");
    }
    let Some(mut reply) = shared.next_reply() else {
        return wire::error_response(shared.flavor, 500, None, "mock upstream: the script is empty");
    };
    let mut guard = DisconnectGuard { shared: shared.clone(), armed: true };
    while let Reply::Delay { ms, then } = reply {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        reply = *then;
    }
    let ctx = Ctx::new(&shared, &body);
    let answer = match (endpoint, reply) {
        (_, Reply::Hang) => std::future::pending().await,
        (_, Reply::Delay { .. }) => unreachable!("delays are unwrapped above"),
        (_, Reply::Error { status, retry_after, message }) => {
            guard.disarm();
            return wire::error_response(shared.flavor, status, retry_after.as_deref(), &message);
        }
        (_, Reply::RawBody { status, content_type, body }) => {
            guard.disarm();
            return wire::full_response(status, &content_type, body, &[]);
        }
        (_, Reply::RawSse(chunks)) => raw_sse_steps(chunks),
        (Endpoint::Embeddings, Reply::Embeddings { dims }) => {
            guard.disarm();
            return openai::embeddings(&ctx, &body, dims);
        }
        (Endpoint::Embeddings, other) => {
            guard.disarm();
            let message = format!("mock upstream: {other:?} scripted for an embeddings request");
            return wire::error_response(shared.flavor, 500, None, &message);
        }
        (Endpoint::Chat, Reply::Embeddings { .. }) => {
            guard.disarm();
            return wire::error_response(
                shared.flavor,
                500,
                None,
                "mock upstream: Embeddings scripted for a chat request",
            );
        }
        (Endpoint::Chat, reply) => match shared.flavor {
            Flavor::OpenAi => openai::chat(&ctx, reply),
            Flavor::Anthropic => anthropic::chat(&ctx, reply),
        },
    };
    match answer {
        wire::Answer::Full(response) => {
            guard.disarm();
            response
        }
        wire::Answer::Stream { status, content_type, steps } => {
            wire::stream_response(status, content_type, steps, guard)
        }
    }
}

/// Raw chunks with a short pause between them, so they reach the client as separate reads.
fn raw_sse_steps(chunks: Vec<Vec<u8>>) -> wire::Answer {
    let mut steps = Vec::with_capacity(chunks.len() * 2);
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i > 0 {
            steps.push(Step::Pause(Duration::from_millis(5)));
        }
        steps.push(Step::Frame(Bytes::from(chunk)));
    }
    wire::Answer::Stream { status: StatusCode::OK, content_type: wire::EVENT_STREAM, steps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn post(mock: &MockUpstream, path: &str, body: Value) -> (u16, String) {
        let url = format!("http://{}{path}", mock.addr());
        let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    #[tokio::test]
    async fn openai_stream_sends_usage_only_when_asked() {
        let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("a b", 3, 2)]).await;
        let (status, body) = post(&mock, "/v1/chat/completions", json!({"model": "m", "stream": true})).await;
        assert_eq!(status, 200);
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
        assert!(!body.contains("\"usage\""), "{body}");
        let asked = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}});
        let (_, body) = post(&mock, "/v1/chat/completions", asked).await;
        assert!(body.contains("\"choices\":[],"), "{body}");
        assert!(body.contains("\"total_tokens\":5"), "{body}");
    }

    #[tokio::test]
    async fn anthropic_stream_follows_the_documented_event_order() {
        let mock = MockUpstream::start(Flavor::Anthropic, vec![Reply::text("hi there", 3, 2)]).await;
        let (_, body) = post(&mock, "/v1/messages", json!({"model": "m", "stream": true})).await;
        let names: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
    }

    #[tokio::test]
    async fn script_order_routes_errors_and_recording() {
        let script = vec![Reply::error(429, "first"), Reply::text("second", 1, 1)];
        let mock = MockUpstream::start(Flavor::Anthropic, script).await;
        let (status, body) = post(&mock, "/v1/chat/completions", json!({})).await;
        assert_eq!(status, 404, "OpenAI's path on an Anthropic mock: {body}");
        let (status, body) = post(&mock, "/v1/messages", json!({"model": "m"})).await;
        assert_eq!(status, 429);
        assert!(body.contains("rate_limit_error"), "{body}");
        for _ in 0..2 {
            let (status, body) = post(&mock, "/v1/messages", json!({"model": "m"})).await;
            assert_eq!(status, 200);
            assert!(body.contains("\"second\""), "the last reply repeats: {body}");
        }
        mock.set_recording(false);
        post(&mock, "/v1/messages", json!({"model": "m"})).await;
        assert_eq!(mock.request_count(), 5);
        assert_eq!(mock.requests().len(), 4);
        mock.set_script(vec![Reply::error(503, "again")]);
        assert_eq!(post(&mock, "/v1/messages", json!({"model": "m"})).await.0, 503);
    }
}
