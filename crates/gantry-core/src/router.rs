//! Routing: a model name maps to ordered targets; a call tries each target with retries
//! (exponential backoff with jitter, honouring Retry-After), per-attempt and total timeouts,
//! and falls back to the next target when one is spent.

use crate::config::{ModelKind, RoutingPolicy};
use crate::error::GatewayError;
use chrono::Utc;
use gantry_providers::{Provider, ProviderError};
use gantry_types::Attempt;
use rand::Rng;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One place a model can be served from.
#[derive(Clone)]
pub struct Target {
    pub provider_name: String,
    pub upstream_model: String,
    pub provider: Arc<dyn Provider>,
}

impl Target {
    /// `provider/model`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider_name, self.upstream_model)
    }
}

/// A model name clients use, with its targets and policy.
#[derive(Clone)]
pub struct ModelRoute {
    pub name: String,
    pub kind: ModelKind,
    pub targets: Vec<Target>,
    pub policy: RoutingPolicy,
}

/// The result of routing one call, with every attempt made.
pub struct Routed<T> {
    pub result: Result<(T, Target), GatewayError>,
    pub attempts: Vec<Attempt>,
}

/// The wait before retry number `retry` (0-based): `base * 2^retry`, capped, with jitter in
/// [50%, 100%] so that many clients do not retry in lockstep. A Retry-After wins.
pub fn backoff_delay(policy: &RoutingPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let exp = policy.backoff_base.saturating_mul(2u32.saturating_pow(retry.min(16)));
    let capped = exp.min(policy.backoff_max);
    let factor = rand::rng().random_range(0.5..=1.0);
    capped.mul_f64(factor)
}

/// Runs `call` against the route's targets until one succeeds.
///
/// `call` gets the target and the time it may take; it is wrapped in the per-attempt
/// timeout as well. Retryable failures (429, 5xx, connection, timeout) are retried on the
/// same target up to `policy.retries` times; other failures move on to the next target.
pub async fn route_call<T, F, Fut>(route: &ModelRoute, started: Instant, mut call: F) -> Routed<T>
where
    F: FnMut(Target, Duration) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let policy = route.policy;
    let deadline = started + policy.total_timeout;
    let mut attempts = Vec::new();
    let mut last: Option<(ProviderError, String)> = None;
    'targets: for target in &route.targets {
        let mut retry = 0u32;
        loop {
            let now = Instant::now();
            let Some(remaining) = deadline.checked_duration_since(now).filter(|d| !d.is_zero()) else {
                break 'targets;
            };
            let budget = policy.attempt_timeout.min(remaining);
            let attempt_started = Utc::now();
            let outcome = match tokio::time::timeout(budget, call(target.clone(), budget)).await {
                Ok(result) => result,
                Err(_) => Err(ProviderError::Timeout(format!("no answer within {} ms", budget.as_millis()))),
            };
            let latency_ms = now.elapsed().as_secs_f64() * 1000.0;
            match outcome {
                Ok(value) => {
                    attempts.push(Attempt {
                        provider: target.provider_name.clone(),
                        upstream_model: target.upstream_model.clone(),
                        started_at: attempt_started,
                        latency_ms,
                        status: Some(200),
                        error: None,
                    });
                    return Routed { result: Ok((value, target.clone())), attempts };
                }
                Err(err) => {
                    tracing::warn!(target = %target.label(), error = %err, retry, "attempt failed");
                    attempts.push(Attempt {
                        provider: target.provider_name.clone(),
                        upstream_model: target.upstream_model.clone(),
                        started_at: attempt_started,
                        latency_ms,
                        status: err.upstream_status(),
                        error: Some(err.to_string()),
                    });
                    let retryable = err.is_retryable();
                    let retry_after = err.retry_after();
                    last = Some((err, target.label()));
                    if !retryable || retry >= policy.retries {
                        continue 'targets;
                    }
                    let wait = backoff_delay(&policy, retry, retry_after);
                    let left = deadline.saturating_duration_since(Instant::now());
                    if wait >= left {
                        // The upstream asks us to wait longer than the budget allows: fall back now.
                        continue 'targets;
                    }
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
            }
        }
    }
    let error = if Instant::now() >= deadline {
        GatewayError::Timeout(format!(
            "model '{}' did not answer within the total timeout of {} ms ({} attempts)",
            route.name,
            policy.total_timeout.as_millis(),
            attempts.len()
        ))
    } else {
        match &last {
            Some((err, label)) => GatewayError::from_provider(err, label),
            None => GatewayError::Internal(format!("model '{}' has no targets", route.name)),
        }
    };
    Routed { result: Err(error), attempts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let policy = RoutingPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..RoutingPolicy::default()
        };
        for _ in 0..100 {
            let d0 = backoff_delay(&policy, 0, None);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100), "{d0:?}");
            let d3 = backoff_delay(&policy, 3, None);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800), "{d3:?}");
            let d9 = backoff_delay(&policy, 9, None);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000), "{d9:?}");
        }
        assert_eq!(backoff_delay(&policy, 0, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }
}
