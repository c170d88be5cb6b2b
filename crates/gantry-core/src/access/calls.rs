//! `/v1` calls made by a principal: the model allow-list, rate limits and budget are checked
//! before the call, and the trace is recorded under the caller's key.

use super::{AccessControl, AccessError, Admission, Estimate, Principal};
use crate::gateway::{Call, CallContext, Gateway};
use crate::prompts::GANTRY_FIELD;
use crate::stream::TracedStream;
use crate::GatewayError;
use futures::Stream;
use gantry_types::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, EmbeddingRequest, EmbeddingResponse, TraceId,
};
use serde_json::{Map, Value};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A streamed completion that holds its admission until the stream ends or is dropped, so the
/// call's reservation lasts as long as the call.
pub struct AdmittedStream {
    // Declared first so it is dropped first: the trace (and with it the actual cost) is
    // recorded before the reservation is released.
    stream: TracedStream,
    _admission: Admission,
}

impl Stream for AdmittedStream {
    type Item = Result<ChatCompletionChunk, GatewayError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

/// A chat request ready to send, its trace context, and the admission it runs under.
type Admitted = (ChatCompletionRequest, CallContext, Admission);

/// A key that belongs to an environment runs its calls to deployed routes there; asking for
/// another one (header or `gantry.environment`) is refused rather than silently ignored.
fn bind_environment(
    principal: &Principal,
    mut request: ChatCompletionRequest,
) -> Result<ChatCompletionRequest, AccessError> {
    let Some(environment) = principal.key.as_ref().and_then(|k| k.environment.clone()) else {
        return Ok(request);
    };
    let options = request.extra.entry(GANTRY_FIELD).or_insert_with(|| Value::Object(Map::new()));
    let Some(options) = options.as_object_mut() else { return Ok(request) };
    match options.get("environment").and_then(Value::as_str) {
        Some(requested) if requested != environment => {
            Err(AccessError::EnvironmentNotAllowed { key: environment, requested: requested.to_string() })
        }
        _ => {
            options.insert("environment".to_string(), Value::String(environment));
            Ok(request)
        }
    }
}

impl AccessControl {
    /// Renders a prompt model if needed, then admits the call on the model that is called.
    async fn admit_chat(
        &self,
        gateway: &Gateway,
        principal: &Principal,
        request: ChatCompletionRequest,
        stream: bool,
    ) -> Result<Result<Admitted, (TraceId, GatewayError)>, AccessError> {
        let request = bind_environment(principal, request)?;
        let (request, mut context) = match gateway.prepare_chat(request, stream).await {
            Ok(prepared) => prepared,
            Err(failed) => return Ok(Err(failed)),
        };
        let admission = self.admit(principal, &Estimate::chat(&request)).await?;
        context.api_key_id = principal.key_id();
        Ok(Ok((request, context, admission)))
    }

    /// A non-streamed chat completion for `principal`; `Err` when access control refuses it
    /// before anything is called.
    pub async fn chat(
        &self,
        gateway: &Gateway,
        principal: &Principal,
        request: ChatCompletionRequest,
    ) -> Result<Call<ChatCompletion>, AccessError> {
        match self.admit_chat(gateway, principal, request, false).await? {
            Ok((request, context, admission)) => {
                let call = gateway.chat_with(request, context).await;
                drop(admission);
                Ok(call)
            }
            Err((trace_id, error)) => Ok(Call { trace_id, result: Err(error) }),
        }
    }

    /// A streamed chat completion for `principal`.
    pub async fn chat_stream(
        &self,
        gateway: &Gateway,
        principal: &Principal,
        request: ChatCompletionRequest,
    ) -> Result<Call<AdmittedStream>, AccessError> {
        match self.admit_chat(gateway, principal, request, true).await? {
            Ok((request, context, admission)) => {
                let call = gateway.chat_stream_with(request, context).await;
                let result = call.result.map(|stream| AdmittedStream { stream, _admission: admission });
                Ok(Call { trace_id: call.trace_id, result })
            }
            Err((trace_id, error)) => Ok(Call { trace_id, result: Err(error) }),
        }
    }

    /// Embeddings for `principal`.
    pub async fn embed(
        &self,
        gateway: &Gateway,
        principal: &Principal,
        request: EmbeddingRequest,
    ) -> Result<Call<EmbeddingResponse>, AccessError> {
        let admission = self.admit(principal, &Estimate::embeddings(&request)).await?;
        let context = CallContext { api_key_id: principal.key_id(), ..CallContext::default() };
        let call = gateway.embed_with(request, context).await;
        drop(admission);
        Ok(call)
    }
}
