//! Why a deployment change was refused.

use gantry_store::StoreError;

/// A refused or failed deployment change; each variant has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("invalid {param} '{value}': 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    InvalidName { param: &'static str, value: String },
    #[error("{0} does not exist: push it first (gantry prompts push / gantry chains push)")]
    TargetNotFound(String),
    #[error("no model named '{0}' in the config")]
    ModelNotFound(String),
    #[error("model:{0} names no model in the config: a model: target is one of the configured model names")]
    TargetModelNotFound(String),
    #[error("{route} in {environment} has no release {number}")]
    ReleaseNotFound { route: String, environment: String, number: u32 },
    #[error("{route} already runs {target} as release {release}: a canary needs something new to compare")]
    SameAsCurrent { route: String, target: String, release: u32 },
    #[error("--model applies to prompt and chain targets; a model: target already names its model")]
    ModelWithModelTarget,
    #[error("'{0}' is a model name in the config; a route needs a name of its own")]
    RouteShadowsModel(String),
    #[error("a canary's share must be above 0 and below 100 percent, got {0}")]
    InvalidPercent(f64),
    #[error("{0} has no release yet: promote one before starting a canary")]
    NothingToCanaryAgainst(String),
    #[error("{0} has a canary running: promote it fully (gantry deploy promote --full) or stop it (gantry deploy abort) first")]
    CanaryRunning(String),
    #[error("{0} has no canary running")]
    NoCanary(String),
    #[error("{route} is not deployed in {environment}")]
    NotDeployed { route: String, environment: String },
    #[error("{route} has nothing before release {release} to roll back to")]
    NothingToRollBackTo { route: String, release: u32 },
    #[error("{route} in {environment} changed while this change was being made; look at `gantry deploy status` and try again")]
    Conflict { route: String, environment: String },
    #[error("invalid experiment: {0}")]
    InvalidExperiment(String),
    #[error("invalid canary bound: {0}")]
    InvalidGuard(String),
    #[error("{0} has an experiment running: stop it first (gantry deploy experiment-stop)")]
    ExperimentRunning(String),
    #[error("{0} has no experiment running")]
    NoExperiment(String),
    #[error("the eval gate refused the release: {0}")]
    GateFailed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeployError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DeployError::InvalidName { .. } => "invalid_name",
            DeployError::TargetNotFound(_) => "target_not_found",
            DeployError::ModelNotFound(_) => "model_not_found",
            DeployError::TargetModelNotFound(_) => "target_not_found",
            DeployError::ReleaseNotFound { .. } => "release_not_found",
            DeployError::SameAsCurrent { .. } => "same_as_current",
            DeployError::ModelWithModelTarget => "invalid_request",
            DeployError::RouteShadowsModel(_) => "route_shadows_model",
            DeployError::InvalidPercent(_) => "invalid_parameter",
            DeployError::NothingToCanaryAgainst(_) => "not_deployed",
            DeployError::CanaryRunning(_) => "canary_running",
            DeployError::NoCanary(_) => "no_canary",
            DeployError::NotDeployed { .. } => "not_deployed",
            DeployError::NothingToRollBackTo { .. } => "nothing_to_roll_back_to",
            DeployError::Conflict { .. } => "deployment_conflict",
            DeployError::GateFailed(_) => "gate_failed",
            DeployError::InvalidExperiment(_) | DeployError::InvalidGuard(_) => "invalid_parameter",
            DeployError::ExperimentRunning(_) => "experiment_running",
            DeployError::NoExperiment(_) => "no_experiment",
            DeployError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            DeployError::InvalidName { .. }
            | DeployError::ModelWithModelTarget
            | DeployError::RouteShadowsModel(_)
            | DeployError::InvalidPercent(_)
            | DeployError::InvalidExperiment(_)
            | DeployError::InvalidGuard(_) => 400,
            DeployError::TargetNotFound(_)
            | DeployError::ModelNotFound(_)
            | DeployError::TargetModelNotFound(_)
            | DeployError::ReleaseNotFound { .. }
            | DeployError::NotDeployed { .. } => 404,
            DeployError::SameAsCurrent { .. } => 409,
            DeployError::NothingToCanaryAgainst(_)
            | DeployError::CanaryRunning(_)
            | DeployError::NoCanary(_)
            | DeployError::ExperimentRunning(_)
            | DeployError::NoExperiment(_)
            | DeployError::NothingToRollBackTo { .. }
            | DeployError::Conflict { .. } => 409,
            DeployError::GateFailed(_) => 422,
            DeployError::Store(_) => 500,
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            DeployError::InvalidName { param, .. } => Some(param),
            DeployError::TargetNotFound(_)
            | DeployError::TargetModelNotFound(_)
            | DeployError::SameAsCurrent { .. } => Some("target"),
            DeployError::ReleaseNotFound { .. } => Some("variants"),
            DeployError::ModelNotFound(_) | DeployError::ModelWithModelTarget => Some("model"),
            DeployError::RouteShadowsModel(_) => Some("route"),
            DeployError::InvalidPercent(_) => Some("canary"),
            DeployError::InvalidExperiment(_) => Some("variants"),
            DeployError::InvalidGuard(_) => Some("guard"),
            _ => None,
        }
    }
}
