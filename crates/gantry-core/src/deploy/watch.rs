//! The deployment watcher: on an interval it stops every canary whose error rate or score has
//! crossed its bound, and moves adaptive experiments' weights, each change in the history
//! under the actor `gantry-watch` with the numbers that caused it.

use super::{abort_canary, canary_started_at, reweight, DeployError, CANARY};
use crate::gateway::Gateway;
use gantry_store::Store;
use gantry_types::{Canary, CanaryGuard, Deployment};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Who the watcher's changes are recorded as.
pub const WATCH_ACTOR: &str = "gantry-watch";

/// A change the watcher made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum WatchAction {
    AbortedCanary { route: String, environment: String, release: u32, reason: String },
    Reweighted { route: String, environment: String, weights: Vec<(String, f64)> },
}

/// Why the canary must stop, if it must: a bound is checked once the canary has `min_requests`
/// requests (or scores), on the point estimate, so a single early error does not end it.
async fn guard_breach(
    store: &dyn Store,
    deployment: &Deployment,
    canary: &Canary,
    guard: &CanaryGuard,
) -> Result<Option<String>, DeployError> {
    let Some(started) = canary_started_at(store, deployment, canary).await? else { return Ok(None) };
    let arms = store.arm_totals(&deployment.route, &deployment.environment, started).await?;
    let Some(arm) = arms.iter().find(|a| a.release == canary.release && a.variant == CANARY) else {
        return Ok(None);
    };
    if let Some(max) = guard.max_error_rate {
        if arm.requests >= guard.min_requests {
            let rate = arm.errors as f64 / arm.requests as f64;
            if rate > max {
                return Ok(Some(format!(
                    "error rate {:.1}% ({} of {} requests) crossed the bound {:.1}%",
                    100.0 * rate,
                    arm.errors,
                    arm.requests,
                    100.0 * max
                )));
            }
        }
    }
    if let Some(bound) = &guard.min_score {
        if let Some(scores) = arm.scores.get(&bound.name).filter(|s| s.n >= guard.min_requests) {
            let mean = scores.mean().unwrap_or(f64::NAN);
            if mean < bound.min {
                return Ok(Some(format!(
                    "mean {} {mean:.3} over {} scores fell below the bound {}",
                    bound.name, scores.n, bound.min
                )));
            }
        }
    }
    Ok(None)
}

/// One pass over every deployment; returns what it changed. A deployment changed by someone
/// else meanwhile (a conflict) is left for the next pass.
pub async fn watch_once(store: &dyn Store) -> Result<Vec<WatchAction>, DeployError> {
    let mut actions = Vec::new();
    for deployment in store.list_deployments().await? {
        if let Some((canary, guard)) = deployment.canary.as_ref().and_then(|c| Some((c, c.guard.as_ref()?))) {
            if let Some(reason) = guard_breach(store, &deployment, canary, guard).await? {
                match abort_canary(store, &deployment.route, &deployment.environment, WATCH_ACTOR, Some(reason.clone()))
                    .await
                {
                    Ok(_) => {
                        tracing::warn!(route = %deployment.route, environment = %deployment.environment,
                            release = canary.release, %reason, "canary stopped by its bound");
                        actions.push(WatchAction::AbortedCanary {
                            route: deployment.route.clone(),
                            environment: deployment.environment.clone(),
                            release: canary.release,
                            reason,
                        });
                    }
                    Err(DeployError::Conflict { .. } | DeployError::NoCanary(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        match reweight(store, &deployment, WATCH_ACTOR).await {
            Ok(Some(next)) => {
                let weights = next
                    .experiment
                    .iter()
                    .flat_map(|e| e.variants.iter().map(|v| (v.name.clone(), v.weight)))
                    .collect();
                tracing::info!(route = %next.route, environment = %next.environment, "experiment reweighted");
                actions.push(WatchAction::Reweighted {
                    route: next.route.clone(),
                    environment: next.environment.clone(),
                    weights,
                });
            }
            Ok(None) | Err(DeployError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(actions)
}

/// Runs `watch_once` every `interval` until the task is aborted; a change makes the gateway
/// read the deployments again at once.
pub fn spawn_watcher(gateway: Arc<Gateway>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match watch_once(gateway.store().as_ref()).await {
                Ok(actions) if !actions.is_empty() => gateway.deployments().invalidate(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deployment watcher pass failed"),
            }
        }
    })
}
