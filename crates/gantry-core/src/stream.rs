//! The stream a client receives: chunks pass through as they arrive while the trace is built
//! alongside; the call is recorded when the stream ends, fails, times out or is dropped
//! because the client went away (which also drops, and so cancels, the upstream request).

use crate::error::GatewayError;
use crate::guardrails::StreamGuard;
use crate::recorder::{CallRecorder, Outcome};
use futures::Stream;
use gantry_providers::ChunkStream;
use gantry_types::{ChatCompletionChunk, ChunkAccumulator, TraceError, TraceStatus};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::time::Sleep;

/// A traced completion stream.
pub struct TracedStream {
    buffered: VecDeque<ChatCompletionChunk>,
    inner: ChunkStream,
    recorder: Option<CallRecorder>,
    accumulator: ChunkAccumulator,
    include_usage: bool,
    first_token_at: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
    total_timeout_ms: u128,
    target: String,
    /// The output guardrails, when the call has any: text passes through them first.
    guard: Option<StreamGuard>,
    /// The last upstream chunk with a choice, the model of a chunk for the guard's tail.
    last_chunk: Option<ChatCompletionChunk>,
    /// The upstream has ended; what is left in `buffered` is the guard's held-back tail.
    ended: bool,
}

impl TracedStream {
    /// Wraps `inner`, whose first chunks were already read into `buffered` while routing.
    #[allow(clippy::too_many_arguments)] // one private call site, in the gateway
    pub(crate) fn new(
        buffered: Vec<ChatCompletionChunk>,
        inner: ChunkStream,
        recorder: CallRecorder,
        include_usage: bool,
        first_token_at: Option<Instant>,
        deadline: Instant,
        total_timeout_ms: u128,
        target: String,
    ) -> Self {
        Self {
            buffered: buffered.into(),
            inner,
            recorder: Some(recorder),
            accumulator: ChunkAccumulator::default(),
            include_usage,
            first_token_at,
            deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
            total_timeout_ms,
            target,
            guard: None,
            last_chunk: None,
            ended: false,
        }
    }

    /// Passes the output through `guard` before the client sees it.
    pub(crate) fn with_guard(mut self, guard: StreamGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The trace id of this call.
    pub fn trace_id(&self) -> Option<gantry_types::TraceId> {
        self.recorder.as_ref().map(|r| r.id)
    }

    fn ttft_ms(&self) -> Option<f64> {
        let recorder = self.recorder.as_ref()?;
        self.first_token_at.map(|t| t.duration_since(recorder.started).as_secs_f64() * 1000.0)
    }

    fn finish(&mut self, status: TraceStatus, error: Option<&GatewayError>) {
        let ttft_ms = self.ttft_ms();
        if let Some(mut recorder) = self.recorder.take() {
            if let Some(guard) = self.guard.as_mut() {
                recorder.add_guard_hits(guard.take_hits());
            }
            let message = self.accumulator.message();
            recorder.finish(Outcome {
                status,
                http_status: 200,
                error: match (status, error) {
                    (_, Some(e)) => Some(TraceError { code: e.code().to_string(), message: e.to_string() }),
                    (TraceStatus::Cancelled, None) => Some(TraceError {
                        code: "client_disconnected".to_string(),
                        message: "the client disconnected before the stream ended; the upstream request was cancelled"
                            .to_string(),
                    }),
                    _ => None,
                },
                response: serde_json::to_value(&message).ok(),
                finish_reason: self.accumulator.finish_reason.map(|r| r.as_str().to_string()),
                usage: self.accumulator.usage,
                ttft_ms,
            });
        }
    }

    /// Updates the trace with `chunk`; false when the client must not see it.
    fn observe(&mut self, chunk: &ChatCompletionChunk) -> bool {
        self.accumulator.push(chunk);
        if self.first_token_at.is_none() && carries_output(chunk) {
            self.first_token_at = Some(Instant::now());
        }
        let usage_only = chunk.choices.is_empty() && chunk.usage.is_some();
        !usage_only || self.include_usage
    }

    /// The chunk the client gets for `chunk` from upstream, after the guardrails: `None` when
    /// there is nothing to send yet (text held back).
    fn deliver(&mut self, mut chunk: ChatCompletionChunk) -> Option<Result<ChatCompletionChunk, GatewayError>> {
        if let Some(guard) = self.guard.as_mut() {
            if let Some(choice) = chunk.choices.first_mut() {
                let original = choice.delta.content.take();
                let delta = original.clone().unwrap_or_default();
                let mut released = match guard.push(&delta) {
                    Ok(text) => text,
                    Err(e) => return Some(Err(e)),
                };
                // The end of a choice releases what is still held, checked whole.
                if choice.finish_reason.is_some() {
                    match guard.finish() {
                        Ok(rest) => released.push_str(&rest),
                        Err(e) => return Some(Err(e)),
                    }
                }
                let had_text = !delta.is_empty();
                if !released.is_empty() {
                    choice.delta.content = Some(released);
                } else if !had_text {
                    choice.delta.content = original;
                } else if had_text
                    && choice.finish_reason.is_none()
                    && choice.delta.tool_calls.is_none()
                    && choice.delta.role.is_none()
                {
                    // Only held-back text: the trace still sees that time passed, the client waits.
                    return None;
                }
            }
        }
        if !self.observe(&chunk) {
            return None;
        }
        if !self.include_usage {
            chunk.usage = None;
        }
        Some(Ok(chunk))
    }

    /// The guard's held-back text when the upstream ends without a finish reason.
    fn guard_tail(
        &mut self,
        template: Option<ChatCompletionChunk>,
    ) -> Result<Option<ChatCompletionChunk>, GatewayError> {
        let Some(guard) = self.guard.as_mut() else { return Ok(None) };
        let rest = guard.finish()?;
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(mut chunk) = template else { return Ok(None) };
        chunk.usage = None;
        chunk.choices.truncate(1);
        if let Some(choice) = chunk.choices.first_mut() {
            choice.delta = Default::default();
            choice.delta.content = Some(rest);
            choice.finish_reason = None;
        }
        Ok(Some(chunk))
    }

    fn fail(&mut self, err: GatewayError) -> Poll<Option<Result<ChatCompletionChunk, GatewayError>>> {
        self.finish(TraceStatus::Error, Some(&err));
        Poll::Ready(Some(Err(err)))
    }
}

/// Whether a chunk carries generated output (text, a tool call, or the end).
pub(crate) fn carries_output(chunk: &ChatCompletionChunk) -> bool {
    chunk.choices.iter().any(|c| {
        c.delta.content.as_deref().is_some_and(|s| !s.is_empty())
            || c.delta.tool_calls.is_some()
            || c.finish_reason.is_some()
    })
}

impl Stream for TracedStream {
    type Item = Result<ChatCompletionChunk, GatewayError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.recorder.is_none() {
            return Poll::Ready(None);
        }
        while let Some(chunk) = this.buffered.pop_front() {
            match this.deliver(chunk) {
                Some(Ok(chunk)) => return Poll::Ready(Some(Ok(chunk))),
                Some(Err(e)) => return this.fail(e),
                None => {}
            }
        }
        if this.ended {
            this.finish(TraceStatus::Ok, None);
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let err = GatewayError::Timeout(format!(
                "{} did not finish the stream within the total timeout of {} ms",
                this.target, this.total_timeout_ms
            ));
            return this.fail(err);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    let template = this.last_chunk.take();
                    match this.guard_tail(template) {
                        Ok(Some(tail)) => this.buffered.push_back(tail),
                        Ok(None) => {}
                        Err(e) => return this.fail(e),
                    }
                    return self.poll_next(cx);
                }
                Poll::Ready(Some(Err(e))) => {
                    let err = GatewayError::from_provider(&e, &this.target);
                    return this.fail(err);
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if this.guard.is_some() && !chunk.choices.is_empty() {
                        this.last_chunk = Some(chunk.clone());
                    }
                    match this.deliver(chunk) {
                        Some(Ok(chunk)) => return Poll::Ready(Some(Ok(chunk))),
                        Some(Err(e)) => return this.fail(e),
                        None => {}
                    }
                }
            }
        }
    }
}

impl Drop for TracedStream {
    fn drop(&mut self) {
        if self.recorder.is_some() {
            self.finish(TraceStatus::Cancelled, None);
        }
    }
}
