//! Chains: named, versioned sequences of steps (LLM calls, retrieval, templates, JSON parsing)
//! that read the chain input and earlier steps' outputs by name.

use crate::ids::TraceId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A chain as declared in a TOML/YAML file and stored as a registry version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The input fields the chain expects (checked before the first step runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    pub steps: Vec<StepSpec>,
    /// The step whose output is the chain's output.
    pub output: String,
}

/// One step: a name other steps refer to, and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    pub name: String,
    #[serde(flatten)]
    pub action: StepAction,
}

/// What a step does. Every text field is a MiniJinja template over `input` and earlier steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepAction {
    /// Renders a registered prompt (`NAME`, `NAME@LABEL` or `NAME@VERSION`) and calls its model.
    Llm {
        prompt: String,
        /// Prompt variable -> template; a template that is one `{{ expression }}` keeps its type.
        #[serde(default)]
        variables: BTreeMap<String, String>,
        /// Overrides the prompt version's model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// Searches a RAG collection; the output is the list of hits.
    Retrieve {
        collection: String,
        query: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top_k: Option<u32>,
    },
    /// Renders text.
    Template { template: String },
    /// Parses JSON out of text (a template, usually `{{ some_step }}`); a fenced ```json block is accepted.
    ParseJson { from: String },
}

impl StepAction {
    /// The step type's name, as written in files.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepAction::Llm { .. } => "llm",
            StepAction::Retrieve { .. } => "retrieve",
            StepAction::Template { .. } => "template",
            StepAction::ParseJson { .. } => "parse_json",
        }
    }
}

/// How one step of a run went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    #[serde(rename = "type")]
    pub step_type: String,
    /// The step's span in the run's trace.
    pub span_id: TraceId,
    pub status: StepStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The HTTP status the step's failure carries (e.g. 502 when its model failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_status: Option<u16>,
    pub latency_ms: f64,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub cost_usd: Option<f64>,
}

/// Whether a step finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Error,
}

/// A finished chain run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainRun {
    pub chain: String,
    pub version: u32,
    /// The run's root trace; each step is a span under it.
    pub trace_id: TraceId,
    pub output: Value,
    /// Steps in the order they finished.
    pub steps: Vec<StepResult>,
    pub latency_ms: f64,
}
