//! Any OpenAI-compatible upstream (OpenAI, vLLM, TGI, llama.cpp server, Ollama): requests go
//! out as they came in, with only the streaming flags forced.

use crate::http::{self, EventTranslator, Flow};
use crate::sse::SseEvent;
use crate::{Capabilities, ChunkStream, Provider, ProviderError};
use async_trait::async_trait;
use gantry_types::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse, StreamOptions,
};
use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

/// How to reach an OpenAI-compatible upstream.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root including its version, e.g. `http://host:8000/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; `None` (or empty) sends no auth header.
    pub api_key: Option<String>,
    /// Sent as `OpenAI-Organization`.
    pub organization: Option<String>,
    /// Further headers sent with every request (e.g. a proxy's auth header).
    pub extra_headers: Vec<(String, String)>,
    /// Limit on establishing the TCP/TLS connection; the call itself is timed by the caller.
    pub connect_timeout: Duration,
}

impl OpenAiConfig {
    /// A config for `base_url` without credentials and a 10 s connect timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            organization: None,
            extra_headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and header values (which may hold keys) are never printed.
        let header_names: Vec<&str> = self.extra_headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("organization", &self.organization)
            .field("extra_headers", &header_names)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A provider speaking the OpenAI Chat Completions and Embeddings APIs.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    client: reqwest::Client,
    chat_url: String,
    embeddings_url: String,
}

impl OpenAiProvider {
    /// Builds the provider; fails only on an unusable config (e.g. a key with a newline).
    pub fn new(config: OpenAiConfig) -> Result<Self, ProviderError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            let (_, value) = http::header(AUTHORIZATION.as_str(), &format!("Bearer {key}"), true)?;
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(org) = config.organization.as_deref().filter(|o| !o.is_empty()) {
            let (name, value) = http::header("openai-organization", org, false)?;
            headers.insert(name, value);
        }
        for (name, value) in &config.extra_headers {
            // Extra headers often carry credentials of their own.
            let (name, value) = http::header(name, value, true)?;
            headers.insert(name, value);
        }
        let base = config.base_url.trim_end_matches('/');
        Ok(Self {
            client: http::build_client(config.connect_timeout, headers)?,
            chat_url: format!("{base}/chat/completions"),
            embeddings_url: format!("{base}/embeddings"),
        })
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: true, streaming: true, embeddings: true, tools: true, json_mode: true }
    }

    async fn chat(&self, mut request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        request.stream = Some(false);
        // OpenAI rejects `stream_options` on a request that does not stream.
        request.stream_options = None;
        let response = http::post_json(&self.client, &self.chat_url, &request).await?;
        let body = http::read_body(response).await?;
        parse_lenient(&body)
    }

    async fn chat_stream(&self, mut request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        request.stream = Some(true);
        // Always asked for, so the gateway learns token counts; it drops the usage chunk
        // again when its own client did not ask.
        request.stream_options = Some(StreamOptions { include_usage: Some(true) });
        let response = http::post_json(&self.client, &self.chat_url, &request).await?;
        let response = http::expect_event_stream(response).await?;
        http::chunk_stream(response, OpenAiEvents::default()).await
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let response = http::post_json(&self.client, &self.embeddings_url, &request).await?;
        let body = http::read_body(response).await?;
        http::parse_body(&body)
    }
}

/// Reads `data:` events until `[DONE]`.
#[derive(Debug, Default)]
struct OpenAiEvents {
    saw_finish_reason: bool,
}

impl EventTranslator for OpenAiEvents {
    fn on_event(&mut self, event: SseEvent, out: &mut VecDeque<ChatCompletionChunk>) -> Result<Flow, ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        if event.event.as_deref() == Some("error") && !data.starts_with('{') {
            let message = http::truncate(data, 1000);
            return Err(ProviderError::Upstream { status: 500, message, retry_after: None });
        }
        let chunk: ChatCompletionChunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(err) => {
                let value: Value = serde_json::from_str(data).map_err(|_| http::invalid_body(&err, data.as_bytes()))?;
                if let Some(error) = value.get("error") {
                    return Err(stream_error(error));
                }
                normalized(value).map_err(|_| http::invalid_body(&err, data.as_bytes()))?
            }
        };
        self.saw_finish_reason |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
        out.push_back(chunk);
        Ok(Flow::Continue)
    }

    fn on_eof(&mut self) -> Option<ProviderError> {
        // Some servers close right after the last chunk without `[DONE]`; once a finish reason
        // has arrived the completion is whole, before that it was cut off.
        (!self.saw_finish_reason)
            .then(|| ProviderError::InvalidResponse("the event stream ended before [DONE]".to_string()))
    }
}

/// An `{"error": {...}}` event sent after the 200 status: the upstream failed mid-stream.
fn stream_error(error: &Value) -> ProviderError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map_or_else(|| error.to_string(), str::to_string);
    // vLLM puts the HTTP status it would have sent in `code`; otherwise it is a server error.
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..600).contains(code))
        .unwrap_or(500);
    ProviderError::Upstream { status, message: http::truncate(&message, 1000), retry_after: None }
}

/// Parses a completion, falling back to `normalized` for servers that deviate from OpenAI.
fn parse_lenient<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProviderError> {
    match serde_json::from_slice(body) {
        Ok(parsed) => Ok(parsed),
        Err(err) => {
            let value: Value = serde_json::from_slice(body).map_err(|_| http::invalid_body(&err, body))?;
            normalized(value).map_err(|_| http::invalid_body(&err, body))
        }
    }
}

/// Fills in what some OpenAI-compatible servers leave out (`object`, `created`, `id`) and maps
/// their finish reasons (TGI's `eos_token`, Anthropic-style `max_tokens`) to OpenAI's.
fn normalized<T: DeserializeOwned>(mut value: Value) -> Result<T, serde_json::Error> {
    if let Some(object) = value.as_object_mut() {
        object.entry("id").or_insert_with(|| Value::from("chatcmpl-upstream"));
        object.entry("created").or_insert_with(|| Value::from(gantry_types::unix_now()));
        object.entry("model").or_insert_with(|| Value::from(""));
        let is_chunk = object
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|choices| choices.iter().any(|c| c.get("delta").is_some()));
        let kind = if is_chunk { "chat.completion.chunk" } else { "chat.completion" };
        object.entry("object").or_insert_with(|| Value::from(kind));
        for choice in object.get_mut("choices").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(reason) = choice.get_mut("finish_reason") {
                if let Some(mapped) = reason.as_str().and_then(finish_reason_alias) {
                    *reason = Value::from(mapped);
                }
            }
        }
    }
    serde_json::from_value(value)
}

fn finish_reason_alias(reason: &str) -> Option<&'static str> {
    match reason {
        "eos_token" | "eos" | "stop_sequence" | "end_turn" => Some("stop"),
        "max_tokens" | "max_length" => Some("length"),
        "tool_call" | "tool_use" => Some("tool_calls"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::FinishReason;

    fn event(data: &str) -> SseEvent {
        SseEvent { event: None, data: data.to_string() }
    }

    #[test]
    fn tolerant_parse_fills_missing_fields_and_maps_finish_reasons() {
        let body =
            br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"eos_token"}]}"#;
        let completion: ChatCompletion = parse_lenient(body).unwrap();
        assert_eq!(completion.object, "chat.completion");
        assert_eq!(completion.choices[0].finish_reason, Some(FinishReason::Stop));
        let err = parse_lenient::<ChatCompletion>(b"<html>").unwrap_err();
        assert!(matches!(err, ProviderError::InvalidResponse(ref m) if m.contains("<html>")), "{err}");
    }

    #[test]
    fn events_become_chunks_until_done() {
        let mut translator = OpenAiEvents::default();
        let mut out = VecDeque::new();
        let chunk = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#;
        assert!(matches!(translator.on_event(event(chunk), &mut out), Ok(Flow::Continue)));
        assert_eq!(out.len(), 1);
        assert!(translator.on_eof().is_some(), "no finish reason yet: cut off");
        assert!(matches!(translator.on_event(event("[DONE]"), &mut out), Ok(Flow::Done)));
    }

    #[test]
    fn error_event_becomes_upstream_error() {
        let mut translator = OpenAiEvents::default();
        let mut out = VecDeque::new();
        let data = r#"{"error":{"message":"overloaded","type":"server_error","code":503}}"#;
        let err = translator.on_event(event(data), &mut out).unwrap_err();
        assert!(matches!(err, ProviderError::Upstream { status: 503, ref message, .. } if message == "overloaded"));
        let err = translator.on_event(event(r#"{"error":"boom"}"#), &mut out).unwrap_err();
        assert!(matches!(err, ProviderError::Upstream { status: 500, ref message, .. } if message == "boom"));
        let err = translator.on_event(event("{not json"), &mut out).unwrap_err();
        assert!(matches!(err, ProviderError::InvalidResponse(_)));
    }

    #[test]
    fn config_debug_redacts_secrets() {
        let mut config = OpenAiConfig::new("http://localhost/v1");
        config.api_key = Some("sk-very-secret".into());
        config.extra_headers = vec![("x-proxy-key".into(), "also-secret".into())];
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("also-secret"), "{printed}");
        assert!(printed.contains("x-proxy-key"));
    }
}
