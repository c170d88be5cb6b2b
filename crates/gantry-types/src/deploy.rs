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
    /// `stable` or `canary`.
    pub variant: String,
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
