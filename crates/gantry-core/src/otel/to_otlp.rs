//! A Gantry trace record as an OTLP span following the GenAI semantic conventions: model
//! calls are CLIENT spans named `chat {model}` / `embeddings {model}` with `gen_ai.*`
//! attributes; chain runs and their steps are INTERNAL spans with `gantry.*` attributes.

use super::config::OtlpExportSettings;
use gantry_types::{TraceId, TraceKind, TraceRecord, TraceStatus};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The 16-byte OTel trace id of the tree whose root record is `root`.
pub fn otel_trace_id(root: TraceId) -> Vec<u8> {
    root.0.as_bytes().to_vec()
}

/// The 8-byte OTel span id of record `id`: the random tail of its UUIDv7.
pub fn otel_span_id(id: TraceId) -> Vec<u8> {
    id.0.as_bytes()[8..].to_vec()
}

fn kv(key: &str, value: AnyKind) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, AnyKind::StringValue(value.into()))
}

/// What the exporter knows beyond the records.
pub struct ExportShape<'a> {
    pub settings: &'a OtlpExportSettings,
    /// Provider instance name -> `gen_ai.provider.name` (openai, anthropic, ...).
    pub provider_systems: &'a BTreeMap<String, String>,
}

/// One request carrying `spans` under Gantry's resource and scope.
pub fn export_request(spans: Vec<Span>, shape: &ExportShape<'_>) -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![
            text("service.name", shape.settings.service_name.clone()),
            text("service.version", env!("CARGO_PKG_VERSION")),
            text("telemetry.sdk.name", "gantry"),
            text("telemetry.sdk.language", "rust"),
        ],
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "gantry".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans { scope: Some(scope), spans, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}

/// `record` as a span of the OTel trace `trace_id`.
pub fn record_to_span(record: &TraceRecord, trace_id: Vec<u8>, shape: &ExportShape<'_>) -> Span {
    let model_call = matches!(record.kind, TraceKind::Chat | TraceKind::Embeddings);
    let operation = match record.kind {
        TraceKind::Chat => "chat",
        TraceKind::Embeddings => "embeddings",
        other => other.as_str(),
    };
    let name = if model_call {
        format!("{operation} {}", record.requested_model)
    } else {
        match &record.name {
            Some(step) => format!("{operation} {step}"),
            None => format!("{operation} {}", record.requested_model),
        }
    };
    let start = record.started_at.timestamp_nanos_opt().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let duration =
        if record.latency_ms.is_finite() && record.latency_ms > 0.0 { (record.latency_ms * 1e6) as u64 } else { 0 };

    let mut attributes =
        vec![text("gantry.trace_id", record.id.to_string()), text("gantry.span.kind", record.kind.as_str())];
    if let Some(step) = &record.name {
        attributes.push(text("gantry.span.name", step.clone()));
    }
    if model_call {
        attributes.push(text("gen_ai.operation.name", operation));
        attributes.push(text("gen_ai.request.model", record.requested_model.clone()));
        attributes.push(text("gen_ai.response.id", record.id.to_string()));
        if let Some(system) = record.provider.as_ref().and_then(|p| shape.provider_systems.get(p)) {
            attributes.push(text("gen_ai.provider.name", system.clone()));
            attributes.push(text("gen_ai.system", system.clone()));
        }
        request_parameters(&record.request, &mut attributes);
    } else {
        attributes.push(text("gantry.model", record.requested_model.clone()));
    }
    if let Some(provider) = &record.provider {
        attributes.push(text("gantry.provider", provider.clone()));
    }
    if let Some(model) = &record.upstream_model {
        attributes
            .push(text(if model_call { "gen_ai.response.model" } else { "gantry.upstream_model" }, model.clone()));
    }
    // Only model calls carry gen_ai.usage: a chain run adds up its steps, and a collector
    // summing gen_ai.usage over a trace would count them twice.
    let usage_prefix = if model_call { "gen_ai.usage" } else { "gantry.usage" };
    if let Some(n) = record.prompt_tokens {
        attributes.push(kv(&format!("{usage_prefix}.input_tokens"), AnyKind::IntValue(i64::from(n))));
    }
    if let Some(n) = record.completion_tokens {
        attributes.push(kv(&format!("{usage_prefix}.output_tokens"), AnyKind::IntValue(i64::from(n))));
    }
    if let Some(reason) = &record.finish_reason {
        let reasons = ArrayValue { values: vec![AnyValue { value: Some(AnyKind::StringValue(reason.clone())) }] };
        attributes.push(kv("gen_ai.response.finish_reasons", AnyKind::ArrayValue(reasons)));
    }
    if let Some(cost) = record.cost_usd {
        attributes.push(kv("gantry.cost_usd", AnyKind::DoubleValue(cost)));
    }
    if let Some(ttft) = record.ttft_ms {
        attributes.push(kv("gantry.ttft_ms", AnyKind::DoubleValue(ttft)));
    }
    if record.stream {
        attributes.push(kv("gen_ai.request.stream", AnyKind::BoolValue(true)));
    }
    if let Some(prompt) = &record.prompt {
        attributes.push(text("gantry.prompt.name", prompt.name.clone()));
        attributes.push(kv("gantry.prompt.version", AnyKind::IntValue(i64::from(prompt.version))));
    }
    attributes.push(kv("gantry.http_status", AnyKind::IntValue(i64::from(record.http_status))));
    attributes.push(text("gantry.status", record.status.as_str()));
    if shape.settings.capture_content {
        content(record, &mut attributes);
    }

    let status = match record.status {
        TraceStatus::Error => {
            let (code, message) = record
                .error
                .as_ref()
                .map(|e| (e.code.clone(), e.message.clone()))
                .unwrap_or_else(|| ("error".into(), String::new()));
            attributes.push(text("error.type", code));
            Some(Status { code: StatusCode::Error as i32, message })
        }
        TraceStatus::Ok | TraceStatus::Cancelled => None,
    };

    Span {
        trace_id,
        span_id: otel_span_id(record.id),
        parent_span_id: record.parent_id.map(otel_span_id).unwrap_or_default(),
        name,
        kind: if model_call { SpanKind::Client } else { SpanKind::Internal } as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(duration),
        attributes,
        status,
        ..Default::default()
    }
}

/// `gen_ai.request.*` from the recorded request's sampling parameters.
fn request_parameters(request: &Value, attributes: &mut Vec<KeyValue>) {
    for (field, key) in [
        ("temperature", "gen_ai.request.temperature"),
        ("top_p", "gen_ai.request.top_p"),
        ("frequency_penalty", "gen_ai.request.frequency_penalty"),
        ("presence_penalty", "gen_ai.request.presence_penalty"),
    ] {
        if let Some(v) = request.get(field).and_then(Value::as_f64) {
            attributes.push(kv(key, AnyKind::DoubleValue(v)));
        }
    }
    let max_tokens = request.get("max_tokens").or_else(|| request.get("max_completion_tokens"));
    if let Some(n) = max_tokens.and_then(Value::as_i64) {
        attributes.push(kv("gen_ai.request.max_tokens", AnyKind::IntValue(n)));
    }
    if let Some(seed) = request.get("seed").and_then(Value::as_i64) {
        attributes.push(kv("gen_ai.request.seed", AnyKind::IntValue(seed)));
    }
}

/// Messages (for chat) or the recorded request/response (for everything else), as JSON text.
fn content(record: &TraceRecord, attributes: &mut Vec<KeyValue>) {
    if record.kind == TraceKind::Chat {
        if let Some(Value::Array(messages)) = record.request.get("messages") {
            let input: Vec<Value> = messages.iter().map(to_parts_message).collect();
            attributes.push(text("gen_ai.input.messages", Value::Array(input).to_string()));
        }
        if let Some(message) = &record.response {
            let mut output = to_parts_message(message);
            if let (Value::Object(map), Some(reason)) = (&mut output, &record.finish_reason) {
                map.insert("finish_reason".into(), Value::String(reason.clone()));
            }
            attributes.push(text("gen_ai.output.messages", Value::Array(vec![output]).to_string()));
        }
    } else {
        attributes.push(text("gantry.input", record.request.to_string()));
        if let Some(response) = &record.response {
            attributes.push(text("gantry.output", response.to_string()));
        }
    }
}

/// An OpenAI-style chat message in the semantic conventions' parts form.
fn to_parts_message(message: &Value) -> Value {
    let role = message.get("role").cloned().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    match message.get("content") {
        Some(Value::String(s)) => parts.push(json!({"type": "text", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                match (item.get("type").and_then(Value::as_str), item.get("text")) {
                    (Some("text"), Some(t)) => parts.push(json!({"type": "text", "content": t})),
                    (kind, _) => parts.push(json!({"type": kind.unwrap_or("unknown")})),
                }
            }
        }
        _ => {}
    }
    if let Some(Value::Array(calls)) = message.get("tool_calls") {
        for call in calls {
            parts.push(json!({
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.pointer("/function/name"),
                "arguments": call.pointer("/function/arguments"),
            }));
        }
    }
    json!({"role": role, "parts": parts})
}
