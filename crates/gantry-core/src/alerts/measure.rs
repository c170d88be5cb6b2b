//! The value of a rule's metric as of a moment: from the analytics rollups (or the traces, for
//! a route or environment), the feedback means, or an objective's status.

use super::rules::{AlertMetric, AlertRule, TrafficMetric};
use super::AlertError;
use crate::analytics::{ceil_minute, objective_statuses, Objective, Totals};
use crate::monitor::{drift_score, DriftQuery};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gantry_store::{FeedbackScope, RollupGroup, RollupQuery, Store, TraceWindow};

/// A metric's value; `None` when there is nothing to compute it from (a rate without requests,
/// a mean without feedback), which never satisfies a condition.
pub type Measured = Option<f64>;

fn traffic_value(metric: TrafficMetric, t: &Totals) -> Measured {
    match metric {
        TrafficMetric::Requests => Some(t.requests as f64),
        TrafficMetric::Errors => Some(t.errors as f64),
        TrafficMetric::ErrorRate => t.error_rate(),
        TrafficMetric::LatencyP50Ms => t.latency.quantile(0.5),
        TrafficMetric::LatencyP95Ms => t.latency.quantile(0.95),
        TrafficMetric::LatencyP99Ms => t.latency.quantile(0.99),
        TrafficMetric::TtftP50Ms => t.ttft.quantile(0.5),
        TrafficMetric::TtftP95Ms => t.ttft.quantile(0.95),
        TrafficMetric::CostUsd => Some(t.cost_usd),
        TrafficMetric::CostPer1kRequests => (t.requests > 0).then(|| t.cost_usd / t.requests as f64 * 1000.0),
        TrafficMetric::Tokens => Some((t.prompt_tokens + t.completion_tokens) as f64),
    }
}

fn chrono_window(rule: &AlertRule) -> ChronoDuration {
    ChronoDuration::from_std(rule.window).unwrap_or(ChronoDuration::minutes(5))
}

/// The calls of the rule's window. Rollups count whole minutes, so their window ends with the
/// minute holding `now`; a route or environment is read from the traces, over exactly
/// `[now - window, now)`.
async fn traffic_totals(store: &dyn Store, rule: &AlertRule, now: DateTime<Utc>) -> Result<Totals, AlertError> {
    let f = &rule.filter;
    if f.route.is_some() || f.environment.is_some() {
        let window = TraceWindow {
            since: now - chrono_window(rule),
            until: now,
            model: f.model.clone(),
            prompt: f.prompt.clone(),
            api_key_id: f.key.clone(),
            route: f.route.clone(),
            environment: f.environment.clone(),
        };
        let mut totals = Totals::default();
        totals.add(&store.trace_window_totals(&window).await?);
        return Ok(totals);
    }
    let window_seconds = rule.window.as_secs().div_ceil(60).max(1) * 60;
    let span = ChronoDuration::seconds(i64::try_from(window_seconds).unwrap_or(300));
    let query = RollupQuery {
        start: ceil_minute(now) - span,
        bucket_seconds: window_seconds,
        buckets: 1,
        model: f.model.clone(),
        prompt: f.prompt.clone(),
        api_key_id: f.key.clone(),
        group: RollupGroup::Total,
    };
    let mut totals = Totals::default();
    for cell in store.rollups(&query).await? {
        totals.add(&cell);
    }
    Ok(totals)
}

/// How far an objective's value is from its target: 1 on the target, above 1 worse than it.
fn burn(objective: &Objective, value: f64) -> f64 {
    let worse_by =
        if objective.metric.higher_is_better() { objective.target - value } else { value - objective.target };
    if objective.target == 0.0 {
        1.0 + worse_by
    } else {
        1.0 + worse_by / objective.target.abs()
    }
}

/// The value of `rule`'s metric as of `now`.
pub async fn measure(store: &dyn Store, rule: &AlertRule, now: DateTime<Utc>) -> Result<Measured, AlertError> {
    match &rule.metric {
        AlertMetric::Traffic(metric) => Ok(traffic_value(*metric, &traffic_totals(store, rule, now).await?)),
        AlertMetric::Feedback { name } => {
            let scope = FeedbackScope {
                model: rule.filter.model.clone(),
                prompt: rule.filter.prompt.clone(),
                api_key_id: rule.filter.key.clone(),
            };
            Ok(store.feedback_mean(name, now - chrono_window(rule), now, &scope).await?.mean)
        }
        AlertMetric::Objective { objective, burn: wants_burn } => {
            let statuses = objective_statuses(store, std::slice::from_ref(objective.as_ref()), now).await?;
            let Some(status) = statuses.first() else { return Ok(None) };
            Ok(match (status.value, *wants_burn) {
                (Some(value), true) => Some(burn(objective, value)),
                (Some(_), false) => status.met.map(|met| if met { 0.0 } else { 1.0 }),
                (None, _) => None,
            })
        }
        AlertMetric::Drift { route } => {
            let query = DriftQuery {
                environment: rule.filter.environment.clone(),
                ..DriftQuery::last(route.clone(), rule.window, now)
            };
            // Too little traffic in either window is no value, like a rate without requests.
            drift_score(store, None, &query).await.map_err(|e| AlertError::Drift(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::ObjectiveMetric;
    use std::time::Duration;

    fn objective(metric: ObjectiveMetric, target: f64) -> Objective {
        Objective {
            name: "o".into(),
            metric,
            target,
            window: Duration::from_secs(3600),
            model: None,
            prompt: None,
            key: None,
        }
    }

    #[test]
    fn burn_is_one_on_target_and_grows_as_the_value_gets_worse() {
        let latency = objective(ObjectiveMetric::LatencyP95Ms, 800.0);
        assert_eq!(burn(&latency, 800.0), 1.0);
        assert_eq!(burn(&latency, 1200.0), 1.5);
        assert_eq!(burn(&latency, 400.0), 0.5);
        let quality = objective(ObjectiveMetric::FeedbackAvg { feedback: "thumbs".into() }, 0.8);
        assert!((burn(&quality, 0.6) - 1.25).abs() < 1e-9);
        assert!(burn(&quality, 0.9) < 1.0);
    }
}
