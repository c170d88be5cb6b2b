//! The state machine of every rule: inactive → pending (the condition holds, waiting for
//! `for`) → firing (notified once; never again while it keeps firing) → resolved (notified) →
//! inactive. `tick(now)` evaluates every rule as of `now`, so tests drive it with their own
//! clock; notifications are handed to a [`Notify`] that must not wait.

use super::measure::measure;
use super::rules::AlertRule;
use super::AlertError;
use chrono::{DateTime, Utc};
use gantry_store::Store;
use gantry_types::{AlertEvent, AlertEventKind, AlertRuleState, AlertState};
use std::collections::HashMap;
use std::sync::Arc;

/// A transition to tell the rule's webhooks about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The event as recorded (with its id), which deliveries are recorded against.
    pub event: AlertEvent,
    /// The rule's window, e.g. `5m`.
    pub window: String,
    /// The rule's scope as `name=value` pairs.
    pub filter: Vec<(String, String)>,
    /// The webhooks to deliver to, by name.
    pub webhooks: Vec<String>,
}

/// Takes notifications for delivery without waiting (a queue, a spawned task).
pub trait Notify: Send + Sync {
    /// Hands `notification` over; delivery happens elsewhere.
    fn notify(&self, notification: Notification);
}

/// The state after one evaluation, and the transition that led there, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub state: AlertState,
    /// When the condition started to hold; `None` when inactive.
    pub since: Option<DateTime<Utc>>,
    pub transition: Option<AlertEventKind>,
}

/// One evaluation of a rule whose condition now `holds` (or not), from `state` since `since`.
pub fn step(
    state: AlertState,
    since: Option<DateTime<Utc>>,
    holds: bool,
    now: DateTime<Utc>,
    for_duration: std::time::Duration,
) -> Step {
    let stay = |transition| Step { state, since, transition };
    // Pending long enough fires; a `for` of zero fires on the first evaluation that holds.
    let held_long_enough =
        |start: DateTime<Utc>| (now - start).to_std().is_ok_and(|held| held >= for_duration) || for_duration.is_zero();
    match (state, holds) {
        (AlertState::Inactive, false) | (AlertState::Firing, true) => stay(None),
        (AlertState::Inactive, true) if for_duration.is_zero() => {
            Step { state: AlertState::Firing, since: Some(now), transition: Some(AlertEventKind::Firing) }
        }
        (AlertState::Inactive, true) => {
            Step { state: AlertState::Pending, since: Some(now), transition: Some(AlertEventKind::Pending) }
        }
        (AlertState::Pending, true) => {
            let start = since.unwrap_or(now);
            if held_long_enough(start) {
                Step { state: AlertState::Firing, since: Some(start), transition: Some(AlertEventKind::Firing) }
            } else {
                Step { state, since: Some(start), transition: None }
            }
        }
        (AlertState::Pending, false) => {
            Step { state: AlertState::Inactive, since: None, transition: Some(AlertEventKind::Cancelled) }
        }
        (AlertState::Firing, false) => {
            Step { state: AlertState::Inactive, since: None, transition: Some(AlertEventKind::Resolved) }
        }
    }
}

/// What one tick did to one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub rule: String,
    pub value: Option<f64>,
    pub state: AlertState,
    pub transition: Option<AlertEventKind>,
    /// Why the rule could not be evaluated (its state is left as it was).
    pub error: Option<String>,
}

/// Evaluates the rules, keeps their states (in memory and in the store) and notifies.
pub struct AlertEngine {
    store: Arc<dyn Store>,
    rules: Arc<[AlertRule]>,
    notifier: Arc<dyn Notify>,
    states: HashMap<String, AlertRuleState>,
}

impl AlertEngine {
    /// An engine that carries on from the states stored by an earlier run, so that an alert
    /// firing before a restart is not notified again.
    pub async fn load(
        store: Arc<dyn Store>,
        rules: Arc<[AlertRule]>,
        notifier: Arc<dyn Notify>,
    ) -> Result<Self, AlertError> {
        let states = store.alert_states().await?.into_iter().map(|s| (s.rule.clone(), s)).collect();
        Ok(Self { store, rules, notifier, states })
    }

    /// The rules evaluated.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// Evaluates every rule as of `now`. A rule that cannot be measured is reported and left
    /// as it was; the others go on.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Vec<RuleOutcome> {
        let rules = self.rules.clone();
        let mut outcomes = Vec::with_capacity(rules.len());
        for rule in rules.iter() {
            let outcome = match self.evaluate(rule, now).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %e, "alert rule not evaluated");
                    let state = self.states.get(&rule.name).map_or(AlertState::Inactive, |s| s.state);
                    RuleOutcome {
                        rule: rule.name.clone(),
                        value: None,
                        state,
                        transition: None,
                        error: Some(e.to_string()),
                    }
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    async fn evaluate(&mut self, rule: &AlertRule, now: DateTime<Utc>) -> Result<RuleOutcome, AlertError> {
        let value = measure(self.store.as_ref(), rule, now).await?;
        let holds = value.is_some_and(|v| rule.op.holds(v, rule.threshold));
        let previous = self.states.get(&rule.name);
        let (state, since) = previous.map_or((AlertState::Inactive, None), |s| (s.state, s.since));
        let next = step(state, since, holds, now, rule.for_duration);
        let stored = AlertRuleState {
            rule: rule.name.clone(),
            state: next.state,
            since: next.since,
            value,
            evaluated_at: Some(now),
        };
        let event = next.transition.map(|kind| AlertEvent {
            id: 0,
            rule: rule.name.clone(),
            kind,
            severity: rule.severity.clone(),
            metric: rule.metric_name.clone(),
            op: rule.op.as_str().to_string(),
            threshold: rule.threshold,
            value,
            // A resolved message says since when the alert had been firing.
            started_at: if kind == AlertEventKind::Resolved { since } else { next.since },
            at: now,
            deliveries: Vec::new(),
        });
        // Stored before anyone is told, so a crash after a notification cannot send it twice.
        let id = self.store.save_alert_state(&stored, event.as_ref()).await?;
        self.states.insert(rule.name.clone(), stored);
        if let (Some(mut event), Some(id)) = (event, id) {
            event.id = id;
            tracing::info!(rule = %rule.name, transition = event.kind.as_str(), ?value, "alert transition");
            if event.kind.notifies() {
                self.notifier.notify(notification(rule, event));
            }
        }
        Ok(RuleOutcome { rule: rule.name.clone(), value, state: next.state, transition: next.transition, error: None })
    }
}

/// The notification of `event` of `rule`.
pub fn notification(rule: &AlertRule, event: AlertEvent) -> Notification {
    Notification {
        event,
        window: super::window_text(rule),
        filter: rule.filter.pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        webhooks: rule.webhooks.clone(),
    }
}
