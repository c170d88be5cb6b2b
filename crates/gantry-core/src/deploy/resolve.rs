//! Which release answers a request to a route: the current one, or the canary for the
//! requests whose sticky key (a user or session id) hashes into the canary's share.

use gantry_types::{Deployment, DeploymentUse};

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

/// The arm of `deployment` for `sticky_key` (`None`: chosen per request with `random`, a
/// number in 0..1). The key is hashed with the route and the canary's release, so a new
/// canary reshuffles who is in it, while one canary keeps each user on one side.
pub fn assign_variant(deployment: &Deployment, sticky_key: Option<&str>, random: f64) -> Resolved {
    let stable = |release| Resolved {
        release,
        usage: DeploymentUse {
            route: deployment.route.clone(),
            environment: deployment.environment.clone(),
            release,
            variant: "stable".to_string(),
        },
    };
    let Some(canary) = &deployment.canary else { return stable(deployment.current) };
    let position = match sticky_key {
        Some(key) => {
            let release = canary.release.to_string();
            // The top 53 bits as a fraction in [0, 1).
            (fnv1a(&[&deployment.route, &release, key]) >> 11) as f64 / (1u64 << 53) as f64
        }
        None => random,
    };
    if position * 100.0 < canary.percent {
        Resolved {
            release: canary.release,
            usage: DeploymentUse {
                route: deployment.route.clone(),
                environment: deployment.environment.clone(),
                release: canary.release,
                variant: "canary".to_string(),
            },
        }
    } else {
        stable(deployment.current)
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
            canary: Some(Canary { release: 2, percent }),
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
}
