//! Anthropic's Messages API behind the OpenAI interface: requests and responses are translated
//! both ways, streams event by event.

mod request;
mod response;

pub use request::DEFAULT_MAX_TOKENS;

use crate::http;
use crate::{Capabilities, ChunkStream, Provider, ProviderError};
use async_trait::async_trait;
use gantry_types::{ChatCompletion, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse};
use reqwest::header::HeaderMap;
use response::{AnthropicEvents, MessagesResponse};
use std::time::Duration;

/// How to reach the Anthropic API.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// The API root without `/v1`, e.g. `https://api.anthropic.com`.
    pub base_url: String,
    /// Sent as `x-api-key`.
    pub api_key: Option<String>,
    /// Sent as `anthropic-version`.
    pub version: String,
    /// Limit on establishing the TCP/TLS connection; the call itself is timed by the caller.
    pub connect_timeout: Duration,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.anthropic.com".to_string(),
            api_key: None,
            version: "2023-06-01".to_string(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A provider speaking Anthropic's Messages API.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    client: reqwest::Client,
    messages_url: String,
}

impl AnthropicProvider {
    /// Builds the provider; fails only on an unusable config (e.g. a key with a newline).
    pub fn new(config: AnthropicConfig) -> Result<Self, ProviderError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
            let (name, value) = http::header("x-api-key", key, true)?;
            headers.insert(name, value);
        }
        let (name, value) = http::header("anthropic-version", &config.version, false)?;
        headers.insert(name, value);
        // Accept a base URL given with its `/v1`, a common slip when copying from OpenAI configs.
        let base = config.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        Ok(Self {
            client: http::build_client(config.connect_timeout, headers)?,
            messages_url: format!("{base}/v1/messages"),
        })
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: true, streaming: true, embeddings: false, tools: true, json_mode: false }
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        let body = request::messages_request(&request, false)?;
        let response = http::post_json(&self.client, &self.messages_url, &body).await?;
        let bytes = http::read_body(response).await?;
        let parsed: MessagesResponse = http::parse_body(&bytes)?;
        Ok(response::to_completion(parsed))
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        let body = request::messages_request(&request, true)?;
        let response = http::post_json(&self.client, &self.messages_url, &body).await?;
        let response = http::expect_event_stream(response).await?;
        http::chunk_stream(response, AnthropicEvents::new()).await
    }

    async fn embed(&self, _request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::Unsupported("Anthropic has no embeddings API".to_string()))
    }
}
