//! The live comparison of a route's arms (stable and canary, or an experiment's variants):
//! each arm's error rate, latency, cost and scores with 95% intervals, and a test of each
//! against the baseline arm, so an operator sees whether a difference is more than chance.

use super::stats::{
    nonnegative_interval, score_interval, score_test, two_proportion_test, welch_test, wilson, Estimate, TestResult,
};
use super::{canary_started_at, deployment, DeployError, STABLE};
use chrono::{DateTime, Duration, Utc};
use gantry_store::Store;
use gantry_types::{ArmTotals, Deployment};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An arm's tests against the baseline arm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmTests {
    pub error_rate: Option<TestResult>,
    pub latency_ms: Option<TestResult>,
    pub cost_usd: Option<TestResult>,
    pub scores: BTreeMap<String, TestResult>,
}

/// One arm in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmComparison {
    pub release: u32,
    pub variant: String,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: Option<Estimate>,
    pub latency_ms: Option<Estimate>,
    pub cost_usd: Option<Estimate>,
    pub scores: BTreeMap<String, Estimate>,
    /// Absent on the baseline itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_baseline: Option<ArmTests>,
}

/// A route's arms side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub route: String,
    pub environment: String,
    pub since: DateTime<Utc>,
    /// The arm the others are tested against (`release/variant`), when there is traffic.
    pub baseline: Option<String>,
    pub arms: Vec<ArmComparison>,
}

/// Where the comparison starts when the caller does not say: the experiment's start, the
/// canary release's creation, or else the last day.
async fn default_since(store: &dyn Store, deployment: &Deployment) -> Result<DateTime<Utc>, DeployError> {
    if let Some(experiment) = &deployment.experiment {
        return Ok(experiment.started_at);
    }
    if let Some(canary) = &deployment.canary {
        if let Some(started) = canary_started_at(store, deployment, canary).await? {
            return Ok(started);
        }
    }
    Ok(Utc::now() - Duration::days(1))
}

/// The baseline arm: the stable one, else the experiment's first variant, else the busiest.
fn baseline_index(arms: &[ArmTotals], deployment: &Deployment) -> Option<usize> {
    let first_variant = deployment.experiment.as_ref().and_then(|e| e.variants.first());
    arms.iter()
        .position(|a| a.variant == STABLE && a.release == deployment.current)
        .or_else(|| first_variant.and_then(|v| arms.iter().position(|a| a.variant == v.name && a.release == v.release)))
        .or_else(|| arms.iter().position(|a| a.variant == STABLE))
        .or_else(|| arms.iter().enumerate().max_by_key(|(_, a)| a.requests).map(|(i, _)| i))
}

fn tests(arm: &ArmTotals, baseline: &ArmTotals) -> ArmTests {
    ArmTests {
        error_rate: two_proportion_test((arm.errors, arm.requests), (baseline.errors, baseline.requests)),
        latency_ms: welch_test(&arm.latency_ms, &baseline.latency_ms),
        cost_usd: welch_test(&arm.cost_usd, &baseline.cost_usd),
        scores: arm
            .scores
            .iter()
            .filter_map(|(name, sums)| Some((name.clone(), score_test(sums, baseline.scores.get(name)?)?)))
            .collect(),
    }
}

/// Compares the arms of `route` in `environment` on traffic since `since` (default: since the
/// experiment or canary began).
pub async fn compare(
    store: &dyn Store,
    route: &str,
    environment: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Comparison, DeployError> {
    let current = deployment(store, route, environment).await?;
    let since = match since {
        Some(since) => since,
        None => default_since(store, &current).await?,
    };
    let totals = store.arm_totals(route, environment, since).await?;
    let baseline = baseline_index(&totals, &current);
    let arms = totals
        .iter()
        .enumerate()
        .map(|(i, arm)| ArmComparison {
            release: arm.release,
            variant: arm.variant.clone(),
            requests: arm.requests,
            errors: arm.errors,
            error_rate: wilson(arm.errors, arm.requests),
            latency_ms: nonnegative_interval(&arm.latency_ms),
            cost_usd: nonnegative_interval(&arm.cost_usd),
            scores: arm.scores.iter().filter_map(|(name, s)| Some((name.clone(), score_interval(s)?))).collect(),
            vs_baseline: baseline.filter(|b| *b != i).map(|b| tests(arm, &totals[b])),
        })
        .collect();
    Ok(Comparison {
        route: route.to_string(),
        environment: environment.to_string(),
        since,
        baseline: baseline.map(|b| format!("{}/{}", totals[b].release, totals[b].variant)),
        arms,
    })
}
