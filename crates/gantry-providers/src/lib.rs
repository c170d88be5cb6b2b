//! The `Provider` trait every model backend implements, its error type, and the remote
//! providers: `openai` (any OpenAI-compatible base URL) and `anthropic` (the Messages API).

pub mod anthropic;
mod http;
pub mod openai;
pub mod sse;

pub use anthropic::{AnthropicConfig, AnthropicProvider};
/// The wait an HTTP answer asks for (`retry-after-ms`, else `Retry-After`), for other callers of webhooks and APIs.
pub use http::retry_after;
pub use openai::{OpenAiConfig, OpenAiProvider};

use async_trait::async_trait;
use futures::stream::BoxStream;
use gantry_types::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse};
use std::time::Duration;

/// A stream of completion chunks; dropping it cancels the upstream request.
pub type ChunkStream = BoxStream<'static, Result<ChatCompletionChunk, ProviderError>>;

/// What a provider can do; the router skips targets that cannot serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub chat: bool,
    pub streaming: bool,
    pub embeddings: bool,
    pub tools: bool,
    pub json_mode: bool,
}

/// A model backend. `request.model` is already the upstream model name.
#[async_trait]
pub trait Provider: Send + Sync {
    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// One completion.
    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError>;

    /// A streamed completion. Errors before the first chunk come back as `Err`; later ones
    /// as items of the stream.
    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError>;

    /// Embeddings for one or more inputs.
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError>;
}

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The upstream answered with an error status.
    #[error("upstream returned HTTP {status}: {message}")]
    Upstream {
        status: u16,
        message: String,
        /// From the upstream's `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// The upstream could not be reached.
    #[error("could not connect to upstream: {0}")]
    Connect(String),
    /// The upstream did not answer in time.
    #[error("upstream timed out: {0}")]
    Timeout(String),
    /// The upstream's answer could not be understood.
    #[error("invalid response from upstream: {0}")]
    InvalidResponse(String),
    /// The request asks for something this provider does not do (e.g. tools on a local model).
    #[error("{0}")]
    Unsupported(String),
    /// The request cannot be served as given (e.g. the prompt exceeds the context window).
    #[error("{0}")]
    InvalidRequest(String),
    /// A failure inside the provider itself (e.g. the local engine).
    #[error("provider failure: {0}")]
    Internal(String),
}

impl ProviderError {
    /// Stable machine code, recorded on traces.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Upstream { status: 429, .. } => "upstream_rate_limited",
            ProviderError::Upstream { .. } => "upstream_error",
            ProviderError::Connect(_) => "upstream_unreachable",
            ProviderError::Timeout(_) => "upstream_timeout",
            ProviderError::InvalidResponse(_) => "upstream_invalid_response",
            ProviderError::Unsupported(_) => "unsupported",
            ProviderError::InvalidRequest(_) => "invalid_request",
            ProviderError::Internal(_) => "provider_internal",
        }
    }

    /// Whether another try (same target or the next) may succeed: 429, 5xx, 408, connection
    /// failures and timeouts. A 4xx means the request itself is wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Upstream { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            ProviderError::Connect(_) | ProviderError::Timeout(_) => true,
            ProviderError::InvalidResponse(_) => true,
            ProviderError::Unsupported(_) | ProviderError::InvalidRequest(_) | ProviderError::Internal(_) => false,
        }
    }

    /// The upstream HTTP status, if the upstream answered.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            ProviderError::Upstream { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The upstream's requested wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::Upstream { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
