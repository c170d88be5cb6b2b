//! The gateway's business functions: chat (plain and streamed), embeddings and the model
//! list, each routed, validated and traced. No HTTP types here.

use crate::config::{Config, ModelKind, Price, RoutingPolicy};
use crate::error::GatewayError;
use crate::guardrails::{CallScope, GuardState, Guardrails};
use crate::recorder::{CallRecorder, Outcome, OutputValidator};
use crate::router::{route_call, ModelRoute, Target};
use crate::stream::{carries_output, TracedStream};
use crate::trace_writer::TraceSink;
use crate::validate;
use base64::Engine;
use futures::StreamExt;
use gantry_providers::{Provider, ProviderError};
use gantry_store::{Store, StoreError};
use gantry_types::{
    ChatCompletion, ChatCompletionRequest, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
    EncodingFormat, ModelList, ModelObject, PromptUse, TraceFilter, TraceId, TraceKind, TraceRecord, TraceStatus,
    TraceTree,
};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

const MAX_SPAN_DEPTH: usize = 8;

/// A gateway call's answer together with the id it was traced under.
pub struct Call<T> {
    pub trace_id: TraceId,
    pub result: Result<T, GatewayError>,
}

/// What a call's trace records beyond the request itself: where it nests and which prompt
/// produced it. Plain `/v1` calls use the default (a root trace, no prompt).
#[derive(Default)]
pub struct CallContext {
    /// The parent trace and this span's name in it.
    pub parent: Option<(TraceId, String)>,
    pub prompt: Option<PromptUse>,
    pub output_validator: Option<OutputValidator>,
    /// The API key the call is made with, for its budget.
    pub api_key_id: Option<String>,
    /// The deployed route, release and arm the call was sent to.
    pub deployment: Option<gantry_types::DeploymentUse>,
}

/// The routing table, the trace queue and the store.
pub struct Gateway {
    routes: HashMap<String, ModelRoute>,
    model_order: Vec<String>,
    sink: TraceSink,
    store: Arc<dyn Store>,
    prices: Arc<BTreeMap<String, Price>>,
    created: i64,
    guard: Arc<Guardrails>,
    deployments: crate::deploy::DeploymentCache,
}

impl GatewayError {
    /// The HTTP status a client gets for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::WrongModelKind(_) => 400,
            GatewayError::ModelNotFound(_) => 404,
            GatewayError::RateLimited { .. } => 429,
            GatewayError::Upstream { .. } => 502,
            GatewayError::Timeout(_) => 504,
            GatewayError::Internal(_) => 500,
            GatewayError::Rejected { status, .. } => *status,
        }
    }
}

impl Gateway {
    /// Builds the routing table from the config and the providers built for it.
    pub fn new(
        config: &Config,
        providers: &HashMap<String, Arc<dyn Provider>>,
        store: Arc<dyn Store>,
        sink: TraceSink,
    ) -> Result<Self, GatewayError> {
        let mut routes = HashMap::new();
        let mut model_order = Vec::new();
        for m in &config.models {
            let mut targets = Vec::new();
            for t in &m.targets {
                let provider = providers
                    .get(&t.provider)
                    .ok_or_else(|| GatewayError::Internal(format!("provider '{}' was not built", t.provider)))?;
                targets.push(Target {
                    provider_name: t.provider.clone(),
                    upstream_model: t.model.clone(),
                    provider: provider.clone(),
                });
            }
            model_order.push(m.name.clone());
            routes
                .insert(m.name.clone(), ModelRoute { name: m.name.clone(), kind: m.kind, targets, policy: m.routing });
        }
        // The similarity check of prompt injection embeds with the embedded MiniLM when it is
        // configured, else with the first embedding model there is.
        let embedding_model = config
            .models
            .iter()
            .filter(|m| m.kind == ModelKind::Embeddings)
            .min_by_key(|m| m.name != crate::config::DEFAULT_EMBEDDING_MODEL)
            .map(|m| m.name.clone());
        let guard = Arc::new(Guardrails::new(config.guardrails.clone(), embedding_model, store.clone()));
        // Every record the sink queues is counted, whichever path finished it.
        sink.set_metrics(Arc::new(crate::metrics::GatewayMetrics::new(config)));
        Ok(Self {
            routes,
            model_order,
            sink,
            store,
            prices: Arc::new(config.prices.clone()),
            created: gantry_types::unix_now(),
            guard,
            deployments: crate::deploy::DeploymentCache::default(),
        })
    }

    /// The configured guardrails.
    pub fn guardrails(&self) -> &Arc<Guardrails> {
        &self.guard
    }

    /// Runs the input guardrails on `request`, recording their hits on `recorder`; the state
    /// for the response, or the error that blocks the call.
    async fn guard_input(
        &self,
        recorder: &mut CallRecorder,
        request: &mut ChatCompletionRequest,
        prompt: Option<&str>,
    ) -> Result<GuardState, GatewayError> {
        let scope = CallScope { model: &request.model, prompt, trace_id: recorder.id };
        let (mut state, blocked) = self.guard.check_input(self, &scope, &mut request.messages).await;
        let redacted = state.hits.iter().any(|h| h.action == gantry_types::GuardAction::Redact);
        recorder.add_guard_hits(state.hits.drain(..));
        if let Some(e) = blocked {
            return Err(e);
        }
        if redacted {
            // The trace keeps what the provider was sent, not the values kept from it.
            recorder.set_request(json!(request));
        }
        Ok(state)
    }

    /// The trace queue (for its counters).
    pub fn traces(&self) -> &TraceSink {
        &self.sink
    }

    /// Every Prometheus metric, as the text `/metrics` serves ([`crate::metrics::CONTENT_TYPE`]).
    pub fn metrics_text(&self) -> String {
        match self.sink.metrics() {
            Some(metrics) => metrics.render(self.sink.stats()),
            None => String::new(),
        }
    }

    /// USD for `usage` at the first of `models` that has a price.
    pub fn cost_usd(&self, models: &[&str], usage: Option<gantry_types::Usage>) -> Option<f64> {
        crate::recorder::cost_usd(&self.prices, models, usage)
    }

    /// The store of record.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn recorder(
        &self,
        kind: TraceKind,
        model: &str,
        request: serde_json::Value,
        stream: bool,
        context: CallContext,
    ) -> CallRecorder {
        let mut recorder = self.start_span(kind, model, request, stream);
        if let Some((parent, name)) = context.parent {
            recorder.set_parent(parent, &name);
        }
        if let Some(prompt) = context.prompt {
            recorder.set_prompt(prompt);
        }
        if let Some(validator) = context.output_validator {
            recorder.set_output_validator(validator);
        }
        if let Some(key) = context.api_key_id {
            recorder.set_api_key(key);
        }
        if let Some(deployment) = context.deployment {
            recorder.set_deployment(deployment);
        }
        recorder
    }

    /// Starts recording a span that is not a provider call (a chain run or one of its steps).
    pub fn start_span(&self, kind: TraceKind, model: &str, request: serde_json::Value, stream: bool) -> CallRecorder {
        CallRecorder::start(self.sink.clone(), self.prices.clone(), kind, model, request, stream)
    }

    fn route(&self, name: &str, kind: ModelKind) -> Result<&ModelRoute, GatewayError> {
        let route = self.routes.get(name).ok_or_else(|| GatewayError::ModelNotFound(name.to_string()))?;
        if route.kind != kind {
            let (is, wanted) = match route.kind {
                ModelKind::Chat => ("a chat model", "/v1/chat/completions"),
                ModelKind::Embeddings => ("an embedding model", "/v1/embeddings"),
            };
            return Err(GatewayError::WrongModelKind(format!("'{name}' is {is}: use it with {wanted}")));
        }
        Ok(route)
    }

    fn fail<T>(recorder: CallRecorder, error: GatewayError) -> Call<T> {
        let trace_id = recorder.id;
        recorder.finish(Outcome::failed(&error, error.http_status()));
        Call { trace_id, result: Err(error) }
    }

    /// The deployments the gateway routes by (invalidate after changing one).
    pub fn deployments(&self) -> &crate::deploy::DeploymentCache {
        &self.deployments
    }

    /// A deployed route's name turned into what its release runs; a failure is recorded.
    async fn resolve_deployment(
        &self,
        request: &mut ChatCompletionRequest,
        stream: bool,
    ) -> Result<Option<gantry_types::DeploymentUse>, (TraceId, GatewayError)> {
        if self.routes.contains_key(&request.model) {
            // A configured model is never a route: only the Gantry options need removing.
            if let Some(options) = request.extra.get_mut(crate::prompts::GANTRY_FIELD).and_then(|o| o.as_object_mut()) {
                options.remove("environment");
                options.remove("session");
            }
            return Ok(None);
        }
        match crate::deploy::apply_deployment(&self.deployments, self.store.as_ref(), request).await {
            Ok(usage) => Ok(usage),
            Err(error) => {
                let recorder = self.start_span(TraceKind::Chat, &request.model, json!(request), stream);
                let trace_id = recorder.id;
                recorder.finish(Outcome::failed(&error, error.http_status()));
                Err((trace_id, error))
            }
        }
    }

    /// The request a client's chat request becomes before routing: a deployed route's name
    /// turns into its release, and `model: "prompt:NAME@LABEL"` renders the prompt. A failure
    /// is recorded as a trace.
    pub async fn prepare_chat(
        &self,
        mut request: ChatCompletionRequest,
        stream: bool,
    ) -> Result<(ChatCompletionRequest, CallContext), (TraceId, GatewayError)> {
        let deployment = self.resolve_deployment(&mut request, stream).await?;
        let (request, context) = crate::prompts::prepare(self, request, stream).await?;
        Ok((request, CallContext { deployment, ..context }))
    }

    /// A non-streamed chat completion.
    pub async fn chat(&self, request: ChatCompletionRequest) -> Call<ChatCompletion> {
        match self.prepare_chat(request, false).await {
            Ok((request, context)) => self.chat_with(request, context).await,
            Err((trace_id, error)) => Call { trace_id, result: Err(error) },
        }
    }

    /// A non-streamed chat completion recorded with `context`.
    pub async fn chat_with(&self, mut request: ChatCompletionRequest, context: CallContext) -> Call<ChatCompletion> {
        // Gantry's own options are never sent upstream.
        request.extra.remove(crate::prompts::GANTRY_FIELD);
        let prompt = context.prompt.as_ref().map(|p| p.name.clone());
        let mut recorder = self.recorder(TraceKind::Chat, &request.model, json!(request), false, context);
        let route = match validate::check_chat(&request).and_then(|_| self.route(&request.model, ModelKind::Chat)) {
            Ok(route) => route,
            Err(e) => return Self::fail(recorder, e),
        };
        let mut guard = match self.guard_input(&mut recorder, &mut request, prompt.as_deref()).await {
            Ok(state) => state,
            Err(e) => return Self::fail(recorder, e),
        };
        let routed = route_call(route, recorder.started, |target, _budget| {
            let mut upstream = request.clone();
            upstream.model = target.upstream_model.clone();
            upstream.stream = None;
            async move { target.provider.chat(upstream).await }
        })
        .await;
        recorder.set_attempts(routed.attempts);
        match routed.result {
            Ok((mut completion, _)) => {
                if guard.guards_output() {
                    let checked = self.guard_output(&mut guard, &mut completion);
                    recorder.add_guard_hits(guard.hits.drain(..));
                    if let Err(e) = checked {
                        return Self::fail(recorder, e);
                    }
                }
                let choice = completion.choices.first();
                recorder_finish_ok(
                    recorder.id,
                    recorder,
                    Outcome {
                        status: TraceStatus::Ok,
                        http_status: 200,
                        error: None,
                        response: choice.and_then(|c| serde_json::to_value(&c.message).ok()),
                        finish_reason: choice.and_then(|c| c.finish_reason).map(|r| r.as_str().to_string()),
                        usage: completion.usage,
                        ttft_ms: None,
                    },
                    completion,
                )
            }
            Err(e) => Self::fail(recorder, e),
        }
    }

    /// A streamed chat completion. Fallback happens only until the first output chunk.
    pub async fn chat_stream(&self, request: ChatCompletionRequest) -> Call<TracedStream> {
        match self.prepare_chat(request, true).await {
            Ok((request, context)) => self.chat_stream_with(request, context).await,
            Err((trace_id, error)) => Call { trace_id, result: Err(error) },
        }
    }

    /// A streamed chat completion recorded with `context`.
    pub async fn chat_stream_with(
        &self,
        mut request: ChatCompletionRequest,
        context: CallContext,
    ) -> Call<TracedStream> {
        request.extra.remove(crate::prompts::GANTRY_FIELD);
        let prompt = context.prompt.as_ref().map(|p| p.name.clone());
        let mut recorder = self.recorder(TraceKind::Chat, &request.model, json!(request), true, context);
        let route = match validate::check_chat(&request).and_then(|_| self.route(&request.model, ModelKind::Chat)) {
            Ok(route) => route,
            Err(e) => return Self::fail(recorder, e),
        };
        let guard = match self.guard_input(&mut recorder, &mut request, prompt.as_deref()).await {
            Ok(state) => state,
            Err(e) => return Self::fail(recorder, e),
        };
        let policy: RoutingPolicy = route.policy;
        let routed = route_call(route, recorder.started, |target, budget| {
            let mut upstream = request.clone();
            upstream.model = target.upstream_model.clone();
            upstream.stream = Some(true);
            async move {
                // The time to first token includes waiting for the response headers: an
                // upstream that never answers must not hold the call for the attempt timeout.
                let ttft = policy.ttft_timeout.min(budget);
                let first_deadline = tokio::time::Instant::now() + ttft;
                let no_first_token =
                    || ProviderError::Timeout(format!("no first token within {} ms", ttft.as_millis()));
                let mut stream = tokio::time::timeout_at(first_deadline, target.provider.chat_stream(upstream))
                    .await
                    .map_err(|_| no_first_token())??;
                // Read until the first chunk that carries output, so that a failure before
                // then can still fall back to another target: nothing has reached the client.
                let mut buffered = Vec::new();
                loop {
                    match tokio::time::timeout_at(first_deadline, stream.next()).await {
                        Err(_) => return Err(no_first_token()),
                        Ok(None) => {
                            return Err(ProviderError::InvalidResponse(
                                "the stream ended before any output".to_string(),
                            ))
                        }
                        Ok(Some(Err(e))) => return Err(e),
                        Ok(Some(Ok(chunk))) => {
                            let output = carries_output(&chunk);
                            buffered.push(chunk);
                            if output {
                                return Ok((buffered, stream, Instant::now()));
                            }
                        }
                    }
                }
            }
        })
        .await;
        recorder.set_attempts(routed.attempts);
        match routed.result {
            Ok(((buffered, stream, first_token_at), target)) => {
                let trace_id = recorder.id;
                let deadline = recorder.started + policy.total_timeout;
                let traced = TracedStream::new(
                    buffered,
                    stream,
                    recorder,
                    request.wants_stream_usage(),
                    Some(first_token_at),
                    deadline,
                    policy.total_timeout.as_millis(),
                    target.label(),
                );
                let traced =
                    if guard.guards_output() { traced.with_guard(self.guard.stream_guard(guard)) } else { traced };
                Call { trace_id, result: Ok(traced) }
            }
            Err(e) => Self::fail(recorder, e),
        }
    }

    /// Every choice's text through the output guardrails.
    fn guard_output(&self, state: &mut GuardState, completion: &mut ChatCompletion) -> Result<(), GatewayError> {
        for (index, choice) in completion.choices.iter_mut().enumerate() {
            for text in crate::guardrails::texts_mut(&mut choice.message) {
                self.guard.check_output(state, index, text)?;
            }
        }
        Ok(())
    }

    /// Embeddings for one or more inputs.
    pub async fn embed(&self, request: EmbeddingRequest) -> Call<EmbeddingResponse> {
        self.embed_with(request, CallContext::default()).await
    }

    /// Embeds `texts` with `model`, recorded as a span under `parent` when given: the float
    /// vectors in input order (checked: one per text, finite, of one length) and the tokens read.
    pub async fn embed_texts(
        &self,
        model: &str,
        texts: Vec<String>,
        parent: Option<(TraceId, String)>,
    ) -> Result<(Vec<Vec<f32>>, u32), GatewayError> {
        let count = texts.len();
        let request = EmbeddingRequest {
            model: model.to_string(),
            input: EmbeddingInput::Many(texts),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Default::default(),
        };
        let context = CallContext { parent, ..CallContext::default() };
        let mut response = self.embed_with(request, context).await.result?;
        let invalid = |message: String| GatewayError::Upstream { message, code: "invalid_embeddings" };
        if response.data.len() != count {
            return Err(invalid(format!("'{model}' returned {} vectors for {count} inputs", response.data.len())));
        }
        response.data.sort_by_key(|d| d.index);
        let mut vectors = Vec::with_capacity(count);
        for item in response.data {
            match item.embedding {
                EmbeddingVector::Float(v) if !v.is_empty() && v.iter().all(|x| x.is_finite()) => vectors.push(v),
                EmbeddingVector::Float(_) => {
                    return Err(invalid(format!("'{model}' returned an empty or non-finite vector")))
                }
                EmbeddingVector::Base64(_) => return Err(invalid(format!("'{model}' returned base64 vectors"))),
            }
        }
        let first_len = vectors.first().map_or(0, Vec::len);
        if vectors.iter().any(|v| v.len() != first_len) {
            return Err(invalid(format!("'{model}' returned vectors of different lengths")));
        }
        Ok((vectors, response.usage.prompt_tokens))
    }

    /// Embeddings recorded with `context`.
    pub async fn embed_with(&self, request: EmbeddingRequest, context: CallContext) -> Call<EmbeddingResponse> {
        let mut recorder = self.recorder(TraceKind::Embeddings, &request.model, json!(request), false, context);
        let route = match validate::check_embeddings(&request)
            .and_then(|_| self.route(&request.model, ModelKind::Embeddings))
        {
            Ok(route) => route,
            Err(e) => return Self::fail(recorder, e),
        };
        let routed = route_call(route, recorder.started, |target, _budget| {
            let mut upstream = request.clone();
            upstream.model = target.upstream_model.clone();
            async move { target.provider.embed(upstream).await }
        })
        .await;
        recorder.set_attempts(routed.attempts);
        match routed.result {
            Ok((mut response, _)) => {
                if request.encoding_format == Some(EncodingFormat::Base64) {
                    to_base64(&mut response);
                }
                let dims = response.data.first().map(|d| match &d.embedding {
                    EmbeddingVector::Float(v) => v.len(),
                    EmbeddingVector::Base64(s) => s.len() * 3 / 4 / 4,
                });
                let usage = gantry_types::Usage::new(response.usage.prompt_tokens, 0);
                recorder_finish_ok(
                    recorder.id,
                    recorder,
                    Outcome {
                        status: TraceStatus::Ok,
                        http_status: 200,
                        error: None,
                        response: Some(json!({"vectors": response.data.len(), "dimensions": dims})),
                        finish_reason: None,
                        usage: Some(usage),
                        ttft_ms: None,
                    },
                    response,
                )
            }
            Err(e) => Self::fail(recorder, e),
        }
    }

    /// The configured models, in config order.
    pub fn list_models(&self) -> ModelList {
        let data = self
            .model_order
            .iter()
            .filter_map(|name| self.routes.get(name))
            .map(|route| ModelObject {
                id: route.name.clone(),
                object: "model".to_string(),
                created: self.created,
                owned_by: route.targets.first().map(|t| t.provider_name.clone()).unwrap_or_default(),
            })
            .collect();
        ModelList { object: "list".to_string(), data }
    }

    /// Recorded traces, newest first.
    pub async fn list_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceRecord>, StoreError> {
        self.store.list_traces(filter).await
    }

    /// One recorded trace.
    pub async fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>, StoreError> {
        self.store.get_trace(id).await
    }

    /// One recorded trace with the spans nested under it, recursively.
    pub async fn get_trace_tree(&self, id: TraceId) -> Result<Option<TraceTree>, StoreError> {
        let Some(root) = self.store.get_trace(id).await? else { return Ok(None) };
        let mut tree = TraceTree { record: root, spans: Vec::new() };
        self.attach_spans(&mut tree, 0).await?;
        Ok(Some(tree))
    }

    // Chains nest a few levels at most; the depth bound keeps a corrupt cycle from recursing forever.
    fn attach_spans<'a>(
        &'a self,
        node: &'a mut TraceTree,
        depth: usize,
    ) -> futures::future::BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if depth >= MAX_SPAN_DEPTH {
                return Ok(());
            }
            let filter = TraceFilter {
                parent: Some(node.record.id),
                limit: Some(gantry_store::MAX_LIST_LIMIT),
                ..Default::default()
            };
            for span in self.store.list_traces(&filter).await? {
                let mut child = TraceTree { record: span, spans: Vec::new() };
                self.attach_spans(&mut child, depth + 1).await?;
                node.spans.push(child);
            }
            Ok(())
        })
    }
}

fn recorder_finish_ok<T>(trace_id: TraceId, recorder: CallRecorder, outcome: Outcome, value: T) -> Call<T> {
    recorder.finish(outcome);
    Call { trace_id, result: Ok(value) }
}

fn to_base64(response: &mut EmbeddingResponse) {
    for item in &mut response.data {
        if let EmbeddingVector::Float(v) = &item.embedding {
            let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            item.embedding = EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
}
