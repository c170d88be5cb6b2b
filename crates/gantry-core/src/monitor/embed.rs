//! Where drift gets sentence embeddings: the embedded MiniLM loaded in-process (the CLI), or an
//! embeddings model through the gateway (the server, where every model call is traced).

use crate::{Collections, Gateway};
use async_trait::async_trait;
use gantry_local::LocalEmbeddingProvider;
use gantry_types::{TraceError, TraceKind, TraceStatus};
use serde_json::json;
use std::sync::Arc;

/// Texts embedded in one gateway call: small enough that each embeddings span stays readable.
const GATEWAY_BATCH: usize = 128;

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EmbedError(pub String);

/// Turns texts into vectors, one per text, in order.
#[async_trait]
pub trait TextEmbedder: Send + Sync {
    /// The model's name, for the report.
    fn model(&self) -> String;
    /// One vector per text, in order.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// The embedded sentence-embedding model, called directly (blocking work off the runtime).
pub struct LocalEmbedder {
    provider: LocalEmbeddingProvider,
    name: String,
}

impl LocalEmbedder {
    /// Wraps a loaded model; `name` is what the report calls it.
    pub fn new(provider: LocalEmbeddingProvider, name: impl Into<String>) -> Self {
        Self { provider, name: name.into() }
    }
}

#[async_trait]
impl TextEmbedder for LocalEmbedder {
    fn model(&self) -> String {
        self.name.clone()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let provider = self.provider.clone();
        tokio::task::spawn_blocking(move || provider.embed_texts(&texts))
            .await
            .map_err(|e| EmbedError(format!("the embedding task failed: {e}")))?
            .map_err(|e| EmbedError(e.to_string()))
    }
}

/// An embeddings model of the gateway's config; the calls are recorded as spans under one
/// `Embeddings` trace per drift check.
pub struct GatewayEmbedder {
    gateway: Arc<Gateway>,
    model: String,
}

impl GatewayEmbedder {
    /// Embeds with `model`, a configured embeddings model.
    pub fn new(gateway: Arc<Gateway>, model: impl Into<String>) -> Self {
        Self { gateway, model: model.into() }
    }

    /// The embedder a running service uses for drift: its first configured embeddings model
    /// (the embedded MiniLM unless the config lists another first); `None` without one.
    pub fn for_service(gateway: &Arc<Gateway>, collections: &Collections) -> Option<Self> {
        collections.default_embedding_model().map(|model| Self::new(gateway.clone(), model))
    }
}

#[async_trait]
impl TextEmbedder for GatewayEmbedder {
    fn model(&self) -> String {
        self.model.clone()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let request = json!({"purpose": "drift detection", "texts": texts.len()});
        let span = self.gateway.start_span(TraceKind::Embeddings, &self.model, request, false);
        let parent = span.id;
        let mut vectors = Vec::with_capacity(texts.len());
        let mut failure = None;
        for batch in texts.chunks(GATEWAY_BATCH) {
            match self.gateway.embed_texts(&self.model, batch.to_vec(), Some((parent, "embed batch".into()))).await {
                Ok((v, _)) => vectors.extend(v),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let (status, http_status, error) = match &failure {
            None => (TraceStatus::Ok, 200, None),
            Some(e) => (
                TraceStatus::Error,
                e.http_status(),
                Some(TraceError { code: e.code().to_string(), message: e.to_string() }),
            ),
        };
        span.finish(crate::recorder::Outcome {
            status,
            http_status,
            error,
            response: Some(json!({"vectors": vectors.len()})),
            finish_reason: None,
            usage: None,
            ttft_ms: None,
        });
        match failure {
            None => Ok(vectors),
            Some(e) => Err(EmbedError(format!("embedding with '{}' failed: {e}", self.model))),
        }
    }
}
