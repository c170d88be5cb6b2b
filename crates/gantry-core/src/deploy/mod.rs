//! Releases and deployments: an application-facing route (what clients put in `model`) runs,
//! in each environment, one immutable release (a prompt version + model, a chain version or a
//! plain model), and during a canary a second one on a sticky share of the traffic. Promotion,
//! rollback and canary changes are compare-and-set on the store, so two operators cannot
//! silently overwrite each other, and every change is in the history.

mod apply;
mod cache;
mod compare;
mod error;
mod experiment;
mod resolve;
pub mod stats;
mod watch;

pub use apply::apply_deployment;
pub use cache::DeploymentCache;
pub use compare::{compare, ArmComparison, ArmTests, Comparison};
pub use error::DeployError;
pub use experiment::{
    reweight, start_experiment, stop_experiment, thompson_weights, ExperimentRequest, VariantSpec, VariantTarget,
};
pub use resolve::{assign_variant, stable_fraction, Resolved, CANARY, STABLE};
pub use watch::{spawn_watcher, watch_once, WatchAction, WATCH_ACTOR};

use chrono::{DateTime, Utc};
use gantry_store::{NewRelease, Store};
use gantry_types::{
    is_resource_name, Canary, CanaryGuard, Deployment, DeploymentAction, DeploymentEvent, RegistryKind, Release,
    ReleaseGate, ReleaseTarget,
};
use serde::{Deserialize, Serialize};

/// A promotion as a caller asks for it.
#[derive(Debug, Clone)]
pub struct PromoteRequest {
    pub route: String,
    pub environment: String,
    pub target: ReleaseTarget,
    pub model: Option<String>,
    pub actor: String,
    pub gate: Option<ReleaseGate>,
    /// Send this share (0-100, exclusive) to the new release, keeping the current one.
    pub canary_percent: Option<f64>,
    /// Bounds that stop the canary by themselves (a canary only).
    pub guard: Option<CanaryGuard>,
    pub note: Option<String>,
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoteOutcome {
    pub release: Release,
    pub deployment: Deployment,
}

/// A deployment with its releases spelled out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub current_release: Release,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_release: Option<Release>,
}

/// Now, to the microsecond the store keeps, so a deployment reads back equal.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn check_names(route: &str, environment: &str) -> Result<(), DeployError> {
    if !is_resource_name(route) {
        return Err(DeployError::InvalidName { param: "route", value: route.to_string() });
    }
    if !is_resource_name(environment) {
        return Err(DeployError::InvalidName { param: "environment", value: environment.to_string() });
    }
    Ok(())
}

/// Checks that what `target` names exists: the prompt or chain version in the registry, the
/// model in `models` (the configured model names).
pub async fn check_target(
    store: &dyn Store,
    target: &ReleaseTarget,
    model: Option<&str>,
    models: &[String],
) -> Result<(), DeployError> {
    let known = |m: &str| models.iter().any(|k| k == m);
    match target {
        ReleaseTarget::Prompt { name, version } | ReleaseTarget::Chain { name, version } => {
            let kind =
                if matches!(target, ReleaseTarget::Prompt { .. }) { RegistryKind::Prompt } else { RegistryKind::Chain };
            if store.get_version(kind, name, *version).await?.is_none() {
                return Err(DeployError::TargetNotFound(target.to_string()));
            }
        }
        ReleaseTarget::Model { model } if !known(model) => return Err(DeployError::TargetModelNotFound(model.clone())),
        ReleaseTarget::Model { .. } => {}
    }
    match model {
        Some(m) if !known(m) => Err(DeployError::ModelNotFound(m.to_string())),
        Some(_) if matches!(target, ReleaseTarget::Model { .. }) => Err(DeployError::ModelWithModelTarget),
        _ => Ok(()),
    }
}

fn event(
    deployment: &Deployment,
    action: DeploymentAction,
    from: Option<u32>,
    to: Option<u32>,
    reason: Option<String>,
) -> DeploymentEvent {
    DeploymentEvent {
        route: deployment.route.clone(),
        environment: deployment.environment.clone(),
        action,
        from_release: from,
        to_release: to,
        actor: deployment.updated_by.clone(),
        at: deployment.updated_at,
        reason,
    }
}

async fn replace(
    store: &dyn Store,
    expected: Option<&Deployment>,
    next: &Deployment,
    event: &DeploymentEvent,
) -> Result<(), DeployError> {
    if store.replace_deployment(expected, next, event).await? {
        Ok(())
    } else {
        Err(DeployError::Conflict { route: next.route.clone(), environment: next.environment.clone() })
    }
}

/// Records a promotion the gate refused, so the history shows it.
pub async fn record_refusal(store: &dyn Store, request: &PromoteRequest, reason: String) -> Result<(), DeployError> {
    let current = store.get_deployment(&request.route, &request.environment).await?;
    store
        .record_deployment_event(&DeploymentEvent {
            route: request.route.clone(),
            environment: request.environment.clone(),
            action: DeploymentAction::GateRefused,
            from_release: current.map(|d| d.current),
            to_release: None,
            actor: request.actor.clone(),
            at: now(),
            reason: Some(format!("{}: {reason}", request.target)),
        })
        .await?;
    Ok(())
}

/// Stores a new release and makes it current, or its canary when `canary_percent` is set.
/// `models` are the configured model names (a route may not shadow one).
pub async fn promote(
    store: &dyn Store,
    request: PromoteRequest,
    models: &[String],
) -> Result<PromoteOutcome, DeployError> {
    check_names(&request.route, &request.environment)?;
    if models.contains(&request.route) {
        return Err(DeployError::RouteShadowsModel(request.route.clone()));
    }
    if let Some(percent) = request.canary_percent {
        if !(percent > 0.0 && percent < 100.0) {
            return Err(DeployError::InvalidPercent(percent));
        }
    }
    if let Some(guard) = &request.guard {
        if request.canary_percent.is_none() {
            return Err(DeployError::InvalidGuard("bounds apply to a canary: give a canary share too".into()));
        }
        check_guard(guard)?;
    }
    check_target(store, &request.target, request.model.as_deref(), models).await?;
    let current = store.get_deployment(&request.route, &request.environment).await?;
    if current.as_ref().is_some_and(|d| d.experiment.is_some()) {
        return Err(DeployError::ExperimentRunning(request.route.clone()));
    }
    if request.canary_percent.is_some() && current.is_none() {
        return Err(DeployError::NothingToCanaryAgainst(request.route.clone()));
    }
    if current.as_ref().is_some_and(|d| d.canary.is_some()) {
        return Err(DeployError::CanaryRunning(request.route.clone()));
    }
    if let (Some(deployed), Some(_)) = (&current, request.canary_percent) {
        let running = release_of(store, deployed, deployed.current).await?;
        if running.target == request.target && running.model == request.model {
            return Err(DeployError::SameAsCurrent {
                route: request.route.clone(),
                target: request.target.to_string(),
                release: running.number,
            });
        }
    }
    let release = store
        .create_release(NewRelease {
            route: &request.route,
            environment: &request.environment,
            target: &request.target,
            model: request.model.as_deref(),
            promoted_by: &request.actor,
            gate: request.gate.as_ref(),
            note: request.note.as_deref(),
        })
        .await?;
    let (next, action) = match (&current, request.canary_percent) {
        (Some(current), Some(percent)) => (
            Deployment {
                canary: Some(Canary { release: release.number, percent, guard: request.guard.clone() }),
                updated_by: request.actor.clone(),
                updated_at: now(),
                ..current.clone()
            },
            DeploymentAction::Canary,
        ),
        _ => (
            Deployment {
                route: request.route.clone(),
                environment: request.environment.clone(),
                current: release.number,
                canary: None,
                experiment: None,
                updated_by: request.actor.clone(),
                updated_at: now(),
            },
            DeploymentAction::Promote,
        ),
    };
    let reason = request.canary_percent.map(|p| format!("{p}% of the traffic"));
    let change = event(&next, action, current.as_ref().map(|d| d.current), Some(release.number), reason);
    replace(store, current.as_ref(), &next, &change).await?;
    tracing::info!(route = %request.route, environment = %request.environment, release = release.number,
        target = %request.target, action = action.as_str(), "deployment changed");
    Ok(PromoteOutcome { release, deployment: next })
}

/// A guard's bounds must be reachable: an error rate in 0..1, a named, finite score bound.
fn check_guard(guard: &CanaryGuard) -> Result<(), DeployError> {
    if guard.max_error_rate.is_none() && guard.min_score.is_none() {
        return Err(DeployError::InvalidGuard("give a maximum error rate, a minimum score or both".into()));
    }
    if let Some(rate) = guard.max_error_rate {
        if !(0.0..1.0).contains(&rate) {
            return Err(DeployError::InvalidGuard(format!("the maximum error rate is a share in 0..1, got {rate}")));
        }
    }
    if let Some(bound) = &guard.min_score {
        if bound.name.trim().is_empty() || !bound.min.is_finite() {
            return Err(DeployError::InvalidGuard("a minimum score is NAME=VALUE with a finite value".into()));
        }
    }
    if guard.min_requests == 0 {
        return Err(DeployError::InvalidGuard("min_requests must be at least 1".into()));
    }
    Ok(())
}

async fn deployment(store: &dyn Store, route: &str, environment: &str) -> Result<Deployment, DeployError> {
    check_names(route, environment)?;
    store
        .get_deployment(route, environment)
        .await?
        .ok_or_else(|| DeployError::NotDeployed { route: route.to_string(), environment: environment.to_string() })
}

/// Makes the canary the current release.
pub async fn promote_full(
    store: &dyn Store,
    route: &str,
    environment: &str,
    actor: &str,
) -> Result<Deployment, DeployError> {
    let current = deployment(store, route, environment).await?;
    let canary = current.canary.clone().ok_or_else(|| DeployError::NoCanary(route.to_string()))?;
    let next = Deployment {
        current: canary.release,
        canary: None,
        updated_by: actor.to_string(),
        updated_at: now(),
        ..current.clone()
    };
    let change = event(&next, DeploymentAction::PromoteFull, Some(current.current), Some(canary.release), None);
    replace(store, Some(&current), &next, &change).await?;
    Ok(next)
}

/// Stops the canary: every request runs the current release again.
pub async fn abort_canary(
    store: &dyn Store,
    route: &str,
    environment: &str,
    actor: &str,
    reason: Option<String>,
) -> Result<Deployment, DeployError> {
    let current = deployment(store, route, environment).await?;
    let canary = current.canary.clone().ok_or_else(|| DeployError::NoCanary(route.to_string()))?;
    let next = Deployment { canary: None, updated_by: actor.to_string(), updated_at: now(), ..current.clone() };
    let change = event(&next, DeploymentAction::AbortCanary, Some(current.current), Some(canary.release), reason);
    replace(store, Some(&current), &next, &change).await?;
    Ok(next)
}

/// Returns to the release that was current before the current one (ending any canary).
pub async fn rollback(
    store: &dyn Store,
    route: &str,
    environment: &str,
    actor: &str,
) -> Result<Deployment, DeployError> {
    let current = deployment(store, route, environment).await?;
    // The promotion that made the current release current says what came before it.
    let history = store.deployment_history(Some(route), Some(environment), 10_000).await?;
    let previous = history
        .iter()
        .find(|e| {
            matches!(
                e.action,
                DeploymentAction::Promote | DeploymentAction::PromoteFull | DeploymentAction::StopExperiment
            ) && e.from_release != e.to_release
                && e.to_release == Some(current.current)
        })
        .and_then(|e| e.from_release)
        .ok_or_else(|| DeployError::NothingToRollBackTo { route: route.to_string(), release: current.current })?;
    let next = Deployment {
        current: previous,
        canary: None,
        experiment: None,
        updated_by: actor.to_string(),
        updated_at: now(),
        ..current.clone()
    };
    let change = event(&next, DeploymentAction::Rollback, Some(current.current), Some(previous), None);
    replace(store, Some(&current), &next, &change).await?;
    tracing::info!(route, environment, from = current.current, to = previous, "rolled back");
    Ok(next)
}

/// When the canary began: its release's creation (a canary always gets a new release).
async fn canary_started_at(
    store: &dyn Store,
    deployment: &Deployment,
    canary: &Canary,
) -> Result<Option<DateTime<Utc>>, DeployError> {
    Ok(store.get_release(&deployment.route, &deployment.environment, canary.release).await?.map(|r| r.created_at))
}

async fn release_of(store: &dyn Store, deployment: &Deployment, number: u32) -> Result<Release, DeployError> {
    store.get_release(&deployment.route, &deployment.environment, number).await?.ok_or_else(|| {
        DeployError::Store(gantry_store::StoreError::Corrupt(format!(
            "{} in {} points at release {number}, which is not stored",
            deployment.route, deployment.environment
        )))
    })
}

async fn with_releases(store: &dyn Store, deployment: Deployment) -> Result<DeploymentStatus, DeployError> {
    let current_release = release_of(store, &deployment, deployment.current).await?;
    let canary_release = match &deployment.canary {
        Some(c) => Some(release_of(store, &deployment, c.release).await?),
        None => None,
    };
    Ok(DeploymentStatus { deployment, current_release, canary_release })
}

/// What runs where: every deployment, or one route's.
pub async fn status(store: &dyn Store, route: Option<&str>) -> Result<Vec<DeploymentStatus>, DeployError> {
    let mut out = Vec::new();
    for d in store.list_deployments().await? {
        if route.is_none_or(|r| r == d.route) {
            out.push(with_releases(store, d).await?);
        }
    }
    Ok(out)
}
