//! One OTLP span as a Gantry trace record: the GenAI semantic conventions (`gen_ai.*`, with
//! OpenLLMetry's indexed prompt/completion attributes and the message span events) and
//! OpenInference (`llm.*`, `input.value`, ...) are read into the record's model, tokens,
//! messages, parameters and outcome; whatever is not understood is kept under
//! `request.otel`.

use super::attributes::{attributes_to_json, hex, Attrs};
use crate::config::Price;
use crate::recorder::cost_usd;
use chrono::DateTime;
use gantry_types::{TraceError, TraceId, TraceKind, TraceRecord, TraceStatus, Usage};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Where a span came from: its resource and instrumentation scope.
pub struct SpanSource<'a> {
    pub service_name: Option<&'a str>,
    /// The resource's attributes, as JSON.
    pub resource: &'a Map<String, Value>,
    pub scope_name: Option<&'a str>,
    pub scope_version: Option<&'a str>,
}

/// The record id of OTel span `span_id` in trace `trace_id`: the same span always gets the
/// same id, so a child and its parent link whichever batch brings them, and a batch sent twice
/// is stored once.
pub fn record_id(trace_id: &[u8], span_id: &[u8]) -> TraceId {
    let digest =
        Sha256::new().chain_update(b"gantry.otel.span\0").chain_update(trace_id).chain_update(span_id).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    TraceId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// The record of `span`, or why it is rejected.
pub fn span_to_record(
    span: &Span,
    source: &SpanSource<'_>,
    prices: &BTreeMap<String, Price>,
) -> Result<TraceRecord, String> {
    if !valid_id(&span.trace_id, 16) {
        return Err(format!("trace_id must be 16 bytes, not all zero (got {} bytes)", span.trace_id.len()));
    }
    if !valid_id(&span.span_id, 8) {
        return Err(format!("span_id must be 8 bytes, not all zero (got {} bytes)", span.span_id.len()));
    }
    let parent = match span.parent_span_id.len() {
        0 => None,
        8 if span.parent_span_id.iter().all(|b| *b == 0) => None,
        8 if span.parent_span_id == span.span_id => return Err("a span cannot be its own parent".to_string()),
        8 => Some(record_id(&span.trace_id, &span.parent_span_id)),
        n => return Err(format!("parent_span_id must be empty or 8 bytes (got {n} bytes)")),
    };
    let start = i64::try_from(span.start_time_unix_nano)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| "start_time_unix_nano is missing or out of range".to_string())?;
    let started_at = DateTime::from_timestamp_nanos(start);
    let latency_ms = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e6;

    let mut attrs = Attrs::new(&span.attributes);
    let mut events = EventReading::read(&span.events);
    let kind = span_kind(&mut attrs);
    let llm = matches!(kind, TraceKind::Chat | TraceKind::Embeddings);

    let requested = attrs
        .str(&["gen_ai.request.model", "llm.request.model", "llm.model_name", "embedding.model_name", "gantry.model"])
        .map(str::to_string);
    let upstream =
        attrs.str(&["gen_ai.response.model", "llm.response.model", "gantry.upstream_model"]).map(str::to_string);
    let upstream = upstream.or_else(|| requested.clone().filter(|_| llm));
    let requested_model = requested.or_else(|| upstream.clone()).unwrap_or_default();
    let provider = attrs
        .str(&["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "gantry.provider"])
        .map(str::to_string);
    // Gantry's own spans name their chain step apart from the span name.
    let name = attrs.str(&["gantry.span.name"]).unwrap_or(&span.name).to_string();

    let prompt_tokens = attrs.count(&[
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
        "gantry.usage.input_tokens",
    ]);
    let completion_tokens = attrs.count(&[
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
        "gantry.usage.output_tokens",
    ]);
    let total_tokens = attrs
        .count(&["gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total"])
        .or_else(|| prompt_tokens.zip(completion_tokens).and_then(|(p, c)| p.checked_add(c)));

    let mut request = Map::new();
    let mut response = attrs.json_text(&["gantry.output"]);
    if let Some(Value::Object(given)) = attrs.json_text(&["gantry.input"]) {
        request = given;
    }
    if llm {
        request.insert("model".into(), Value::String(requested_model.clone()));
        let messages = input_messages(&mut attrs, &mut events);
        if !messages.is_empty() {
            request.insert("messages".into(), Value::Array(messages));
        }
        read_parameters(&mut attrs, &mut request);
    }
    if let Some(input) = attrs.json(&["input.value", "traceloop.entity.input", "gen_ai.prompt"]) {
        request.entry("input").or_insert(input);
    }
    let mut output = output_messages(&mut attrs, &mut events);
    let output_reason = output.first_mut().and_then(|m| take_str(m, "finish_reason"));
    let mut finish_reason = attrs
        .strings(&["gen_ai.response.finish_reasons", "llm.response.finish_reason"])
        .into_iter()
        .next()
        .or(output_reason)
        .or_else(|| events.finish_reason.take());
    if finish_reason.as_deref() == Some("") {
        finish_reason = None;
    }
    if response.is_none() {
        response = output.into_iter().next().map(Value::Object);
    }
    if response.is_none() {
        response = attrs
            .json(&["output.value", "traceloop.entity.output", "gen_ai.completion"])
            .map(|output| json!({"output": output}));
    }

    let failed = span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32);
    let error_type = attrs.str(&["error.type"]).map(str::to_string);
    let error = failed.then(|| {
        let message = span
            .status
            .as_ref()
            .map(|s| s.message.clone())
            .filter(|m| !m.is_empty())
            .or_else(|| events.exception_message.clone())
            .unwrap_or_else(|| "the span ended with status ERROR".to_string());
        let code = error_type.clone().or_else(|| events.exception_type.clone()).unwrap_or_else(|| "span_error".into());
        TraceError { code, message }
    });
    let http_status =
        attrs.int(&["http.response.status_code", "http.status_code"]).and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
    let stream = attrs.bool(&["gen_ai.request.stream", "llm.is_streaming"]).unwrap_or(false);

    // Cost only for the model calls themselves: a workflow or agent span that adds up its
    // children's tokens would count them twice.
    let cost = if llm {
        let completion = completion_tokens.or((kind == TraceKind::Embeddings).then_some(0));
        let usage = prompt_tokens.zip(completion).map(|(p, c)| Usage::new(p, c));
        let models: Vec<&str> = upstream.iter().map(String::as_str).chain([requested_model.as_str()]).collect();
        cost_usd(prices, &models, usage)
    } else {
        None
    };

    let mut otel = Map::new();
    otel.insert("trace_id".into(), Value::String(hex(&span.trace_id)));
    otel.insert("span_id".into(), Value::String(hex(&span.span_id)));
    if parent.is_some() {
        otel.insert("parent_span_id".into(), Value::String(hex(&span.parent_span_id)));
    }
    otel.insert("span_name".into(), Value::String(span.name.clone()));
    otel.insert("span_kind".into(), Value::String(span_kind_name(span.kind).into()));
    if let Some(service) = source.service_name {
        otel.insert("service_name".into(), Value::String(service.to_string()));
    }
    if let Some(name) = source.scope_name.filter(|n| !n.is_empty()) {
        otel.insert("scope".into(), json!({"name": name, "version": source.scope_version.unwrap_or_default()}));
    }
    if failed {
        otel.insert("status".into(), json!({"code": "error"}));
    }
    let rest = attrs.remaining();
    if !rest.is_empty() {
        otel.insert("attributes".into(), Value::Object(rest));
    }
    if !events.other.is_empty() {
        otel.insert("events".into(), Value::Array(std::mem::take(&mut events.other)));
    }
    if !source.resource.is_empty() {
        otel.insert("resource".into(), Value::Object(source.resource.clone()));
    }
    request.insert("otel".into(), Value::Object(otel));

    Ok(TraceRecord {
        id: record_id(&span.trace_id, &span.span_id),
        parent_id: parent,
        name: Some(name).filter(|n| !n.is_empty()),
        started_at,
        kind,
        requested_model,
        provider,
        upstream_model: upstream,
        attempts: Vec::new(),
        status: if failed { TraceStatus::Error } else { TraceStatus::Ok },
        http_status,
        error,
        stream,
        request: Value::Object(request),
        response,
        finish_reason,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        latency_ms,
        ttft_ms: None,
        cost_usd: cost,
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: Vec::new(),
        deployment: None,
    })
}

/// Chat or embeddings for model calls, `span` for everything else (workflows, tools, agents).
fn span_kind(attrs: &mut Attrs<'_>) -> TraceKind {
    // Gantry's own export names its kinds; a round trip keeps them.
    if let Some(kind) = attrs.str(&["gantry.span.kind"]).and_then(TraceKind::parse) {
        return kind;
    }
    if let Some(op) = attrs.str(&["gen_ai.operation.name"]) {
        return match op {
            "chat" | "text_completion" | "generate_content" | "completion" => TraceKind::Chat,
            "embeddings" | "embedding" => TraceKind::Embeddings,
            _ => TraceKind::Span,
        };
    }
    if let Some(kind) = attrs.str(&["openinference.span.kind"]) {
        return match kind.to_ascii_uppercase().as_str() {
            "LLM" => TraceKind::Chat,
            "EMBEDDING" => TraceKind::Embeddings,
            _ => TraceKind::Span,
        };
    }
    if let Some(kind) = attrs.str(&["llm.request.type"]) {
        return match kind {
            "embedding" | "embeddings" => TraceKind::Embeddings,
            "chat" | "completion" => TraceKind::Chat,
            _ => TraceKind::Span,
        };
    }
    let looks_like_llm = ["gen_ai.request.model", "gen_ai.system", "gen_ai.provider.name", "llm.model_name"]
        .iter()
        .any(|k| attrs.has(k));
    if looks_like_llm {
        TraceKind::Chat
    } else {
        TraceKind::Span
    }
}

fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// Temperature, max_tokens and top_p from `gen_ai.request.*`, or OpenInference's invocation
/// parameters.
fn read_parameters(attrs: &mut Attrs<'_>, request: &mut Map<String, Value>) {
    let invocation = match attrs.json(&["llm.invocation_parameters"]) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let from_invocation =
        |names: &[&str]| names.iter().find_map(|n| invocation.get(*n).filter(|v| v.is_number()).cloned());
    let temperature = attrs
        .float(&["gen_ai.request.temperature", "llm.request.temperature"])
        .map(Value::from)
        .or_else(|| from_invocation(&["temperature"]));
    let max_tokens = attrs
        .int(&["gen_ai.request.max_tokens", "llm.request.max_tokens"])
        .map(Value::from)
        .or_else(|| from_invocation(&["max_tokens", "max_completion_tokens", "max_output_tokens"]));
    let top_p = attrs
        .float(&["gen_ai.request.top_p", "llm.request.top_p"])
        .map(Value::from)
        .or_else(|| from_invocation(&["top_p"]));
    for (name, value) in [("temperature", temperature), ("max_tokens", max_tokens), ("top_p", top_p)] {
        if let Some(value) = value {
            request.insert(name.into(), value);
        }
    }
}

/// The request's messages: `gen_ai.input.messages` (JSON), OpenLLMetry's `gen_ai.prompt.N.*`,
/// OpenInference's `llm.input_messages.N.message.*`, or the `gen_ai.*.message` span events.
fn input_messages(attrs: &mut Attrs<'_>, events: &mut EventReading) -> Vec<Value> {
    if let Some(Value::Array(list)) = attrs.json(&["gen_ai.input.messages"]) {
        let mut messages: Vec<Value> = Vec::new();
        if let Some(system) = attrs.json(&["gen_ai.system_instructions"]) {
            messages.push(json!({"role": "system", "content": parts_text(system)}));
        }
        messages.extend(list.into_iter().map(|m| Value::Object(from_parts(m))));
        return messages;
    }
    let indexed = indexed_messages(attrs, "gen_ai.prompt.", "");
    if !indexed.is_empty() {
        return indexed.into_iter().map(Value::Object).collect();
    }
    let indexed = indexed_messages(attrs, "llm.input_messages.", "message.");
    if !indexed.is_empty() {
        return indexed.into_iter().map(Value::Object).collect();
    }
    std::mem::take(&mut events.input)
}

/// The response's messages, from the same sources as `input_messages` (`gen_ai.choice` events).
fn output_messages(attrs: &mut Attrs<'_>, events: &mut EventReading) -> Vec<Map<String, Value>> {
    if let Some(Value::Array(list)) = attrs.json(&["gen_ai.output.messages"]) {
        return list.into_iter().map(from_parts).collect();
    }
    let indexed = indexed_messages(attrs, "gen_ai.completion.", "");
    if !indexed.is_empty() {
        return indexed;
    }
    let indexed = indexed_messages(attrs, "llm.output_messages.", "message.");
    if !indexed.is_empty() {
        return indexed;
    }
    std::mem::take(&mut events.output)
}

/// `PREFIX{N}.{inner}role`, `...content` and the other fields of each message N.
fn indexed_messages(attrs: &mut Attrs<'_>, prefix: &str, inner: &str) -> Vec<Map<String, Value>> {
    attrs
        .indexed(prefix)
        .into_values()
        .map(|fields| {
            fields
                .into_iter()
                .map(|(k, v)| (k.strip_prefix(inner).map(str::to_string).unwrap_or(k), v))
                .collect::<Map<String, Value>>()
        })
        .filter(|m| m.contains_key("role") || m.contains_key("content"))
        .collect()
}

/// A semantic-conventions message (`{"role", "parts": [{"type": "text", "content"}]}`) as a
/// chat message whose content is its text, when all its parts are text.
fn from_parts(message: Value) -> Map<String, Value> {
    let Value::Object(mut map) = message else { return Map::from_iter([("content".to_string(), message)]) };
    if let Some(parts) = map.remove("parts") {
        match parts_text(parts) {
            Value::String(text) => {
                map.insert("content".into(), Value::String(text));
            }
            other => {
                map.insert("parts".into(), other);
            }
        }
    }
    map
}

/// The text of parts that are all text, else the parts as they are.
fn parts_text(parts: Value) -> Value {
    let Value::Array(list) = &parts else { return parts };
    let texts: Option<Vec<&str>> = list
        .iter()
        .map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => p.get("content").and_then(Value::as_str),
            _ => None,
        })
        .collect();
    match texts {
        Some(texts) => Value::String(texts.join("")),
        None => parts,
    }
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key)? {
        Value::String(s) => Some(s),
        other => {
            map.insert(key.to_string(), other);
            None
        }
    }
}

/// What the span events say: GenAI message events, the choice, an exception.
#[derive(Default)]
struct EventReading {
    input: Vec<Value>,
    output: Vec<Map<String, Value>>,
    finish_reason: Option<String>,
    exception_type: Option<String>,
    exception_message: Option<String>,
    /// Every other event, as JSON.
    other: Vec<Value>,
}

impl EventReading {
    fn read(events: &[Event]) -> Self {
        let mut reading = EventReading::default();
        for event in events {
            let attrs = attributes_to_json(&event.attributes);
            let role = match event.name.as_str() {
                "gen_ai.system.message" => Some("system"),
                "gen_ai.user.message" => Some("user"),
                "gen_ai.assistant.message" => Some("assistant"),
                "gen_ai.tool.message" => Some("tool"),
                _ => None,
            };
            if let Some(role) = role {
                reading.input.push(Value::Object(event_message(attrs, role)));
            } else if event.name == "gen_ai.choice" {
                let mut message = event_message(attrs, "assistant");
                if let Some(reason) = take_str(&mut message, "finish_reason") {
                    reading.finish_reason.get_or_insert(reason);
                }
                message.remove("index");
                reading.output.push(message);
            } else {
                if event.name == "exception" {
                    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
                    reading.exception_type = reading.exception_type.take().or_else(|| text("exception.type"));
                    reading.exception_message = reading.exception_message.take().or_else(|| text("exception.message"));
                }
                reading.other.push(json!({
                    "name": event.name,
                    "time_unix_nano": event.time_unix_nano,
                    "attributes": attrs,
                }));
            }
        }
        reading
    }
}

/// A message from an event's attributes: a `message` object (or JSON text), a `content`
/// (or `gen_ai.event.content` JSON body), and the role the event name implies.
fn event_message(mut attrs: Map<String, Value>, role: &str) -> Map<String, Value> {
    let parse = |v: Value| match v {
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    };
    let mut message = match attrs.remove("message").map(parse) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(body)) = attrs.remove("gen_ai.event.content").map(parse) {
        for (k, v) in body {
            message.entry(k).or_insert(v);
        }
    }
    for (key, value) in attrs {
        let key = key.strip_prefix("gen_ai.message.").map(str::to_string).unwrap_or(key);
        message.entry(key).or_insert(value);
    }
    message.remove("gen_ai.system");
    message.entry("role").or_insert_with(|| Value::String(role.to_string()));
    message
}
