//! Guardrails: what a scan found, as traces record it and `/api/guard/scan` returns it.

use serde::{Deserialize, Serialize};

/// Which side of a call a scan looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardStage {
    /// The request, before any provider sees it.
    Input,
    /// The response, before the client sees it.
    Output,
}

impl GuardStage {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardStage::Input => "input",
            GuardStage::Output => "output",
        }
    }
}

/// What a guardrail does when its scanner finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardAction {
    /// Refuse the call (400 with a code naming the scanner).
    Block,
    /// Replace the finding with a typed placeholder such as `<EMAIL_1>`.
    Redact,
    /// Record only.
    Flag,
}

impl GuardAction {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardAction::Block => "block",
            GuardAction::Redact => "redact",
            GuardAction::Flag => "flag",
        }
    }
}

/// One finding of one guardrail, as recorded on a trace. Never holds the matched text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardHit {
    /// The guardrail's name from the config (or the scanner's name for an on-demand scan).
    pub guardrail: String,
    /// `pii`, `secrets`, `injection`, `regex` or `banned`.
    pub scanner: String,
    /// What was found: `email`, `aws_access_key`, `instruction_override`, a regex's name...
    pub entity: String,
    pub stage: GuardStage,
    pub action: GuardAction,
    /// Which message of the request (input) or choice of the response (output) it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<usize>,
    /// Byte offsets in that text before any redaction (end exclusive).
    pub start: usize,
    pub end: usize,
    /// The detector's confidence in 0..=1 (1 for exact rules such as checksummed numbers).
    pub score: f64,
    /// Why, for detectors that weigh evidence (prompt injection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/guard/scan`: text to scan and, optionally, which scanners to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardScanRequest {
    pub text: String,
    /// Scanner names (`pii`, `secrets`, `injection`); all three when empty.
    #[serde(default)]
    pub scanners: Vec<String>,
    /// Also return the text with every finding replaced by a placeholder.
    #[serde(default)]
    pub redact: bool,
}

/// One finding of an on-demand scan, with the matched text (the caller sent it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardFinding {
    pub scanner: String,
    pub entity: String,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of an on-demand scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardScanResponse {
    pub findings: Vec<GuardFinding>,
    /// The highest prompt-injection score (0 when no injection scanner ran or nothing matched).
    pub injection_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
}

/// A known attack added to the prompt-injection similarity corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectionExample {
    pub id: i64,
    pub text: String,
    /// The kind of attack: `instruction_override`, `jailbreak`, `prompt_extraction`, ...
    pub category: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /api/guard/examples`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInjectionExample {
    pub text: String,
    #[serde(default)]
    pub category: Option<String>,
}

/// Counts of guardrail hits since the server started, by guardrail, entity, stage and action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardHitCount {
    pub guardrail: String,
    pub scanner: String,
    pub entity: String,
    pub stage: GuardStage,
    pub action: GuardAction,
    pub count: u64,
}
