//! Builds the trace of one call as it happens and hands it to the trace queue when done.

use crate::config::Price;
use crate::error::GatewayError;
use crate::trace_writer::TraceSink;
use chrono::{DateTime, Utc};
use gantry_types::{Attempt, OutputCheck, PromptUse, TraceError, TraceId, TraceKind, TraceRecord, TraceStatus, Usage};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// USD for a call, from the per-million-token prices; `None` when counts or price are unknown.
pub fn cost_usd(prices: &BTreeMap<String, Price>, models: &[&str], usage: Option<Usage>) -> Option<f64> {
    let usage = usage?;
    let price = models.iter().find_map(|m| prices.get(*m))?;
    Some(
        f64::from(usage.prompt_tokens) * price.input_per_mtok / 1e6
            + f64::from(usage.completion_tokens) * price.output_per_mtok / 1e6,
    )
}

/// How a call ended, for the record.
pub struct Outcome {
    pub status: TraceStatus,
    pub http_status: u16,
    pub error: Option<TraceError>,
    pub response: Option<Value>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub ttft_ms: Option<f64>,
}

/// Checks a successful call's response (the assistant message, or a step's output).
pub type OutputValidator = Box<dyn Fn(&Value) -> OutputCheck + Send + Sync>;

impl Outcome {
    /// A failure with the status the client got.
    pub fn failed(error: &GatewayError, http_status: u16) -> Self {
        Self::failed_with(error.code(), &error.to_string(), http_status)
    }

    /// A failure recorded with its code and message.
    pub fn failed_with(code: &str, message: &str, http_status: u16) -> Self {
        Outcome {
            status: TraceStatus::Error,
            http_status,
            error: Some(TraceError { code: code.to_string(), message: message.to_string() }),
            response: None,
            finish_reason: None,
            usage: None,
            ttft_ms: None,
        }
    }
}

/// The record of one call in progress.
pub struct CallRecorder {
    pub id: TraceId,
    started_at: DateTime<Utc>,
    pub started: Instant,
    kind: TraceKind,
    requested_model: String,
    request: Value,
    stream: bool,
    attempts: Vec<Attempt>,
    provider: Option<String>,
    upstream_model: Option<String>,
    parent_id: Option<TraceId>,
    name: Option<String>,
    prompt: Option<PromptUse>,
    output_validator: Option<OutputValidator>,
    api_key_id: Option<String>,
    guard_hits: Vec<gantry_types::GuardHit>,
    deployment: Option<gantry_types::DeploymentUse>,
    sink: TraceSink,
    prices: Arc<BTreeMap<String, Price>>,
}

impl CallRecorder {
    /// Starts recording a call.
    pub fn start(
        sink: TraceSink,
        prices: Arc<BTreeMap<String, Price>>,
        kind: TraceKind,
        requested_model: &str,
        request: Value,
        stream: bool,
    ) -> Self {
        Self {
            id: TraceId::new(),
            started_at: Utc::now(),
            started: Instant::now(),
            kind,
            requested_model: requested_model.to_string(),
            request,
            stream,
            attempts: Vec::new(),
            provider: None,
            upstream_model: None,
            parent_id: None,
            name: None,
            prompt: None,
            output_validator: None,
            api_key_id: None,
            guard_hits: Vec::new(),
            deployment: None,
            sink,
            prices,
        }
    }

    /// Adds the attempts made by routing, and which target answered (or was tried last).
    pub fn set_attempts(&mut self, attempts: Vec<Attempt>) {
        if let Some(last) = attempts.last() {
            self.provider = Some(last.provider.clone());
            self.upstream_model = Some(last.upstream_model.clone());
        }
        self.attempts = attempts;
    }

    /// Nests this call under `parent` as the span called `name`.
    pub fn set_parent(&mut self, parent: TraceId, name: &str) {
        self.parent_id = Some(parent);
        self.name = Some(name.to_string());
    }

    /// Records which prompt version produced the call's messages.
    pub fn set_prompt(&mut self, prompt: PromptUse) {
        self.prompt = Some(prompt);
    }

    /// Checks the response when the call succeeds, and records the result.
    pub fn set_output_validator(&mut self, validator: OutputValidator) {
        self.output_validator = Some(validator);
    }

    /// Adds what the guardrails found.
    pub fn add_guard_hits(&mut self, hits: impl IntoIterator<Item = gantry_types::GuardHit>) {
        self.guard_hits.extend(hits);
    }

    /// Replaces the recorded request (with what was sent upstream after the guardrails).
    pub fn set_request(&mut self, request: Value) {
        self.request = request;
    }

    /// Records the API key the call is made with.
    pub fn set_api_key(&mut self, key_id: String) {
        self.api_key_id = Some(key_id);
    }

    /// Records the route, release and arm the call was sent to.
    pub fn set_deployment(&mut self, deployment: gantry_types::DeploymentUse) {
        self.deployment = Some(deployment);
    }

    /// Milliseconds since the call started.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Completes the record and queues it.
    pub fn finish(self, outcome: Outcome) {
        let models: Vec<&str> =
            self.upstream_model.iter().map(String::as_str).chain([self.requested_model.as_str()]).collect();
        let cost = cost_usd(&self.prices, &models, outcome.usage);
        let latency_ms = self.elapsed_ms();
        let output_check = match (&self.output_validator, outcome.status, &outcome.response) {
            (Some(validate), TraceStatus::Ok, Some(response)) => Some(validate(response)),
            _ => None,
        };
        let record = TraceRecord {
            id: self.id,
            parent_id: self.parent_id,
            name: self.name,
            started_at: self.started_at,
            kind: self.kind,
            requested_model: self.requested_model,
            provider: self.provider,
            upstream_model: self.upstream_model,
            attempts: self.attempts,
            status: outcome.status,
            http_status: outcome.http_status,
            error: outcome.error,
            stream: self.stream,
            request: self.request,
            response: outcome.response,
            finish_reason: outcome.finish_reason,
            prompt_tokens: outcome.usage.map(|u| u.prompt_tokens),
            completion_tokens: outcome.usage.map(|u| u.completion_tokens),
            total_tokens: outcome.usage.map(|u| u.total_tokens),
            latency_ms,
            ttft_ms: outcome.ttft_ms,
            cost_usd: cost,
            prompt: self.prompt,
            output_check,
            api_key_id: self.api_key_id,
            guardrails: self.guard_hits,
            deployment: self.deployment,
        };
        self.sink.record(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_uses_the_first_priced_model() {
        let mut prices = BTreeMap::new();
        prices.insert("gpt".to_string(), Price { input_per_mtok: 2.0, output_per_mtok: 8.0 });
        let usage = Some(Usage::new(1000, 500));
        let cost = cost_usd(&prices, &["unknown", "gpt"], usage).unwrap();
        assert!((cost - 0.006).abs() < 1e-12, "{cost}");
        assert_eq!(cost_usd(&prices, &["unknown"], usage), None);
        assert_eq!(cost_usd(&prices, &["gpt"], None), None);
    }
}
