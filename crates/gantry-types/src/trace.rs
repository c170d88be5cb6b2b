//! The record of one call through the gateway.

use crate::ids::TraceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of call a trace records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    Chat,
    Embeddings,
    /// One chain run: the root of its steps' spans.
    Chain,
    /// A chain step that searched a RAG collection.
    Retrieve,
    /// A chain step that rendered a text template.
    Template,
    /// A chain step that parsed JSON.
    ParseJson,
    /// Any other operation, e.g. a non-LLM span received over OpenTelemetry.
    Span,
}

impl TraceKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Chat => "chat",
            TraceKind::Embeddings => "embeddings",
            TraceKind::Chain => "chain",
            TraceKind::Retrieve => "retrieve",
            TraceKind::Template => "template",
            TraceKind::ParseJson => "parse_json",
            TraceKind::Span => "span",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chat" => Some(TraceKind::Chat),
            "embeddings" => Some(TraceKind::Embeddings),
            "chain" => Some(TraceKind::Chain),
            "retrieve" => Some(TraceKind::Retrieve),
            "template" => Some(TraceKind::Template),
            "parse_json" => Some(TraceKind::ParseJson),
            "span" => Some(TraceKind::Span),
            _ => None,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceStatus {
    /// Answered.
    Ok,
    /// Failed: the request was bad, or every target failed.
    Error,
    /// The client went away before the answer was complete.
    Cancelled,
}

impl TraceStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Ok => "ok",
            TraceStatus::Error => "error",
            TraceStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(TraceStatus::Ok),
            "error" => Some(TraceStatus::Error),
            "cancelled" => Some(TraceStatus::Cancelled),
            _ => None,
        }
    }
}

/// One try against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The provider instance name from the config.
    pub provider: String,
    /// The model name sent upstream.
    pub upstream_model: String,
    pub started_at: DateTime<Utc>,
    pub latency_ms: f64,
    /// The upstream HTTP status, when there was one.
    pub status: Option<u16>,
    /// Why it failed; `None` when it answered.
    pub error: Option<String>,
}

/// A failure, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceError {
    pub code: String,
    pub message: String,
}

/// Which registered prompt version produced a call's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptUse {
    pub name: String,
    pub version: u32,
    /// The label the client asked for, when it named one.
    pub label: Option<String>,
    /// The variables the messages were rendered with.
    pub variables: Value,
}

/// The result of checking a response against a declared output JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputCheck {
    pub valid: bool,
    /// The first violation, when invalid.
    pub error: Option<String>,
}

/// Everything recorded about one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    pub id: TraceId,
    /// The span this one is nested under (a chain run for its steps); `None` for a root.
    #[serde(default)]
    pub parent_id: Option<TraceId>,
    /// The span's name within its parent (a chain step's name).
    #[serde(default)]
    pub name: Option<String>,
    pub started_at: DateTime<Utc>,
    pub kind: TraceKind,
    /// The model name the client asked for.
    pub requested_model: String,
    /// The provider that answered (or the last one tried).
    pub provider: Option<String>,
    /// The upstream model that answered (or the last one tried).
    pub upstream_model: Option<String>,
    pub attempts: Vec<Attempt>,
    pub status: TraceStatus,
    /// The HTTP status the client got; 0 when unknown (spans received over OpenTelemetry
    /// without `http.response.status_code`).
    pub http_status: u16,
    pub error: Option<TraceError>,
    pub stream: bool,
    /// The request: messages (or input) and parameters.
    pub request: Value,
    /// The response: the assistant message (or a summary of vectors).
    pub response: Option<Value>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub total_tokens: Option<u32>,
    pub latency_ms: f64,
    /// Time to first token, for streams.
    pub ttft_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    /// The prompt version the messages came from, for `prompt:` models and chain steps.
    #[serde(default)]
    pub prompt: Option<PromptUse>,
    /// The response checked against the prompt's output schema, when it declares one.
    #[serde(default)]
    pub output_check: Option<OutputCheck>,
    /// The API key the call was made with; budgets add up the cost of a key's traces.
    #[serde(default)]
    pub api_key_id: Option<String>,
    /// What the guardrails found in the request and the response (never the raw values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<crate::GuardHit>,
    /// The route, release and arm that answered, when the client called a deployed route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<crate::DeploymentUse>,
}

/// Filters for listing traces; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceFilter {
    pub limit: Option<u32>,
    /// Only the spans nested directly under this trace; without it only root traces are listed.
    pub parent: Option<TraceId>,
    pub model: Option<String>,
    /// Only calls made through this registered prompt (any version).
    #[serde(default)]
    pub prompt: Option<String>,
    pub status: Option<TraceStatus>,
    pub since: Option<DateTime<Utc>>,
    /// Only calls started before this time.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Only calls whose request or response contains this text (case-insensitive for ASCII).
    #[serde(default)]
    pub search: Option<String>,
    /// Only root traces listed after this one (newest first): the next page's cursor.
    #[serde(default)]
    pub before: Option<TraceCursor>,
}

/// Where a page of root traces ended: the last trace's start time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceCursor {
    pub started_at: DateTime<Utc>,
    pub id: TraceId,
}

impl TraceCursor {
    /// The cursor after `trace`.
    pub fn after(trace: &TraceRecord) -> Self {
        Self { started_at: trace.started_at, id: trace.id }
    }

    /// As text for a URL: `MICROS_ID`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.started_at.timestamp_micros(), self.id)
    }

    /// Reads what [`TraceCursor::encode`] wrote.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        let started_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(Self { started_at, id: id.parse().ok()? })
    }
}

/// A trace with the spans nested under it, recursively, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceTree {
    #[serde(flatten)]
    pub record: TraceRecord,
    pub spans: Vec<TraceTree>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let cursor = TraceCursor {
            started_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: TraceId::new(),
        };
        assert_eq!(TraceCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(TraceCursor::decode("nonsense"), None);
        assert_eq!(TraceCursor::decode("12_not-a-uuid"), None);
    }
}
