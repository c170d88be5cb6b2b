//! Mapping OTLP spans to records and back, decoding limits, the export queue.

use super::config::OtlpExportSettings;
use super::export::ExportQueue;
use super::genai::{record_id, span_to_record, SpanSource};
use super::ingest::{decode, IngestReport, OtlpEncoding, MAX_DECODED_BYTES};
use super::to_otlp::{otel_trace_id, record_to_span, ExportShape};
use super::OtelError;
use crate::config::Price;
use gantry_types::{TraceKind, TraceRecord, TraceStatus};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

const T0: u64 = 1_772_359_200_000_000_000;

fn kv(key: &str, value: AnyKind) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, AnyKind::StringValue(value.to_string()))
}

fn span(attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        name: "op".into(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 250_000_000,
        attributes,
        ..Default::default()
    }
}

fn map(span: &Span, prices: &BTreeMap<String, Price>) -> Result<TraceRecord, String> {
    let resource = Map::new();
    let source = SpanSource { service_name: Some("app"), resource: &resource, scope_name: None, scope_version: None };
    span_to_record(span, &source, prices)
}

fn no_prices() -> BTreeMap<String, Price> {
    BTreeMap::new()
}

#[test]
fn record_ids_are_deterministic_uuids_per_trace_and_span() {
    let a = record_id(&[1; 16], &[2; 8]);
    assert_eq!(a, record_id(&[1; 16], &[2; 8]));
    assert_ne!(a, record_id(&[1; 16], &[3; 8]));
    assert_ne!(a, record_id(&[9; 16], &[2; 8]), "the same span id in another trace is another span");
    assert_eq!(a.0.get_version_num(), 8);
}

#[test]
fn genai_message_events_and_the_choice_event() {
    let mut sp = span(vec![s("gen_ai.operation.name", "chat"), s("gen_ai.request.model", "m")]);
    sp.events = vec![
        Event {
            name: "gen_ai.system.message".into(),
            attributes: vec![s("content", "Be brief.")],
            ..Default::default()
        },
        Event { name: "gen_ai.user.message".into(), attributes: vec![s("content", "Hi")], ..Default::default() },
        Event {
            name: "gen_ai.choice".into(),
            attributes: vec![
                kv("index", AnyKind::IntValue(0)),
                s("finish_reason", "length"),
                kv(
                    "message",
                    AnyKind::KvlistValue(KeyValueList { values: vec![s("role", "assistant"), s("content", "Hello")] }),
                ),
            ],
            ..Default::default()
        },
        Event { name: "retry".into(), attributes: vec![kv("attempt", AnyKind::IntValue(2))], ..Default::default() },
    ];
    let record = map(&sp, &no_prices()).unwrap();
    assert_eq!(record.kind, TraceKind::Chat);
    assert_eq!(
        record.request["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    );
    assert_eq!(record.response, Some(json!({"role": "assistant", "content": "Hello"})));
    assert_eq!(record.finish_reason.as_deref(), Some("length"));
    assert_eq!(
        record.request["otel"]["events"],
        json!([{"name": "retry", "time_unix_nano": 0, "attributes": {"attempt": 2}}])
    );
    assert_eq!(record.latency_ms, 250.0);
    assert_eq!(record.upstream_model.as_deref(), Some("m"), "the requested model answered when none other is named");
}

#[test]
fn semantic_convention_message_attributes_in_parts_form() {
    let input = r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#;
    let output = r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#;
    let sp = span(vec![
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "openai"),
        s("gen_ai.request.model", "gpt-4.1"),
        s("gen_ai.system_instructions", r#"[{"type":"text","content":"You forecast."}]"#),
        s("gen_ai.input.messages", input),
        s("gen_ai.output.messages", output),
        kv("gen_ai.usage.input_tokens", AnyKind::IntValue(-5)),
    ]);
    let record = map(&sp, &no_prices()).unwrap();
    assert_eq!(
        record.request["messages"],
        json!([{"role": "system", "content": "You forecast."}, {"role": "user", "content": "Weather in Paris?"}])
    );
    assert_eq!(
        record.response,
        Some(
            json!({"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]})
        )
    );
    assert_eq!(record.finish_reason.as_deref(), Some("tool_call"));
    assert_eq!(record.provider.as_deref(), Some("openai"));
    assert_eq!(record.prompt_tokens, None, "a negative count is unknown, not zero");
}

#[test]
fn openinference_embeddings_and_invocation_parameters() {
    let mut prices = BTreeMap::new();
    prices.insert("text-embedding-3-small".to_string(), Price { input_per_mtok: 0.02, output_per_mtok: 0.0 });
    let sp = span(vec![
        s("openinference.span.kind", "EMBEDDING"),
        s("embedding.model_name", "text-embedding-3-small"),
        kv("llm.token_count.prompt", AnyKind::IntValue(1000)),
        s("input.value", "some text"),
    ]);
    let record = map(&sp, &prices).unwrap();
    assert_eq!(record.kind, TraceKind::Embeddings);
    assert_eq!(record.requested_model, "text-embedding-3-small");
    assert_eq!((record.prompt_tokens, record.completion_tokens), (Some(1000), None));
    assert!((record.cost_usd.unwrap() - 0.00002).abs() < 1e-15, "{:?}", record.cost_usd);
    assert_eq!(record.request["input"], "some text");

    let sp = span(vec![
        s("openinference.span.kind", "LLM"),
        s("llm.model_name", "llama3"),
        s("llm.invocation_parameters", r#"{"temperature": 0.1, "max_tokens": 100}"#),
        s("output.value", r#"{"answer": 42}"#),
        kv("llm.token_count.prompt", AnyKind::IntValue(10)),
        kv("llm.token_count.completion", AnyKind::IntValue(5)),
        kv("llm.token_count.total", AnyKind::IntValue(15)),
    ]);
    let record = map(&sp, &no_prices()).unwrap();
    assert_eq!(record.kind, TraceKind::Chat);
    assert_eq!((record.request["temperature"].as_f64(), record.request["max_tokens"].as_u64()), (Some(0.1), Some(100)));
    assert_eq!(record.response, Some(json!({"output": {"answer": 42}})));
    assert_eq!(record.total_tokens, Some(15));
    assert_eq!(record.cost_usd, None, "no price");
}

#[test]
fn tool_and_agent_spans_are_generic_spans_without_cost() {
    let mut prices = BTreeMap::new();
    prices.insert("gpt".to_string(), Price { input_per_mtok: 1.0, output_per_mtok: 1.0 });
    let sp = span(vec![
        s("gen_ai.operation.name", "invoke_agent"),
        s("gen_ai.request.model", "gpt"),
        kv("gen_ai.usage.input_tokens", AnyKind::IntValue(100)),
        kv("gen_ai.usage.output_tokens", AnyKind::IntValue(10)),
        s("traceloop.entity.output", r#"{"done": true}"#),
    ]);
    let record = map(&sp, &prices).unwrap();
    assert_eq!(record.kind, TraceKind::Span);
    assert_eq!(record.prompt_tokens, Some(100));
    assert_eq!(record.cost_usd, None, "an agent adds up its calls: pricing it would count them twice");
    assert_eq!(record.response, Some(json!({"output": {"done": true}})));
    assert!(record.request.get("messages").is_none());
    assert_eq!(map(&span(vec![]), &prices).unwrap().kind, TraceKind::Span);
}

#[test]
fn hostile_spans_are_rejected_with_the_reason_never_a_panic() {
    let prices = no_prices();
    let mut sp = span(vec![]);
    sp.trace_id = vec![0; 16];
    assert!(map(&sp, &prices).unwrap_err().contains("trace_id"));
    let mut sp = span(vec![]);
    sp.span_id = vec![1; 9];
    assert!(map(&sp, &prices).unwrap_err().contains("span_id"));
    let mut sp = span(vec![]);
    sp.parent_span_id = vec![1; 3];
    assert!(map(&sp, &prices).unwrap_err().contains("parent_span_id"));
    let mut sp = span(vec![]);
    sp.parent_span_id = sp.span_id.clone();
    assert!(map(&sp, &prices).unwrap_err().contains("its own parent"));
    let mut sp = span(vec![]);
    sp.start_time_unix_nano = u64::MAX;
    assert!(map(&sp, &prices).unwrap_err().contains("start_time_unix_nano"));
    // Ends before it starts: no negative latency. An all-zero parent is a root.
    let mut sp = span(vec![kv("gen_ai.usage.input_tokens", AnyKind::DoubleValue(f64::NAN))]);
    sp.end_time_unix_nano = 1;
    sp.parent_span_id = vec![0; 8];
    let record = map(&sp, &prices).unwrap();
    assert_eq!((record.latency_ms, record.parent_id, record.prompt_tokens), (0.0, None, None));
    // Deeply nested values are bounded by the protobuf decoder.
    let mut value = AnyValue { value: Some(AnyKind::StringValue("leaf".into())) };
    for _ in 0..200 {
        value = AnyValue {
            value: Some(AnyKind::KvlistValue(KeyValueList {
                values: vec![KeyValue { key: "k".into(), value: Some(value), ..Default::default() }],
            })),
        };
    }
    let mut deep = span(vec![]);
    deep.attributes.push(KeyValue { key: "deep".into(), value: Some(value), ..Default::default() });
    let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![deep],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let err = decode(&request.encode_to_vec(), OtlpEncoding::Protobuf, false).unwrap_err();
    assert!(matches!(err, OtelError::Malformed(_)), "{err}");
}

#[test]
fn a_gzip_bomb_is_refused_after_the_limit() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..(MAX_DECODED_BYTES / zeros.len() + 1) {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024);
    let err = decode(&bomb, OtlpEncoding::Protobuf, true).unwrap_err();
    assert!(matches!(err, OtelError::TooLarge(_)), "{err}");
}

#[test]
fn responses_carry_partial_success_only_when_spans_were_rejected() {
    let ok = IngestReport { accepted: 3, rejected: 0, error_message: String::new() };
    assert_eq!(ok.encode(OtlpEncoding::Json), b"{}");
    assert_eq!(
        ExportTraceServiceResponse::decode(ok.encode(OtlpEncoding::Protobuf).as_slice()).unwrap().partial_success,
        None
    );
    let partial = IngestReport { accepted: 1, rejected: 2, error_message: "bad ids".into() };
    let json: Value = serde_json::from_slice(&partial.encode(OtlpEncoding::Json)).unwrap();
    assert_eq!(json, json!({"partialSuccess": {"rejectedSpans": "2", "errorMessage": "bad ids"}}));
    let decoded = ExportTraceServiceResponse::decode(partial.encode(OtlpEncoding::Protobuf).as_slice()).unwrap();
    assert_eq!(decoded.partial_success.map(|p| (p.rejected_spans, p.error_message)), Some((2, "bad ids".to_string())));
}

fn gateway_record() -> TraceRecord {
    serde_json::from_value(json!({
        "id": gantry_types::TraceId::new(), "parent_id": null, "name": "answer",
        "started_at": "2026-03-01T10:00:00Z", "kind": "chat", "requested_model": "gpt",
        "provider": "oa", "upstream_model": "gpt-4o-mini", "attempts": [], "status": "error", "http_status": 502,
        "error": {"code": "upstream_error", "message": "oa failed: 500"}, "stream": true,
        "request": {"model": "gpt", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3, "max_tokens": 9},
        "response": {"role": "assistant", "content": "Hel"}, "finish_reason": "length",
        "prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "latency_ms": 120.5, "ttft_ms": 30.0,
        "cost_usd": 0.001
    }))
    .unwrap()
}

#[test]
fn a_record_survives_export_and_ingest() {
    let record = gateway_record();
    let mut settings = OtlpExportSettings::new("http://x/v1/traces");
    settings.capture_content = true;
    let systems = BTreeMap::from([("oa".to_string(), "openai".to_string())]);
    let shape = ExportShape { settings: &settings, provider_systems: &systems };
    let exported = record_to_span(&record, otel_trace_id(record.id), &shape);
    assert_eq!(exported.end_time_unix_nano - exported.start_time_unix_nano, 120_500_000);
    let back = map(&exported, &no_prices()).unwrap();
    assert_eq!(back.kind, TraceKind::Chat);
    assert_eq!(back.name.as_deref(), Some("answer"));
    assert_eq!((back.requested_model.as_str(), back.upstream_model.as_deref()), ("gpt", Some("gpt-4o-mini")));
    assert_eq!(back.provider.as_deref(), Some("openai"));
    assert_eq!((back.prompt_tokens, back.completion_tokens, back.total_tokens), (Some(4), Some(2), Some(6)));
    assert_eq!(back.status, TraceStatus::Error);
    assert_eq!(
        back.error.as_ref().map(|e| (e.code.as_str(), e.message.as_str())),
        Some(("upstream_error", "oa failed: 500"))
    );
    assert_eq!(back.finish_reason.as_deref(), Some("length"));
    assert_eq!(back.request["messages"], json!([{"role": "user", "content": "Hi"}]));
    assert_eq!((back.request["temperature"].as_f64(), back.request["max_tokens"].as_u64()), (Some(0.3), Some(9)));
    assert_eq!(back.response, Some(json!({"role": "assistant", "content": "Hel"})));
    assert!(back.stream);
    assert!((back.latency_ms - 120.5).abs() < 1e-6);
    assert_eq!(back.started_at, record.started_at);
}

#[test]
fn a_full_export_queue_counts_drops_instead_of_waiting() {
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let queue = ExportQueue::for_tests(tx, 1);
    assert!(queue.offer(gateway_record()));
    assert!(!queue.offer(gateway_record()));
    assert!(!queue.offer(gateway_record()));
    let stats = queue.stats();
    assert_eq!((stats.dropped, stats.queue_depth, stats.exported), (2, 1, 0));
}
