//! Eval runs as the store keeps them and the management API shows them: a suite run over a
//! dataset version against a target, every item's output and scores, the aggregates and the
//! gate's verdict.

use crate::ids::TraceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalRunStatus {
    /// Items are being run (or the run stopped before finishing and can be resumed).
    Running,
    /// Every item has a result and the aggregates are final.
    Completed,
}

impl EvalRunStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalRunStatus::Running => "running",
            EvalRunStatus::Completed => "completed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(EvalRunStatus::Running),
            "completed" => Some(EvalRunStatus::Completed),
            _ => None,
        }
    }
}

/// One evaluator's score of one item. `value` is absent when the item could not be scored
/// (no expected output, an invalid judge answer); `error` says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ItemScore {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The judge's reason, a validation message: what explains the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of running one dataset item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalItemResult {
    /// The item's index in the dataset version.
    pub index: u32,
    /// The target's output as text; absent when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why the call failed (an upstream error, a template error); the item counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Evaluator name to score.
    pub scores: BTreeMap<String, ItemScore>,
    /// The trace the item's call was recorded under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    pub latency_ms: f64,
}

/// One evaluator's aggregate over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorSummary {
    pub evaluator: String,
    /// The evaluator type (`exact_match`, `bleu`, ...).
    pub kind: String,
    /// Named aggregate values; `main` names the one thresholds apply to by default.
    pub metrics: BTreeMap<String, f64>,
    pub main: String,
    /// Items that got a score.
    pub scored: u32,
    /// Items that could not be scored (failed calls count here too).
    pub unscored: u32,
}

/// One threshold checked by the gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    pub evaluator: String,
    pub metric: String,
    pub value: f64,
    /// The lowest value that passes, when the suite sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The baseline run's value, when there is a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// How far below the baseline the value may fall, when the suite sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
    pub passed: bool,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The gate's verdict: passed when every check passed and no more items failed than allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub passed: bool,
    pub checks: Vec<GateCheck>,
}

/// A run and its aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    pub id: String,
    pub suite: String,
    pub dataset: String,
    pub dataset_version: u32,
    /// What ran: `model:NAME`, `prompt:NAME@V`, `chain:NAME@V`.
    pub target: String,
    /// The suite as it was run (so a resumed run uses the same settings).
    pub config: Value,
    pub status: EvalRunStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub items_total: u32,
    pub items_done: u32,
    pub items_failed: u32,
    pub summaries: Vec<EvaluatorSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_run_id: Option<String>,
}
