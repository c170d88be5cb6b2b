//! A/B experiments: N weighted variants of a route, each a release, with the same sticky
//! assignment as a canary. In adaptive mode the weights move toward the variant most likely
//! to be best on a feedback or online-evaluator score (Thompson sampling), so fewer users
//! keep getting a worse variant while the experiment still learns about every one.

use super::{check_names, check_target, deployment, event, now, replace, DeployError};
use gantry_store::{NewRelease, Store};
use gantry_types::{
    is_resource_name, AdaptivePolicy, Deployment, DeploymentAction, Experiment, ExperimentVariant, MomentSums,
    ReleaseTarget,
};
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};
use std::str::FromStr;

/// Most variants one experiment may have.
pub const MAX_VARIANTS: usize = 10;

/// What a variant runs.
#[derive(Debug, Clone, PartialEq)]
pub enum VariantTarget {
    /// The route's current release.
    Current,
    /// A release the route already has.
    Release(u32),
    /// A new release, made when the experiment starts.
    New(ReleaseTarget),
}

/// One variant as a caller asks for it: `NAME[:WEIGHT]=TARGET`, where TARGET is `current`,
/// `release:N` or a release target (`prompt:NAME@V`, `chain:NAME@V`, `model:NAME`).
#[derive(Debug, Clone, PartialEq)]
pub struct VariantSpec {
    pub name: String,
    pub weight: f64,
    pub target: VariantTarget,
    /// The model a new prompt or chain release runs on.
    pub model: Option<String>,
}

impl std::fmt::Display for VariantTarget {
    /// As it is written on the command line and in the API: the inverse of `from_str`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VariantTarget::Current => f.write_str("current"),
            VariantTarget::Release(number) => write!(f, "release:{number}"),
            VariantTarget::New(target) => write!(f, "{target}"),
        }
    }
}

impl FromStr for VariantTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "current" {
            return Ok(VariantTarget::Current);
        }
        if let Some(number) = text.strip_prefix("release:") {
            return number
                .parse()
                .map(VariantTarget::Release)
                .map_err(|_| format!("'{text}': release:N takes a number"));
        }
        text.parse().map(VariantTarget::New).map_err(|e: gantry_types::TargetParseError| {
            format!("{e} (or current, or release:N for a release the route already has)")
        })
    }
}

impl FromStr for VariantSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (head, target) =
            text.split_once('=').ok_or_else(|| format!("'{text}': a variant is NAME[:WEIGHT]=TARGET"))?;
        let (name, weight) = match head.split_once(':') {
            Some((name, weight)) => {
                (name, weight.parse::<f64>().map_err(|_| format!("'{text}': the weight '{weight}' is not a number"))?)
            }
            None => (head, 1.0),
        };
        Ok(VariantSpec { name: name.to_string(), weight, target: target.parse()?, model: None })
    }
}

/// An experiment as a caller asks for it.
#[derive(Debug, Clone)]
pub struct ExperimentRequest {
    pub route: String,
    pub environment: String,
    pub variants: Vec<VariantSpec>,
    pub adaptive: Option<AdaptivePolicy>,
    pub actor: String,
}

fn invalid(message: impl Into<String>) -> DeployError {
    DeployError::InvalidExperiment(message.into())
}

fn validate(request: &ExperimentRequest) -> Result<(), DeployError> {
    let count = request.variants.len();
    if !(2..=MAX_VARIANTS).contains(&count) {
        return Err(invalid(format!("an experiment has 2 to {MAX_VARIANTS} variants, got {count}")));
    }
    for (i, variant) in request.variants.iter().enumerate() {
        if !is_resource_name(&variant.name) {
            return Err(invalid(format!("variant name '{}': letters, digits, '-', '_' or '.'", variant.name)));
        }
        if request.variants[..i].iter().any(|v| v.name == variant.name) {
            return Err(invalid(format!("two variants are named '{}'", variant.name)));
        }
        if !(variant.weight.is_finite() && variant.weight > 0.0) {
            return Err(invalid(format!("variant '{}' needs a weight above 0, got {}", variant.name, variant.weight)));
        }
    }
    if let Some(policy) = &request.adaptive {
        if policy.metric.trim().is_empty() {
            return Err(invalid("adaptive mode needs a metric: a feedback or online evaluator name"));
        }
        if !(policy.min_weight >= 0.0 && policy.min_weight.is_finite()) {
            return Err(invalid(format!("min_weight is a share from 0 up, got {}", policy.min_weight)));
        }
        if policy.min_weight * count as f64 > 1.0 {
            return Err(invalid(format!(
                "min_weight {} leaves no traffic to move between {count} variants",
                policy.min_weight
            )));
        }
    }
    Ok(())
}

/// Starts an experiment on a deployed route: new targets become releases, then every
/// request is assigned a variant until the experiment stops.
pub async fn start_experiment(
    store: &dyn Store,
    request: ExperimentRequest,
    models: &[String],
) -> Result<Deployment, DeployError> {
    check_names(&request.route, &request.environment)?;
    validate(&request)?;
    let current = deployment(store, &request.route, &request.environment).await?;
    if current.canary.is_some() {
        return Err(DeployError::CanaryRunning(request.route.clone()));
    }
    if current.experiment.is_some() {
        return Err(DeployError::ExperimentRunning(request.route.clone()));
    }
    for variant in &request.variants {
        match &variant.target {
            VariantTarget::New(target) => check_target(store, target, variant.model.as_deref(), models).await?,
            VariantTarget::Release(number) => {
                if store.get_release(&request.route, &request.environment, *number).await?.is_none() {
                    return Err(DeployError::ReleaseNotFound {
                        route: request.route.clone(),
                        environment: request.environment.clone(),
                        number: *number,
                    });
                }
            }
            VariantTarget::Current => {}
        }
    }
    let mut variants = Vec::with_capacity(request.variants.len());
    for variant in &request.variants {
        let release = match &variant.target {
            VariantTarget::Current => current.current,
            VariantTarget::Release(number) => *number,
            VariantTarget::New(target) => {
                let note = format!("experiment variant {}", variant.name);
                store
                    .create_release(NewRelease {
                        route: &request.route,
                        environment: &request.environment,
                        target,
                        model: variant.model.as_deref(),
                        promoted_by: &request.actor,
                        gate: None,
                        note: Some(&note),
                    })
                    .await?
                    .number
            }
        };
        variants.push(ExperimentVariant { name: variant.name.clone(), release, weight: variant.weight });
    }
    let experiment = Experiment {
        id: uuid::Uuid::now_v7().to_string(),
        variants,
        adaptive: request.adaptive.clone(),
        started_at: now(),
    };
    let reason = describe(&experiment);
    let next = Deployment {
        experiment: Some(experiment),
        updated_by: request.actor.clone(),
        updated_at: now(),
        ..current.clone()
    };
    let change = event(&next, DeploymentAction::Experiment, Some(current.current), None, Some(reason));
    replace(store, Some(&current), &next, &change).await?;
    tracing::info!(route = %request.route, environment = %request.environment, "experiment started");
    Ok(next)
}

/// `name (release N) share%, ...`.
fn describe_variants(experiment: &Experiment) -> String {
    let total: f64 = experiment.variants.iter().map(|v| v.weight).sum();
    let parts: Vec<String> = experiment
        .variants
        .iter()
        .map(|v| format!("{} (release {}) {:.1}%", v.name, v.release, 100.0 * v.weight / total.max(f64::MIN_POSITIVE)))
        .collect();
    parts.join(", ")
}

/// The variants and the adaptive policy, for the history.
fn describe(experiment: &Experiment) -> String {
    let adaptive = experiment.adaptive.as_ref().map(|a| format!("; adaptive on {}", a.metric)).unwrap_or_default();
    format!("{}{adaptive}", describe_variants(experiment))
}

/// Ends the experiment; the `winner`'s release becomes current, or without one the route
/// returns to its current release.
pub async fn stop_experiment(
    store: &dyn Store,
    route: &str,
    environment: &str,
    actor: &str,
    winner: Option<&str>,
) -> Result<Deployment, DeployError> {
    let current = deployment(store, route, environment).await?;
    let experiment = current.experiment.clone().ok_or_else(|| DeployError::NoExperiment(route.to_string()))?;
    let chosen = match winner {
        Some(name) => Some(experiment.variants.iter().find(|v| v.name == name).ok_or_else(|| {
            let names: Vec<&str> = experiment.variants.iter().map(|v| v.name.as_str()).collect();
            invalid(format!("no variant named '{name}'; the variants are {}", names.join(", ")))
        })?),
        None => None,
    };
    let next = Deployment {
        current: chosen.map_or(current.current, |v| v.release),
        experiment: None,
        updated_by: actor.to_string(),
        updated_at: now(),
        ..current.clone()
    };
    let reason = match chosen {
        Some(v) => format!("winner {} (release {})", v.name, v.release),
        None => "stopped without a winner".to_string(),
    };
    let change =
        event(&next, DeploymentAction::StopExperiment, Some(current.current), Some(next.current), Some(reason));
    replace(store, Some(&current), &next, &change).await?;
    Ok(next)
}

/// Monte Carlo draws per reweighting: enough that P(best) is good to about ±1%.
const DRAWS: usize = 4000;

/// The weights Thompson sampling gives variants with these scores (each value in 0..1, the
/// sum being the fractional successes of a Beta(1 + successes, 1 + failures) posterior):
/// each variant's probability of being best, with `min_weight` kept for every variant.
/// `None` while a variant has fewer than `min_samples` scores.
pub fn thompson_weights(scores: &[MomentSums], policy: &AdaptivePolicy, seed: u64) -> Option<Vec<f64>> {
    if scores.is_empty() || scores.iter().any(|s| s.n < policy.min_samples.max(1)) {
        return None;
    }
    let posteriors: Vec<Beta<f64>> = scores
        .iter()
        .map(|s| {
            let successes = s.sum.clamp(0.0, s.n as f64);
            Beta::new(1.0 + successes, 1.0 + s.n as f64 - successes).ok()
        })
        .collect::<Option<_>>()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut wins = vec![0usize; scores.len()];
    for _ in 0..DRAWS {
        let mut best = (0, f64::MIN);
        for (i, posterior) in posteriors.iter().enumerate() {
            // A tiny jitter breaks exact ties at random instead of always toward the first.
            let draw = posterior.sample(&mut rng) + rng.random::<f64>() * 1e-12;
            if draw > best.1 {
                best = (i, draw);
            }
        }
        wins[best.0] += 1;
    }
    let free = 1.0 - policy.min_weight * scores.len() as f64;
    Some(wins.iter().map(|w| policy.min_weight + free * *w as f64 / DRAWS as f64).collect())
}

/// Weights move only by more than this, so the history is not a stream of tiny changes.
const REWEIGHT_STEP: f64 = 0.01;

/// Moves an adaptive experiment's weights by Thompson sampling over each variant's scores on
/// the policy's metric since the experiment started. Returns the new deployment when the
/// weights moved.
pub async fn reweight(
    store: &dyn Store,
    deployment: &Deployment,
    actor: &str,
) -> Result<Option<Deployment>, DeployError> {
    let Some(experiment) = &deployment.experiment else { return Ok(None) };
    let Some(policy) = &experiment.adaptive else { return Ok(None) };
    let arms = store.arm_totals(&deployment.route, &deployment.environment, experiment.started_at).await?;
    let scores: Vec<MomentSums> = experiment
        .variants
        .iter()
        .map(|v| {
            // The store adds up one arm per release and variant.
            arms.iter()
                .find(|a| a.variant == v.name && a.release == v.release)
                .and_then(|a| a.scores.get(&policy.metric).copied())
                .unwrap_or_default()
        })
        .collect();
    let seed = scores.iter().map(|s| s.n).sum::<u64>() ^ u64::from(deployment.current);
    let Some(weights) = thompson_weights(&scores, policy, seed) else { return Ok(None) };
    let total: f64 = experiment.variants.iter().map(|v| v.weight).sum();
    let moved = experiment.variants.iter().zip(&weights).any(|(v, w)| (v.weight / total - w).abs() > REWEIGHT_STEP);
    if !moved {
        return Ok(None);
    }
    let mut next_experiment = experiment.clone();
    for (variant, weight) in next_experiment.variants.iter_mut().zip(&weights) {
        // Four decimals: finer than the Monte Carlo estimate can tell, and it reads cleanly.
        variant.weight = (weight * 10_000.0).round() / 10_000.0;
    }
    let reason = format!("Thompson sampling on {}: {}", policy.metric, describe_variants(&next_experiment));
    let next = Deployment {
        experiment: Some(next_experiment),
        updated_by: actor.to_string(),
        updated_at: now(),
        ..deployment.clone()
    };
    let change = event(&next, DeploymentAction::Reweight, Some(deployment.current), None, Some(reason));
    replace(store, Some(deployment), &next, &change).await?;
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(n: u64, mean: f64) -> MomentSums {
        MomentSums { n, sum: n as f64 * mean, sum_sq: n as f64 * mean * mean }
    }

    fn policy(min_weight: f64) -> AdaptivePolicy {
        AdaptivePolicy { metric: "thumbs".into(), min_weight, min_samples: 10 }
    }

    #[test]
    fn variant_specs_parse_name_weight_and_target() {
        let v: VariantSpec = "concise:30=prompt:support@8".parse().unwrap();
        assert_eq!(v.name, "concise");
        assert_eq!(v.weight, 30.0);
        assert_eq!(v.target, VariantTarget::New("prompt:support@8".parse().unwrap()));
        let v: VariantSpec = "control=current".parse().unwrap();
        assert_eq!((v.weight, v.target), (1.0, VariantTarget::Current));
        assert_eq!("old=release:3".parse::<VariantSpec>().unwrap().target, VariantTarget::Release(3));
        for text in ["current", "release:3", "prompt:support@8", "model:gpt"] {
            assert_eq!(text.parse::<VariantTarget>().unwrap().to_string(), text);
        }
        assert!("x:heavy=current".parse::<VariantSpec>().unwrap_err().contains("not a number"));
        assert!("nothing".parse::<VariantSpec>().unwrap_err().contains("NAME[:WEIGHT]=TARGET"));
    }

    #[test]
    fn thompson_moves_traffic_to_the_better_variant_and_keeps_the_floor() {
        let w = thompson_weights(&[scores(200, 0.5), scores(200, 0.7)], &policy(0.05), 7).unwrap();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // 0.7 vs 0.5 on 200 scores each is all but certain: the floor is all the worse one keeps.
        assert!((w[0] - 0.05).abs() < 0.01, "{w:?}");
        assert!(w[1] > 0.94, "{w:?}");
    }

    #[test]
    fn thompson_splits_evenly_when_variants_look_alike_and_waits_for_samples() {
        let w = thompson_weights(&[scores(100, 0.6), scores(100, 0.6), scores(100, 0.6)], &policy(0.0), 3).unwrap();
        for share in &w {
            assert!((share - 1.0 / 3.0).abs() < 0.04, "{w:?}");
        }
        assert!(thompson_weights(&[scores(100, 0.6), scores(9, 0.9)], &policy(0.05), 3).is_none());
    }

    #[test]
    fn thompson_with_little_evidence_stays_uncertain() {
        // 7/10 against 5/10 is suggestive, not decisive: the better one gets most, not all.
        let w = thompson_weights(&[scores(10, 0.5), scores(10, 0.7)], &policy(0.0), 11).unwrap();
        assert!(w[1] > 0.7 && w[1] < 0.95, "{w:?}");
    }
}
