//! `LocalChatProvider`: a GGUF chat model run in-process by llama.cpp.

mod sampling;
mod worker;

use crate::gguf;
use crate::template::ChatTemplate;
use crate::LocalError;
use async_trait::async_trait;
use futures::StreamExt;
use gantry_providers::{Capabilities, ChunkStream, Provider, ProviderError};
use gantry_types::{
    unix_now, ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ChunkDelta,
    EmbeddingRequest, EmbeddingResponse, FinishReason, Role, Usage,
};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use sampling::SamplingParams;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::UnboundedReceiver;
use worker::{Event, Job, WorkerConfig};

/// Most sequences one context decodes together.
const MAX_SEQUENCES: usize = 64;

/// How the local chat engine is sized.
///
/// Memory: the KV cache holds `context_size * max_concurrent` tokens, allocated up front
/// (about 23 KB a token for SmolLM2-135M, so ~190 MB with the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChatOptions {
    /// CPU threads llama.cpp uses (0: all available cores).
    pub threads: usize,
    /// Context window of each request, prompt plus answer, in tokens (capped at the model's
    /// training context).
    pub context_size: u32,
    /// Requests decoded together; more wait in a queue.
    pub max_concurrent: usize,
}

impl Default for LocalChatOptions {
    fn default() -> Self {
        Self { threads: 2, context_size: 2048, max_concurrent: 4 }
    }
}

/// A GGUF chat model served by llama.cpp on a dedicated generation thread.
pub struct LocalChatProvider {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    model: Arc<LlamaModel>,
    template: ChatTemplate,
    context_size: u32,
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for LocalChatProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalChatProvider")
            .field("path", &self.inner.path)
            .field("context_size", &self.inner.context_size)
            .finish_non_exhaustive()
    }
}

/// The process-wide llama.cpp backend (it can be initialised only once).
fn backend() -> Result<&'static LlamaBackend, LocalError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // Before init, so even start-up messages go to tracing (target "llama-cpp-2")
            // instead of stderr.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LocalError::Engine(format!("llama.cpp backend initialisation failed: {e}")))
}

impl LocalChatProvider {
    /// Loads a GGUF model and starts its generation thread. Blocking (reads the whole file);
    /// call it from `spawn_blocking` in async code.
    pub fn load(path: &Path, options: LocalChatOptions) -> Result<Self, LocalError> {
        if options.context_size == 0 {
            return Err(LocalError::Engine("context_size must be at least 1".into()));
        }
        let info = gguf::inspect(path)?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| LocalError::Load { path: path.to_path_buf(), reason: e.to_string() })?;
        let model = Arc::new(model);
        let trained = model.n_ctx_train();
        let context_size = if trained > 0 { options.context_size.min(trained) } else { options.context_size };
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let config = WorkerConfig {
            threads: i32::try_from(threads).unwrap_or(i32::MAX),
            context_size,
            max_sequences: options.max_concurrent.clamp(1, MAX_SEQUENCES) as u32,
        };
        let jobs = worker::spawn(backend, Arc::clone(&model), config)?;
        let template = ChatTemplate::new(info.chat_template.as_deref(), &info.bos_token, &info.eos_token);
        tracing::info!(
            path = %path.display(),
            architecture = %info.architecture,
            context_size,
            threads,
            max_concurrent = config.max_sequences,
            "local chat model loaded"
        );
        Ok(Self { inner: Arc::new(Inner { path: path.to_path_buf(), model, template, context_size, jobs }) })
    }

    /// The context window each request gets, in tokens.
    pub fn context_size(&self) -> u32 {
        self.inner.context_size
    }

    /// The model file this provider serves.
    pub fn model_path(&self) -> &Path {
        &self.inner.path
    }

    /// Validates, renders and tokenises a request (off the async runtime) and queues it.
    async fn submit(&self, request: &ChatCompletionRequest) -> Result<UnboundedReceiver<Event>, ProviderError> {
        check_request(request)?;
        let sampling = SamplingParams::from_request(request)?;
        let inner = Arc::clone(&self.inner);
        let messages = request.messages.clone();
        let limit = request.output_token_limit();
        let stops = request.stop_sequences();
        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        let job = tokio::task::spawn_blocking(move || -> Result<Job, ProviderError> {
            let prompt = inner.template.render(&messages).map_err(ProviderError::InvalidRequest)?;
            let tokens = inner.model.vocab().tokenize(prompt.as_bytes(), true, true);
            let prompt_tokens = tokens.len() as u32;
            if tokens.is_empty() {
                return Err(ProviderError::InvalidRequest("the prompt is empty".into()));
            }
            if prompt_tokens >= inner.context_size {
                return Err(ProviderError::InvalidRequest(format!(
                    "the prompt is {prompt_tokens} tokens but the local model's context window is {} tokens; shorten the conversation",
                    inner.context_size
                )));
            }
            let room = inner.context_size - prompt_tokens;
            Ok(Job {
                prompt: tokens,
                max_new_tokens: limit.map_or(room, |l| l.min(room)),
                sampling,
                stops,
                events,
            })
        })
        .await
        .map_err(|e| ProviderError::Internal(format!("prompt preparation failed: {e}")))??;
        tracing::debug!(
            prompt_tokens = job.prompt.len(),
            max_new_tokens = job.max_new_tokens,
            "queueing local generation"
        );
        self.inner
            .jobs
            .send(job)
            .map_err(|_| ProviderError::Internal("the local generation thread has stopped".into()))?;
        Ok(receiver)
    }
}

/// Rejects what the local engine cannot do before any work starts.
fn check_request(request: &ChatCompletionRequest) -> Result<(), ProviderError> {
    if request.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ProviderError::Unsupported(format!("the local model {:?} does not support tools", request.model)));
    }
    if let Some(n) = request.n.filter(|&n| n != 1) {
        return Err(ProviderError::InvalidRequest(format!(
            "the local model generates one choice per request (n must be 1, got {n})"
        )));
    }
    if request.messages.is_empty() {
        return Err(ProviderError::InvalidRequest("messages must not be empty".into()));
    }
    if request.output_token_limit() == Some(0) {
        return Err(ProviderError::InvalidRequest("max_tokens must be at least 1".into()));
    }
    Ok(())
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

#[async_trait]
impl Provider for LocalChatProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: true, streaming: true, embeddings: false, tools: false, json_mode: true }
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        let mut events = self.submit(&request).await?;
        let mut text = String::new();
        loop {
            match events.recv().await {
                Some(Event::Text(piece)) => text.push_str(&piece),
                Some(Event::Done { finish_reason, prompt_tokens, completion_tokens }) => {
                    return Ok(ChatCompletion {
                        id: completion_id(),
                        object: "chat.completion".to_string(),
                        created: unix_now(),
                        model: request.model,
                        choices: vec![ChatChoice {
                            index: 0,
                            message: ChatMessage::text(Role::Assistant, text),
                            finish_reason: Some(finish_reason),
                            logprobs: None,
                        }],
                        usage: Some(Usage::new(prompt_tokens, completion_tokens)),
                        system_fingerprint: None,
                    });
                }
                Some(Event::Failed(reason)) => return Err(ProviderError::Internal(reason)),
                None => return Err(ProviderError::Internal("the local generation thread stopped mid-answer".into())),
            }
        }
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        let events = self.submit(&request).await?;
        let id = completion_id();
        let created = unix_now();
        let role = ChunkDelta { role: Some(Role::Assistant), content: Some(String::new()), ..Default::default() };
        let first = ChatCompletionChunk::delta(&id, created, &request.model, role, None);
        let state = StreamState {
            events,
            id,
            created,
            model: request.model,
            queue: VecDeque::from([Ok(first)]),
            finished: false,
        };
        Ok(futures::stream::unfold(state, StreamState::next).boxed())
    }

    async fn embed(&self, _request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Err(ProviderError::Unsupported(
            "the local chat model does not produce embeddings; use the local embedding model".into(),
        ))
    }
}

/// Turns worker events into chunks; dropping it drops the receiver, which cancels the job.
struct StreamState {
    events: UnboundedReceiver<Event>,
    id: String,
    created: i64,
    model: String,
    queue: VecDeque<Result<ChatCompletionChunk, ProviderError>>,
    finished: bool,
}

impl StreamState {
    async fn next(mut self) -> Option<(Result<ChatCompletionChunk, ProviderError>, Self)> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some((item, self));
            }
            if self.finished {
                return None;
            }
            match self.events.recv().await {
                Some(Event::Text(text)) => {
                    let delta = ChunkDelta { content: Some(text), ..Default::default() };
                    self.push_delta(delta, None);
                }
                Some(Event::Done { finish_reason, prompt_tokens, completion_tokens }) => {
                    self.push_delta(ChunkDelta::default(), Some(finish_reason));
                    let usage = Usage::new(prompt_tokens, completion_tokens);
                    let chunk = ChatCompletionChunk::usage_only(&self.id, self.created, &self.model, usage);
                    self.queue.push_back(Ok(chunk));
                    self.finished = true;
                }
                Some(Event::Failed(reason)) => {
                    self.queue.push_back(Err(ProviderError::Internal(reason)));
                    self.finished = true;
                }
                None => {
                    self.queue.push_back(Err(ProviderError::Internal(
                        "the local generation thread stopped mid-answer".into(),
                    )));
                    self.finished = true;
                }
            }
        }
    }

    fn push_delta(&mut self, delta: ChunkDelta, finish_reason: Option<FinishReason>) {
        let chunk = ChatCompletionChunk::delta(&self.id, self.created, &self.model, delta, finish_reason);
        self.queue.push_back(Ok(chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::{FunctionDefinition, Tool, ToolKind};

    #[test]
    fn check_request_rejects_what_the_engine_cannot_do() {
        let mut r = ChatCompletionRequest::new("local", vec![ChatMessage::text(Role::User, "hi")]);
        assert!(check_request(&r).is_ok());
        r.n = Some(2);
        assert!(matches!(check_request(&r), Err(ProviderError::InvalidRequest(_))));
        r.n = None;
        r.max_tokens = Some(0);
        assert!(matches!(check_request(&r), Err(ProviderError::InvalidRequest(_))));
        r.max_tokens = None;
        r.tools = Some(vec![Tool {
            kind: ToolKind::Function,
            function: FunctionDefinition { name: "f".into(), description: None, parameters: None, strict: None },
        }]);
        let err = check_request(&r).unwrap_err();
        assert!(matches!(&err, ProviderError::Unsupported(m) if m.contains("does not support tools")), "{err}");
        let empty = ChatCompletionRequest::new("local", vec![]);
        assert!(matches!(check_request(&empty), Err(ProviderError::InvalidRequest(_))));
    }
}
