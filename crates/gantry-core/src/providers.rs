//! Builds the providers a config names, in one match, plus the embedded engine.

use crate::config::{Config, LocalSettings, ProviderSettings, LOCAL_PROVIDER};
use async_trait::async_trait;
use gantry_local::{LocalChatOptions, LocalChatProvider, LocalEmbeddingProvider, LocalError, Progress};
use gantry_providers::anthropic::{AnthropicConfig, AnthropicProvider};
use gantry_providers::openai::{OpenAiConfig, OpenAiProvider};
use gantry_providers::{Capabilities, ChunkStream, Provider, ProviderError};
use gantry_types::{ChatCompletion, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse};
use std::collections::HashMap;
use std::sync::Arc;

/// Why the providers could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSetupError {
    #[error("provider '{name}': {source}")]
    Remote { name: String, source: ProviderError },
    #[error("the embedded model could not be loaded: {0}")]
    Local(#[from] LocalError),
}

impl ProviderSetupError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderSetupError::Remote { .. } => "provider_setup_failed",
            ProviderSetupError::Local(_) => "local_model_unavailable",
        }
    }
}

/// Reads an API key from the environment variable the config names; a missing variable is
/// not an error (the upstream will answer 401, which is recorded) but is logged.
fn api_key(provider: &str, env: Option<&String>) -> Option<String> {
    let name = env?;
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            tracing::warn!(provider, variable = %name, "API key variable is not set; calls will go out without a key");
            None
        }
    }
}

/// Builds one remote provider from its settings.
pub fn build_remote(name: &str, settings: &ProviderSettings) -> Result<Arc<dyn Provider>, ProviderSetupError> {
    let wrap = |source| ProviderSetupError::Remote { name: name.to_string(), source };
    let provider: Arc<dyn Provider> = match settings {
        ProviderSettings::OpenAi { base_url, api_key_env, connect_timeout } => {
            let mut config = OpenAiConfig::new(base_url.clone());
            config.api_key = api_key(name, api_key_env.as_ref());
            config.connect_timeout = *connect_timeout;
            Arc::new(OpenAiProvider::new(config).map_err(wrap)?)
        }
        ProviderSettings::Anthropic { base_url, api_key_env, api_version, connect_timeout } => Arc::new(
            AnthropicProvider::new(AnthropicConfig {
                base_url: base_url.clone(),
                api_key: api_key(name, api_key_env.as_ref()),
                version: api_version.clone(),
                connect_timeout: *connect_timeout,
            })
            .map_err(wrap)?,
        ),
    };
    Ok(provider)
}

/// The embedded engine as one provider: chat on the GGUF model, embeddings on the BERT model.
pub struct LocalProvider {
    chat: Option<LocalChatProvider>,
    embeddings: Option<LocalEmbeddingProvider>,
}

impl LocalProvider {
    /// Finds (downloading if needed) and loads the embedded models.
    pub async fn load(
        settings: &LocalSettings,
        data_dir: &std::path::Path,
        progress: Progress,
    ) -> Result<Self, LocalError> {
        let chat_path = gantry_local::resolve_chat_model(settings.chat_model.as_deref(), data_dir, progress).await?;
        let embed_dir =
            gantry_local::resolve_embedding_model(settings.embedding_model.as_deref(), data_dir, progress).await?;
        let options = LocalChatOptions {
            threads: settings.threads,
            context_size: settings.context_size,
            max_concurrent: settings.max_concurrent,
        };
        let chat = tokio::task::spawn_blocking(move || LocalChatProvider::load(&chat_path, options))
            .await
            .map_err(|e| LocalError::Engine(e.to_string()))??;
        let embeddings = tokio::task::spawn_blocking(move || LocalEmbeddingProvider::load(&embed_dir))
            .await
            .map_err(|e| LocalError::Engine(e.to_string()))??;
        Ok(Self { chat: Some(chat), embeddings: Some(embeddings) })
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn capabilities(&self) -> Capabilities {
        let chat = self.chat.as_ref().map(|c| c.capabilities());
        Capabilities {
            chat: chat.is_some_and(|c| c.chat),
            streaming: chat.is_some_and(|c| c.streaming),
            embeddings: self.embeddings.is_some(),
            tools: chat.is_some_and(|c| c.tools),
            json_mode: chat.is_some_and(|c| c.json_mode),
        }
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        match &self.chat {
            Some(p) => p.chat(request).await,
            None => Err(ProviderError::Unsupported("no local chat model is loaded".into())),
        }
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        match &self.chat {
            Some(p) => p.chat_stream(request).await,
            None => Err(ProviderError::Unsupported("no local chat model is loaded".into())),
        }
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        match &self.embeddings {
            Some(p) => p.embed(request).await,
            None => Err(ProviderError::Unsupported("no local embedding model is loaded".into())),
        }
    }
}

/// Every provider the config names, keyed by name; the embedded engine under `local`.
pub async fn build_all(
    config: &Config,
    progress: Progress,
) -> Result<HashMap<String, Arc<dyn Provider>>, ProviderSetupError> {
    let mut providers = HashMap::new();
    for (name, settings) in &config.providers {
        providers.insert(name.clone(), build_remote(name, settings)?);
    }
    let local_used = config.models.iter().any(|m| m.targets.iter().any(|t| t.provider == LOCAL_PROVIDER));
    if config.local.enabled && local_used {
        let local = LocalProvider::load(&config.local, &config.data_dir, progress).await?;
        providers.insert(LOCAL_PROVIDER.to_string(), Arc::new(local) as Arc<dyn Provider>);
    }
    Ok(providers)
}
