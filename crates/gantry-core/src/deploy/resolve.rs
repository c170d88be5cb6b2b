//! Which release answers a request to a route: the current one, or the canary for the
//! requests whose sticky key (a user or session id) hashes into the canary's share.

use gantry_types::{Deployment, DeploymentUse, Experiment, ExperimentVariant};

/// The arm name of the current release.
pub const STABLE: &str = "stable";
/// The arm name of a canary.
pub const CANARY: &str = "canary";

/// The arm a request lands in.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub release: u32,
    pub usage: DeploymentUse,
}

/// A stable 64-bit FNV-1a hash: the same key lands in the same arm in every process and
/// after every restart (std's hasher is randomly seeded per process).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// MurmurHash3's 64-bit finaliser: FNV-1a alone leaves salts that differ in one byte (two
/// experiments' ids) correlated in the top bits; this spreads every input bit over all of them.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Where `parts` fall in [0, 1), the same in every process: the top 53 bits of their mixed
/// hash. Sticky arms and deterministic samples (online evaluators) both draw from it.
pub fn stable_fraction(parts: &[&str]) -> f64 {
    (mix(fnv1a(parts)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Where a sticky key falls in [0, 1), salted so a new canary or experiment reshuffles.
fn position(route: &str, salt: &str, key: &str) -> f64 {
    stable_fraction(&[route, salt, key])
}

fn resolved(deployment: &Deployment, release: u32, variant: &str) -> Resolved {
    Resolved {
        release,
        usage: DeploymentUse {
            route: deployment.route.clone(),
            environment: deployment.environment.clone(),
            release,
            variant: variant.to_string(),
        },
    }
}

/// The variant of `experiment` at `position`: the variants laid end to end by weight.
fn experiment_variant(experiment: &Experiment, position: f64) -> Option<&ExperimentVariant> {
    let total: f64 = experiment.variants.iter().map(|v| v.weight.max(0.0)).sum();
    if total <= 0.0 {
        return experiment.variants.first();
    }
    let mut edge = 0.0;
    for variant in &experiment.variants {
        edge += variant.weight.max(0.0) / total;
        if position < edge {
            return Some(variant);
        }
    }
    // Rounding can leave the very top of the range past the last edge.
    experiment.variants.last()
}

/// The arm of `deployment` for `sticky_key` (`None`: chosen per request with `random`, a
/// number in 0..1). The key is hashed with the route and the canary's release (or the
/// experiment's id), so a new canary or experiment reshuffles who is in it, while one keeps
/// each user on one side. An experiment, while it runs, decides every request.
pub fn assign_variant(deployment: &Deployment, sticky_key: Option<&str>, random: f64) -> Resolved {
    if let Some(experiment) = &deployment.experiment {
        let at = sticky_key.map_or(random, |key| position(&deployment.route, &experiment.id, key));
        if let Some(variant) = experiment_variant(experiment, at) {
            return resolved(deployment, variant.release, &variant.name);
        }
    }
    let Some(canary) = &deployment.canary else { return resolved(deployment, deployment.current, STABLE) };
    let at = sticky_key.map_or(random, |key| position(&deployment.route, &canary.release.to_string(), key));
    if at * 100.0 < canary.percent {
        resolved(deployment, canary.release, CANARY)
    } else {
        resolved(deployment, deployment.current, STABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::Canary;

    fn deployment(percent: f64) -> Deployment {
        Deployment {
            route: "bot".into(),
            environment: "production".into(),
            current: 1,
            canary: Some(Canary { release: 2, percent, guard: None }),
            experiment: None,
            updated_by: "t".into(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn split_is_within_two_percent_at_ten_thousand_users() {
        let d = deployment(20.0);
        let canary = (0..10_000).filter(|i| assign_variant(&d, Some(&format!("user-{i}")), 0.0).release == 2).count();
        let share = canary as f64 / 10_000.0;
        assert!((share - 0.20).abs() <= 0.02, "canary share {share}");
    }

    #[test]
    fn a_user_stays_on_one_side() {
        let d = deployment(50.0);
        for i in 0..200 {
            let key = format!("session-{i}");
            let first = assign_variant(&d, Some(&key), 0.0).release;
            for random in [0.1, 0.5, 0.9] {
                assert_eq!(assign_variant(&d, Some(&key), random).release, first, "{key}");
            }
        }
    }

    #[test]
    fn without_a_key_the_draw_decides_and_without_a_canary_all_is_stable() {
        let d = deployment(30.0);
        assert_eq!(assign_variant(&d, None, 0.29).usage.variant, "canary");
        assert_eq!(assign_variant(&d, None, 0.31).usage.variant, "stable");
        let plain = Deployment { canary: None, ..d };
        assert_eq!(assign_variant(&plain, Some("x"), 0.0).release, 1);
    }

    fn experiment(weights: &[f64]) -> Deployment {
        let variants = weights
            .iter()
            .enumerate()
            .map(|(i, w)| ExperimentVariant { name: format!("v{i}"), release: i as u32 + 1, weight: *w })
            .collect();
        let experiment = Experiment { id: "exp-1".into(), variants, adaptive: None, started_at: chrono::Utc::now() };
        Deployment { canary: None, experiment: Some(experiment), ..deployment(0.0) }
    }

    #[test]
    fn experiment_split_follows_the_weights_within_two_percent() {
        let d = experiment(&[5.0, 3.0, 2.0]);
        let mut counts = [0usize; 3];
        for i in 0..10_000 {
            let r = assign_variant(&d, Some(&format!("user-{i}")), 0.0);
            counts[r.release as usize - 1] += 1;
            assert_eq!(r.usage.variant, format!("v{}", r.release - 1));
        }
        for (count, expected) in counts.iter().zip([0.5, 0.3, 0.2]) {
            let share = *count as f64 / 10_000.0;
            assert!((share - expected).abs() <= 0.02, "share {share}, expected {expected}");
        }
    }

    #[test]
    fn experiment_assignment_is_sticky_and_reshuffled_by_a_new_experiment() {
        let d = experiment(&[1.0, 1.0]);
        let mut other = d.clone();
        if let Some(e) = other.experiment.as_mut() {
            e.id = "exp-2".into();
        }
        let mut moved = 0;
        for i in 0..1000 {
            let key = format!("u{i}");
            let first = assign_variant(&d, Some(&key), 0.0).release;
            assert_eq!(assign_variant(&d, Some(&key), 0.99).release, first);
            moved += usize::from(assign_variant(&other, Some(&key), 0.0).release != first);
        }
        // Independent halves: about half the users change sides.
        assert!((400..600).contains(&moved), "{moved} moved");
        assert_eq!(assign_variant(&d, None, 0.7).usage.variant, "v1");
    }
}
