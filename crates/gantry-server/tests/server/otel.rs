//! OpenTelemetry in and out: OTLP/HTTP ingest of GenAI span trees (protobuf, JSON, gzip,
//! partial success, errors) into `/api/traces`, and export of gateway traces to an in-test
//! OTLP collector and to a second Gantry.

use crate::*;
use axum::body::Bytes;
use axum::http::HeaderMap;
use gantry_core::otel::genai::record_id;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtelStatus;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use std::io::Write;
use std::sync::{Arc, Mutex};

const PROTOBUF: &str = "application/x-protobuf";
const TRACE: [u8; 16] =
    [0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xb2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c];
const ROOT: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const CHAT: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75];
const FAILED: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x76];
/// 2026-03-01T10:00:00Z in Unix nanoseconds.
const T0: u64 = 1_772_359_200_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, value: AnyKind) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, AnyKind::StringValue(value.to_string()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, AnyKind::IntValue(value))
}

fn span(
    id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &str,
    start_ms: u64,
    end_ms: u64,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: name.to_string(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + end_ms * MS,
        attributes,
        ..Default::default()
    }
}

/// A workflow span (OpenLLMetry), a chat call under it (GenAI conventions, OpenLLMetry's
/// indexed messages) and a failed LLM call (OpenInference) under it.
fn workflow_spans() -> Vec<Span> {
    let root = span(
        ROOT,
        None,
        "support.workflow",
        0,
        1500,
        vec![s("traceloop.span.kind", "workflow"), s("customer.tier", "gold")],
    );
    let mut chat = span(
        CHAT,
        Some(ROOT),
        "chat gpt-4o-mini",
        100,
        900,
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o-mini"),
            s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            i("gen_ai.usage.input_tokens", 120),
            i("gen_ai.usage.output_tokens", 30),
            kv("gen_ai.request.temperature", AnyKind::DoubleValue(0.2)),
            i("gen_ai.request.max_tokens", 64),
            kv(
                "gen_ai.response.finish_reasons",
                AnyKind::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(AnyKind::StringValue("stop".into())) }],
                }),
            ),
            s("gen_ai.prompt.0.role", "system"),
            s("gen_ai.prompt.0.content", "You are terse."),
            s("gen_ai.prompt.1.role", "user"),
            s("gen_ai.prompt.1.content", "Where is my parcel?"),
            s("gen_ai.completion.0.role", "assistant"),
            s("gen_ai.completion.0.content", "It ships tomorrow."),
        ],
    );
    chat.kind = SpanKind::Client as i32;
    let mut failed = span(
        FAILED,
        Some(ROOT),
        "ChatAnthropic",
        950,
        1400,
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.model_name", "claude-3-5-haiku"),
            s("llm.provider", "anthropic"),
            i("llm.token_count.prompt", 50),
            s("llm.input_messages.0.message.role", "user"),
            s("llm.input_messages.0.message.content", "Summarise the ticket."),
        ],
    );
    failed.status = Some(Status { code: OtelStatus::Error as i32, message: "upstream overloaded".into() });
    failed.events = vec![Event {
        name: "exception".into(),
        time_unix_nano: T0 + 1400 * MS,
        attributes: vec![s("exception.type", "OverloadedError"), s("exception.message", "529 overloaded")],
        ..Default::default()
    }];
    vec![root, chat, failed]
}

fn export_request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![s("service.name", "shop-app")], ..Default::default() }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry.instrumentation.openai".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn id_of(span: [u8; 8]) -> String {
    record_id(&TRACE, &span).to_string()
}

const PRICED: &str = "[prices.\"gpt-4o-mini\"]\ninput_per_mtok = 0.15\noutput_per_mtok = 0.6\n";

async fn post_otlp(
    server: &TestServer,
    body: Vec<u8>,
    content_type: &str,
    encoding: Option<&str>,
) -> reqwest::Response {
    let mut request = server.http.post(server.url("/v1/traces")).header("content-type", content_type).body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.unwrap()
}

/// Posts protobuf and returns the decoded response.
async fn post_protobuf(server: &TestServer, request: &ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let response = post_otlp(server, request.encode_to_vec(), PROTOBUF, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], PROTOBUF);
    ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap()
}

fn child<'a>(tree: &'a Value, name: &str) -> &'a Value {
    tree["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {tree:#}"))
}

/// The workflow tree as `/api/traces` and `/api/traces/{id}` show it.
async fn assert_workflow_stored(server: &TestServer) {
    let (status, list) = server.get("/api/traces").await;
    assert_eq!(status, StatusCode::OK);
    let roots = list["data"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{list:#}");
    let root = &roots[0];
    assert_eq!(root["id"], id_of(ROOT));
    assert_eq!((root["kind"].as_str(), root["name"].as_str()), (Some("span"), Some("support.workflow")));
    assert_eq!(root["parent_id"], Value::Null);
    assert_eq!(root["started_at"], "2026-03-01T10:00:00Z");
    assert_eq!(root["latency_ms"], 1500.0);
    assert_eq!(root["prompt_tokens"], Value::Null, "unknown tokens stay unknown");
    let otel = &root["request"]["otel"];
    assert_eq!(otel["trace_id"], "5b8efff798038103b269b633813fc60c");
    assert_eq!(otel["span_id"], "eee19b7ec3c1b174");
    assert_eq!(otel["service_name"], "shop-app");
    assert_eq!(otel["attributes"]["customer.tier"], "gold");
    assert_eq!(otel["attributes"]["traceloop.span.kind"], "workflow");

    let tree = server.trace(&id_of(ROOT)).await;
    assert_eq!(tree["spans"].as_array().unwrap().len(), 2, "{tree:#}");
    let chat = child(&tree, "chat gpt-4o-mini");
    assert_eq!(chat["id"], id_of(CHAT));
    assert_eq!(chat["parent_id"], id_of(ROOT));
    assert_eq!(chat["kind"], "chat");
    assert_eq!(chat["status"], "ok");
    assert_eq!(
        (chat["requested_model"].as_str(), chat["upstream_model"].as_str()),
        (Some("gpt-4o-mini"), Some("gpt-4o-mini-2024-07-18"))
    );
    assert_eq!(chat["provider"], "openai");
    assert_eq!(
        (chat["prompt_tokens"].as_u64(), chat["completion_tokens"].as_u64(), chat["total_tokens"].as_u64()),
        (Some(120), Some(30), Some(150))
    );
    assert_eq!(chat["latency_ms"], 800.0);
    assert_eq!(chat["finish_reason"], "stop");
    let cost = chat["cost_usd"].as_f64().unwrap();
    assert!((cost - (120.0 * 0.15 + 30.0 * 0.6) / 1e6).abs() < 1e-12, "{cost}");
    assert_eq!(
        chat["request"]["messages"],
        json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Where is my parcel?"}])
    );
    assert_eq!(
        (chat["request"]["temperature"].as_f64(), chat["request"]["max_tokens"].as_u64()),
        (Some(0.2), Some(64))
    );
    assert_eq!(chat["response"], json!({"role": "assistant", "content": "It ships tomorrow."}));
    assert_eq!(chat["request"]["otel"]["span_kind"], "client");

    let failed = child(&tree, "ChatAnthropic");
    assert_eq!(failed["kind"], "chat");
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["error"], json!({"code": "OverloadedError", "message": "upstream overloaded"}));
    assert_eq!(
        (failed["requested_model"].as_str(), failed["provider"].as_str()),
        (Some("claude-3-5-haiku"), Some("anthropic"))
    );
    assert_eq!((failed["prompt_tokens"].as_u64(), failed["completion_tokens"].as_u64()), (Some(50), None));
    assert_eq!(failed["total_tokens"], Value::Null);
    assert_eq!(failed["cost_usd"], Value::Null, "no price for the model");
    assert_eq!(failed["request"]["messages"], json!([{"role": "user", "content": "Summarise the ticket."}]));
    assert_eq!(failed["request"]["otel"]["events"][0]["name"], "exception");
}

#[tokio::test]
async fn protobuf_spans_become_a_trace_tree_with_models_tokens_and_cost() {
    let server = TestServer::start(&mock_config(&[], PRICED)).await;
    let response = post_protobuf(&server, &export_request(workflow_spans())).await;
    assert_eq!(response.partial_success, None);
    // Committed before the answer: no waiting.
    assert_workflow_stored(&server).await;
    // Only the root is listed; filters work on ingested traces as on gateway traces.
    let (_, errors) = server.get("/api/traces?status=error").await;
    assert_eq!(errors["data"].as_array().unwrap().len(), 0, "the failed span is not a root");
    server.shutdown().await;
}

/// The workflow in OTLP JSON as the specification writes it: hex ids, lowerCamelCase, enums as
/// numbers, int64 as strings (and one as a number).
fn workflow_json() -> Value {
    let attr = |k: &str, v: Value| json!({"key": k, "value": v});
    let text = |v: &str| json!({"stringValue": v});
    json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", text("shop-app"))]},
        "scopeSpans": [{
            "scope": {"name": "opentelemetry.instrumentation.openai"},
            "spans": [
                {"traceId": "5b8efff798038103b269b633813fc60c", "spanId": "eee19b7ec3c1b174", "parentSpanId": "",
                 "name": "support.workflow", "kind": 1,
                 "startTimeUnixNano": (T0).to_string(), "endTimeUnixNano": (T0 + 1500 * MS).to_string(),
                 "attributes": [attr("traceloop.span.kind", text("workflow")), attr("customer.tier", text("gold"))]},
                {"traceId": "5b8efff798038103b269b633813fc60c", "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174",
                 "name": "chat gpt-4o-mini", "kind": 3,
                 "startTimeUnixNano": (T0 + 100 * MS).to_string(), "endTimeUnixNano": T0 + 900 * MS,
                 "attributes": [
                    attr("gen_ai.operation.name", text("chat")),
                    attr("gen_ai.system", text("openai")),
                    attr("gen_ai.request.model", text("gpt-4o-mini")),
                    attr("gen_ai.response.model", text("gpt-4o-mini-2024-07-18")),
                    attr("gen_ai.usage.input_tokens", json!({"intValue": "120"})),
                    attr("gen_ai.usage.output_tokens", json!({"intValue": 30})),
                    attr("gen_ai.request.temperature", json!({"doubleValue": 0.2})),
                    attr("gen_ai.request.max_tokens", json!({"intValue": "64"})),
                    attr("gen_ai.response.finish_reasons", json!({"arrayValue": {"values": [text("stop")]}})),
                    attr("gen_ai.prompt.0.role", text("system")),
                    attr("gen_ai.prompt.0.content", text("You are terse.")),
                    attr("gen_ai.prompt.1.role", text("user")),
                    attr("gen_ai.prompt.1.content", text("Where is my parcel?")),
                    attr("gen_ai.completion.0.role", text("assistant")),
                    attr("gen_ai.completion.0.content", text("It ships tomorrow."))
                 ]},
                {"traceId": "5b8efff798038103b269b633813fc60c", "spanId": "eee19b7ec3c1b176", "parentSpanId": "eee19b7ec3c1b174",
                 "name": "ChatAnthropic", "kind": 1,
                 "startTimeUnixNano": (T0 + 950 * MS).to_string(), "endTimeUnixNano": (T0 + 1400 * MS).to_string(),
                 "attributes": [
                    attr("openinference.span.kind", text("LLM")),
                    attr("llm.model_name", text("claude-3-5-haiku")),
                    attr("llm.provider", text("anthropic")),
                    attr("llm.token_count.prompt", json!({"intValue": "50"})),
                    attr("llm.input_messages.0.message.role", text("user")),
                    attr("llm.input_messages.0.message.content", text("Summarise the ticket."))
                 ],
                 "events": [{"timeUnixNano": (T0 + 1400 * MS).to_string(), "name": "exception", "attributes": [
                    attr("exception.type", text("OverloadedError")), attr("exception.message", text("529 overloaded"))]}],
                 "status": {"code": 2, "message": "upstream overloaded"}}
            ]
        }]
    }]})
}

#[tokio::test]
async fn otlp_json_with_hex_ids_gives_the_same_tree() {
    let server = TestServer::start(&mock_config(&[], PRICED)).await;
    let response = post_otlp(&server, workflow_json().to_string().into_bytes(), "application/json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    assert_workflow_stored(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_resent_batch_is_stored_once_and_a_late_parent_links_its_children() {
    let server = TestServer::start(&mock_config(&[], PRICED)).await;
    let spans = workflow_spans();
    // The children come first (as a batching SDK sends them: children end before parents).
    let children = export_request(spans[1..].to_vec());
    post_protobuf(&server, &children).await;
    let (_, list) = server.get("/api/traces").await;
    assert_eq!(list["data"], json!([]), "children of an unseen parent are not roots");
    post_protobuf(&server, &export_request(vec![spans[0].clone()])).await;
    assert_workflow_stored(&server).await;
    // Sending everything again changes nothing.
    post_protobuf(&server, &export_request(spans.clone())).await;
    post_otlp(&server, workflow_json().to_string().into_bytes(), "application/json", None).await;
    assert_workflow_stored(&server).await;
    server.shutdown().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_accepted_in_both_encodings() {
    let server = TestServer::start(&mock_config(&[], PRICED)).await;
    let body = gzip(&export_request(workflow_spans()[1..].to_vec()).encode_to_vec());
    let response = post_otlp(&server, body, PROTOBUF, Some("gzip")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut json = workflow_json();
    json["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array_mut().unwrap().truncate(1);
    let response = post_otlp(&server, gzip(json.to_string().as_bytes()), "application/json", Some("gzip")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_workflow_stored(&server).await;
    server.shutdown().await;
}

/// A body, its content type and encoding, and the status, code and message word expected.
type BadCase = (Vec<u8>, &'static str, Option<&'static str>, StatusCode, &'static str, &'static str);

#[tokio::test]
async fn unreadable_bodies_are_400_and_other_formats_415() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let cases: Vec<BadCase> = vec![
        (
            b"\xff\xff\xff\xff not protobuf".to_vec(),
            PROTOBUF,
            None,
            StatusCode::BAD_REQUEST,
            "invalid_otlp",
            "ExportTraceServiceRequest",
        ),
        (
            b"{\"resourceSpans\": [".to_vec(),
            "application/json",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_otlp",
            "OTLP JSON",
        ),
        (
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"#.to_vec(),
            "application/json",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_otlp",
            "OTLP JSON",
        ),
        (b"not gzip at all".to_vec(), PROTOBUF, Some("gzip"), StatusCode::BAD_REQUEST, "invalid_otlp", "gzip"),
        (
            b"{}".to_vec(),
            "text/plain",
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            b"{}".to_vec(),
            "application/json",
            Some("br"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "br",
        ),
    ];
    for (body, content_type, encoding, status, code, mentions) in cases {
        let response = post_otlp(&server, body, content_type, encoding).await;
        let (got, error) = error_of(response).await;
        assert_eq!((got, error["code"].as_str()), (status, Some(code)), "{content_type} {encoding:?}: {error}");
        assert!(error["message"].as_str().unwrap().contains(mentions), "{error}");
    }
    // Without a content type at all.
    let response = server.http.post(server.url("/v1/traces")).body("{}").send().await.unwrap();
    assert_eq!(error_of(response).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, list) = server.get("/api/traces").await;
    assert_eq!(list["data"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_spans_are_rejected_as_a_partial_success_and_the_rest_stored() {
    let server = TestServer::start(&mock_config(&[], PRICED)).await;
    let mut spans = workflow_spans();
    let mut short_trace = spans[0].clone();
    short_trace.trace_id = vec![1, 2, 3];
    let mut no_start = spans[0].clone();
    no_start.span_id = vec![9; 8];
    no_start.start_time_unix_nano = 0;
    spans.push(short_trace);
    spans.push(no_start);
    let response = post_protobuf(&server, &export_request(spans)).await;
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(partial.error_message.starts_with("2 of 5 spans rejected"), "{}", partial.error_message);
    assert!(partial.error_message.contains("spans[3]: trace_id must be 16 bytes"), "{}", partial.error_message);
    assert!(partial.error_message.contains("spans[4]: start_time_unix_nano"), "{}", partial.error_message);
    assert_workflow_stored(&server).await;

    let mut json = workflow_json();
    json["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = json!("");
    let response = post_otlp(&server, json.to_string().into_bytes(), "application/json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1");
    assert!(body["partialSuccess"]["errorMessage"].as_str().unwrap().contains("span_id must be 8 bytes"), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_spans_in_one_request_is_413() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let root = workflow_spans()[0].clone();
    let spans = vec![root; gantry_core::otel::ingest::MAX_SPANS_PER_REQUEST + 1];
    let response = post_otlp(&server, export_request(spans).encode_to_vec(), PROTOBUF, None).await;
    let (status, error) = error_of(response).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    server.shutdown().await;
}

/// What a collector received: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, ExportTraceServiceRequest)>>>;

/// An OTLP collector on 127.0.0.1:0 that keeps what it receives and answers with the scripted
/// statuses (then 200).
struct Collector {
    url: String,
    received: Received,
    statuses: Arc<Mutex<Vec<u16>>>,
}

impl Collector {
    async fn start(statuses: Vec<u16>) -> Collector {
        let received: Received = Arc::default();
        let statuses = Arc::new(Mutex::new(statuses));
        let (kept, script) = (received.clone(), statuses.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (kept, script) = (kept.clone(), script.clone());
                async move {
                    let next = {
                        let mut script = script.lock().unwrap();
                        if script.is_empty() {
                            200
                        } else {
                            script.remove(0)
                        }
                    };
                    if next == 200 {
                        let request = ExportTraceServiceRequest::decode(body).unwrap();
                        kept.lock().unwrap().push((headers, request));
                    }
                    let status = axum::http::StatusCode::from_u16(next).unwrap();
                    (status, ExportTraceServiceResponse::default().encode_to_vec())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, received, statuses }
    }

    fn spans(&self) -> Vec<Span> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .flat_map(|(_, r)| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    /// Polls until at least `n` spans have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Span> {
        let deadline = Instant::now() + WAIT;
        loop {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            assert!(Instant::now() < deadline, "{} of {n} spans arrived within {WAIT:?}", spans.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyKind> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn attr_str<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key)? {
        AnyKind::StringValue(s) => Some(s),
        _ => None,
    }
}

fn attr_int(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        AnyKind::IntValue(n) => Some(*n),
        _ => None,
    }
}

fn gpt_config(mock: &MockUpstream, telemetry: &str) -> String {
    mock_config(
        &[("oa", mock)],
        &format!(
            "[[models]]\nname = \"gpt\"\ntargets = [{{ provider = \"oa\", model = \"gpt-4o-mini\" }}]\nrouting = {{ retries = 0 }}\n\n{PRICED}\n{telemetry}"
        ),
    )
}

#[tokio::test]
async fn gateway_calls_are_exported_as_genai_spans_with_retries() {
    // The collector is busy at first: the batch is retried after 503 and 429.
    let collector = Collector::start(vec![503, 429]).await;
    let mock = MockUpstream::start(
        Flavor::OpenAi,
        vec![Reply::text("It ships tomorrow.", 12, 3), Reply::error(400, "context length exceeded")],
    )
    .await;
    std::env::set_var("GANTRY_TEST_OTLP_KEY", "otlp-secret-1");
    let telemetry = format!(
        "[telemetry.otlp]\nendpoint = \"{}\"\nheaders = {{ \"x-api-key\" = \"env:GANTRY_TEST_OTLP_KEY\" }}\nservice_name = \"gantry-test\"\ntimeout_ms = 5000\n",
        collector.url
    );
    let server = TestServer::start(&gpt_config(&mock, &telemetry)).await;
    let ok = server
        .chat(&json!({"model": "gpt", "messages": user("Where is my parcel?"), "temperature": 0.5, "max_tokens": 20}))
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let ok_id = trace_id(&ok);
    let failed = server.chat(&json!({"model": "gpt", "messages": user("x")})).await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let failed_id = trace_id(&failed);

    let spans = collector.wait_for(2).await;
    assert_eq!(spans.len(), 2);
    let by_trace = |id: &str| spans.iter().find(|s| attr_str(s, "gantry.trace_id") == Some(id)).unwrap().clone();
    let span = by_trace(&ok_id);
    assert_eq!(span.name, "chat gpt");
    assert_eq!(span.kind, SpanKind::Client as i32);
    let uuid = ok_id.parse::<gantry_types::TraceId>().unwrap().0;
    assert_eq!(span.trace_id, uuid.as_bytes().to_vec());
    assert_eq!(span.span_id, uuid.as_bytes()[8..].to_vec());
    assert!(span.parent_span_id.is_empty());
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano && span.start_time_unix_nano > 0);
    assert_eq!(attr_str(&span, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(attr_str(&span, "gen_ai.system"), Some("openai"));
    assert_eq!(attr_str(&span, "gen_ai.request.model"), Some("gpt"));
    assert_eq!(attr_str(&span, "gen_ai.response.model"), Some("gpt-4o-mini"));
    assert_eq!(attr_str(&span, "gen_ai.response.id"), Some(ok_id.as_str()));
    assert_eq!(
        (attr_int(&span, "gen_ai.usage.input_tokens"), attr_int(&span, "gen_ai.usage.output_tokens")),
        (Some(12), Some(3))
    );
    assert_eq!(attr_int(&span, "gen_ai.request.max_tokens"), Some(20));
    assert_eq!(attr(&span, "gen_ai.request.temperature"), Some(&AnyKind::DoubleValue(0.5)));
    match attr(&span, "gen_ai.response.finish_reasons") {
        Some(AnyKind::ArrayValue(a)) => assert_eq!(a.values[0].value, Some(AnyKind::StringValue("stop".into()))),
        other => panic!("finish reasons: {other:?}"),
    }
    assert_eq!(attr(&span, "gen_ai.input.messages"), None, "content is not captured by default");
    assert_eq!(span.status, None);

    let span = by_trace(&failed_id);
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(OtelStatus::Error as i32));
    assert!(span.status.as_ref().unwrap().message.contains("context length exceeded"), "{:?}", span.status);
    assert!(attr_str(&span, "error.type").is_some_and(|t| !t.is_empty()));
    assert_eq!(attr_int(&span, "gen_ai.usage.input_tokens"), None);

    let received = collector.received.lock().unwrap().clone();
    let (headers, request) = &received[0];
    assert_eq!(headers["x-api-key"], "otlp-secret-1");
    assert_eq!(headers["content-type"], PROTOBUF);
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    assert!(resource.attributes.contains(&s("service.name", "gantry-test")), "{resource:?}");
    assert!(collector.statuses.lock().unwrap().is_empty(), "both refusals were retried");
    let stats = server.service.otlp_export_stats().unwrap();
    assert_eq!((stats.exported, stats.dropped, stats.failed), (2, 0, 0));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_sends_what_is_still_queued() {
    let collector = Collector::start(vec![]).await;
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("hi", 2, 1)]).await;
    let telemetry = format!("[telemetry.otlp]\nendpoint = \"{}\"\n", collector.url);
    let server = TestServer::start(&gpt_config(&mock, &telemetry)).await;
    for _ in 0..3 {
        assert_eq!(server.chat(&json!({"model": "gpt", "messages": user("hi")})).await.status(), StatusCode::OK);
    }
    // No waiting: shutdown itself drains the writer and the exporter.
    server.shutdown().await;
    assert_eq!(collector.spans().len(), 3);
}

#[tokio::test]
async fn a_collector_that_refuses_counts_failures_without_blocking_calls() {
    let collector = Collector::start(vec![400]).await;
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("hi", 2, 1)]).await;
    let telemetry = format!("[telemetry.otlp]\nendpoint = \"{}\"\nmax_retries = 0\n", collector.url);
    let server = TestServer::start(&gpt_config(&mock, &telemetry)).await;
    assert_eq!(server.chat(&json!({"model": "gpt", "messages": user("hi")})).await.status(), StatusCode::OK);
    let deadline = Instant::now() + WAIT;
    while server.service.otlp_export_stats().unwrap().failed == 0 {
        assert!(Instant::now() < deadline, "the refusal was not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = server.service.otlp_export_stats().unwrap();
    assert_eq!((stats.exported, stats.failed, stats.queue_depth), (0, 1, 0));
    server.shutdown().await;
}

/// A prompt and a chain of an LLM step and a template step, on `server`.
async fn register_chain(server: &TestServer) {
    let prompt = json!({
        "name": "greet", "model": "gpt",
        "variables": [{"name": "who", "type": "string"}],
        "messages": [{"role": "user", "content": "Greet {{ who }}."}]
    });
    assert_eq!(server.post("/api/prompts", &prompt).await.status(), StatusCode::CREATED);
    let chain = json!({
        "name": "hello", "inputs": ["who"], "output": "card",
        "steps": [
            {"name": "greeting", "type": "llm", "prompt": "greet@1", "variables": {"who": "{{ input.who }}"}},
            {"name": "card", "type": "template", "template": "To {{ input.who }}: {{ greeting }}"}
        ]
    });
    let response = server.post("/api/chains", &chain).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn one_gantry_exports_its_traces_to_another_gantrys_otlp_ingest() {
    let receiver = TestServer::start(&mock_config(&[], PRICED)).await;
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Hello Ana!", 9, 4)]).await;
    let telemetry = format!(
        "[telemetry.otlp]\nendpoint = \"{}\"\nservice_name = \"gantry-edge\"\ncapture_content = true\n",
        receiver.url("/v1/traces")
    );
    let sender = TestServer::start(&gpt_config(&mock, &telemetry)).await;
    register_chain(&sender).await;
    let chat = sender.chat(&json!({"model": "gpt", "messages": user("Say hello."), "max_tokens": 8})).await;
    assert_eq!(chat.status(), StatusCode::OK);
    let run = sender.post("/api/chains/hello/run", &json!({"input": {"who": "Ana"}})).await;
    assert_eq!(run.status(), StatusCode::OK);
    sender.shutdown().await;

    // Shutdown drained the exporter: the receiver has both trees.
    let (_, list) = receiver.get("/api/traces").await;
    let roots = list["data"].as_array().unwrap();
    assert_eq!(roots.len(), 2, "{list:#}");
    let chat = roots.iter().find(|r| r["kind"] == "chat").unwrap();
    assert_eq!(chat["name"], "chat gpt");
    assert_eq!((chat["requested_model"].as_str(), chat["upstream_model"].as_str()), (Some("gpt"), Some("gpt-4o-mini")));
    assert_eq!(chat["provider"], "openai");
    assert_eq!((chat["prompt_tokens"].as_u64(), chat["completion_tokens"].as_u64()), (Some(9), Some(4)));
    assert_eq!(chat["request"]["messages"], json!([{"role": "user", "content": "Say hello."}]));
    assert_eq!(chat["response"]["content"], "Hello Ana!");
    assert_eq!(chat["finish_reason"], "stop");
    assert_eq!(chat["request"]["otel"]["service_name"], "gantry-edge");
    assert_eq!(chat["request"]["max_tokens"], 8);

    let chain = roots.iter().find(|r| r["kind"] == "chain").unwrap();
    assert_eq!(chain["requested_model"], "chain:hello@1");
    let tree = receiver.trace(chain["id"].as_str().unwrap()).await;
    let steps = tree["spans"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{tree:#}");
    let greeting = steps.iter().find(|s| s["name"] == "greeting").unwrap();
    assert_eq!(greeting["kind"], "chat");
    assert_eq!((greeting["prompt_tokens"].as_u64(), greeting["completion_tokens"].as_u64()), (Some(9), Some(4)));
    assert_eq!(greeting["request"]["messages"], json!([{"role": "user", "content": "Greet Ana."}]));
    let card = steps.iter().find(|s| s["name"] == "card").unwrap();
    assert_eq!(card["kind"], "template");
    assert_eq!(card["response"], "To Ana: Hello Ana!");
    receiver.shutdown().await;
}
