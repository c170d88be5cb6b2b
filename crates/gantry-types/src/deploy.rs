//! Releases and deployments: what an application-facing route runs in each environment.

use crate::eval::GateReport;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The environment a request runs in when neither its key nor a header names one.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// What a release runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseTarget {
    /// A prompt version, called on `model` (else the prompt's own model).
    Prompt { name: String, version: u32 },
    /// A chain version.
    Chain { name: String, version: u32 },
    /// A model name from the config, called with the client's messages as they are.
    Model { model: String },
}

/// Why a target's text does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetParseError(pub String);

impl fmt::Display for TargetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetParseError {}

fn versioned(kind: &str, rest: &str, text: &str) -> Result<(String, u32), TargetParseError> {
    let (name, version) = rest.split_once('@').ok_or_else(|| {
        TargetParseError(format!("'{text}' needs a version number: {kind}:NAME@VERSION (a release is immutable)"))
    })?;
    let version = version.parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(|| {
        TargetParseError(format!(
            "'{text}': the version must be a number (1, 2, ...), not a label, so the release cannot change under you"
        ))
    })?;
    if name.is_empty() {
        return Err(TargetParseError(format!("'{text}' names no {kind}")));
    }
    Ok((name.to_string(), version))
}

impl FromStr for ReleaseTarget {
    type Err = TargetParseError;

    /// `prompt:NAME@VERSION`, `chain:NAME@VERSION` or `model:NAME`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = text.split_once(':').ok_or_else(|| {
            TargetParseError(format!(
                "'{text}' is not a target: use prompt:NAME@VERSION, chain:NAME@VERSION or model:NAME"
            ))
        })?;
        match kind {
            "prompt" => versioned(kind, rest, text).map(|(name, version)| ReleaseTarget::Prompt { name, version }),
            "chain" => versioned(kind, rest, text).map(|(name, version)| ReleaseTarget::Chain { name, version }),
            "model" if !rest.is_empty() => Ok(ReleaseTarget::Model { model: rest.to_string() }),
            _ => Err(TargetParseError(format!(
                "'{text}' is not a target: use prompt:NAME@VERSION, chain:NAME@VERSION or model:NAME"
            ))),
        }
    }
}

impl fmt::Display for ReleaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseTarget::Prompt { name, version } => write!(f, "prompt:{name}@{version}"),
            ReleaseTarget::Chain { name, version } => write!(f, "chain:{name}@{version}"),
            ReleaseTarget::Model { model } => write!(f, "model:{model}"),
        }
    }
}

impl Serialize for ReleaseTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReleaseTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The eval gate a release went through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseGate {
    pub suite: String,
    /// The eval run of the candidate.
    pub run_id: String,
    /// The run of the release it replaces, when there was one to compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_run_id: Option<String>,
    pub report: GateReport,
}

/// One immutable, numbered release of a route in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub route: String,
    pub environment: String,
    /// 1, 2, 3, ... per route and environment.
    pub number: u32,
    pub target: ReleaseTarget,
    /// The model a prompt or chain target is called on, when not its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub promoted_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<ReleaseGate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A release being tried on a share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub release: u32,
    /// Share of requests, 0 to 100.
    pub percent: f64,
    /// Bounds that stop the canary by themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<CanaryGuard>,
}

/// The canary requests the bounds wait for when none is given: fewer say little.
pub const DEFAULT_GUARD_MIN_REQUESTS: u64 = 20;

fn default_min_requests() -> u64 {
    DEFAULT_GUARD_MIN_REQUESTS
}

/// When a canary is stopped without anyone asking: its error rate or a score (user feedback
/// or an online evaluator, by name) crosses a bound once it has served `min_requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryGuard {
    /// Highest error rate (0 to 1) the canary may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// A score's lowest mean: `NAME` is a feedback or online evaluator name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<ScoreBound>,
    /// Canary requests (or scores, for a score bound) needed before a bound is checked.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
}

/// A score and the lowest mean it may have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreBound {
    pub name: String,
    pub min: f64,
}

/// One arm of an A/B experiment: a release and its share of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentVariant {
    pub name: String,
    pub release: u32,
    /// Relative weight; the shares are the weights over their sum.
    pub weight: f64,
}

/// Moves traffic toward the variant most likely to be best on a score (Thompson sampling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptivePolicy {
    /// The feedback or online evaluator name, with values in 0..1 (thumbs: true = 1).
    pub metric: String,
    /// The share every variant keeps, so a variant unlucky early can still recover.
    #[serde(default = "default_min_weight")]
    pub min_weight: f64,
    /// Scores each variant needs before the weights move.
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
}

fn default_min_weight() -> f64 {
    0.05
}

fn default_min_samples() -> u64 {
    10
}

/// An A/B experiment: N weighted variants of a route, each a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Hashed with the sticky key, so a new experiment reshuffles who is in which variant.
    pub id: String,
    pub variants: Vec<ExperimentVariant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptivePolicy>,
    pub started_at: DateTime<Utc>,
}

/// What a route runs in an environment now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub route: String,
    pub environment: String,
    /// The release every request runs (but a canary's share).
    pub current: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
    /// An A/B experiment, which takes all the traffic while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<Experiment>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What happened to a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentAction {
    /// A new release became current.
    Promote,
    /// The previous release became current again.
    Rollback,
    /// A release started taking a share of the traffic.
    Canary,
    /// The canary became current.
    PromoteFull,
    /// The canary was stopped (by hand or by its bounds).
    AbortCanary,
    /// A promotion the gate refused.
    GateRefused,
    /// An A/B experiment started.
    Experiment,
    /// An experiment's weights moved toward the better variants.
    Reweight,
    /// An experiment ended (its winner, if any, became current).
    StopExperiment,
}

impl DeploymentAction {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentAction::Promote => "promote",
            DeploymentAction::Rollback => "rollback",
            DeploymentAction::Canary => "canary",
            DeploymentAction::PromoteFull => "promote_full",
            DeploymentAction::AbortCanary => "abort_canary",
            DeploymentAction::GateRefused => "gate_refused",
            DeploymentAction::Experiment => "experiment",
            DeploymentAction::Reweight => "reweight",
            DeploymentAction::StopExperiment => "stop_experiment",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            DeploymentAction::Promote,
            DeploymentAction::Rollback,
            DeploymentAction::Canary,
            DeploymentAction::PromoteFull,
            DeploymentAction::AbortCanary,
            DeploymentAction::GateRefused,
            DeploymentAction::Experiment,
            DeploymentAction::Reweight,
            DeploymentAction::StopExperiment,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

/// One entry of a route's deployment history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentEvent {
    pub route: String,
    pub environment: String,
    pub action: DeploymentAction,
    /// The current release before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_release: Option<u32>,
    /// The release the action concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_release: Option<u32>,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// Why, in words (a gate's failed checks, a canary's bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which route, release and arm answered a call: kept on its trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentUse {
    pub route: String,
    pub environment: String,
    pub release: u32,
    /// `stable` or `canary`, or an experiment's variant name.
    pub variant: String,
}

/// Sums from which a mean and its variance follow: n, the sum and the sum of squares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MomentSums {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl MomentSums {
    /// Adds one value.
    pub fn push(&mut self, value: f64) {
        self.n += 1;
        self.sum += value;
        self.sum_sq += value * value;
    }

    /// The mean, when there is a value.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// The sample variance (n - 1), when there are two values.
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        // Rounding can make a constant sample's variance a hair below zero.
        Some(((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0))
    }
}

/// What one arm of a route (a release and variant) did in a window, as the store adds it up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmTotals {
    pub release: u32,
    pub variant: String,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: MomentSums,
    pub cost_usd: MomentSums,
    /// Numeric and boolean feedback (and online evaluator scores) by name.
    pub scores: std::collections::BTreeMap<String, MomentSums>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_and_write_back() {
        for text in ["prompt:support@7", "chain:triage@2", "model:gpt-4o-mini"] {
            let target: ReleaseTarget = text.parse().unwrap();
            assert_eq!(target.to_string(), text);
        }
        assert_eq!(
            "prompt:support@7".parse::<ReleaseTarget>().unwrap(),
            ReleaseTarget::Prompt { name: "support".into(), version: 7 }
        );
        for bad in ["support", "prompt:support", "prompt:support@production", "prompt:@3", "model:", "x:y"] {
            assert!(bad.parse::<ReleaseTarget>().is_err(), "{bad}");
        }
        let err = "prompt:support@production".parse::<ReleaseTarget>().unwrap_err().to_string();
        assert!(err.contains("not a label"), "{err}");
    }

    #[test]
    fn actions_read_back() {
        for action in [DeploymentAction::Promote, DeploymentAction::GateRefused, DeploymentAction::PromoteFull] {
            assert_eq!(DeploymentAction::parse(action.as_str()), Some(action));
        }
    }
}
