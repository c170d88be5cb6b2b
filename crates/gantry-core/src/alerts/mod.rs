//! Alerts: rules on any metric, objective or feedback mean (threshold, window, `for`),
//! evaluated in the background, delivered to webhooks (Slack-compatible or plain JSON) with
//! retries, once while firing and once more when resolved; states and history in the store.

pub mod deliver;
pub mod engine;
pub mod measure;
pub mod rules;
#[cfg(test)]
mod tests;

pub use deliver::WebhookNotifier;
pub use engine::{step, AlertEngine, Notification, Notify, RuleOutcome, Step};
pub use rules::{
    AlertFilter, AlertMetric, AlertRule, AlertingSettings, CompareOp, DeliverySettings, RawAlertRule, RawAlerting,
    Webhook, WebhookFormat,
};

use crate::analytics::{format_window, AnalyticsError};
use chrono::{DateTime, Utc};
use gantry_store::{Store, StoreError};
use gantry_types::{AlertEvent, AlertEventKind, AlertState, DeliveryOutcome};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The most history entries one read returns.
pub const MAX_HISTORY_LIMIT: u32 = 1000;
/// How long shutdown waits for queued notifications to go out.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why an alert operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// No rule of that name is configured.
    #[error("no alert rule named '{0}' is configured")]
    UnknownRule(String),
    /// A query parameter out of range.
    #[error("{message}")]
    InvalidQuery { message: String, param: &'static str },
    /// The webhook client could not be built.
    #[error("{0}")]
    Delivery(String),
    /// A drift score could not be computed (not "too little data": that is no value).
    #[error("drift: {0}")]
    Drift(String),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AlertError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AlertError::UnknownRule(_) => "alert_rule_not_found",
            AlertError::InvalidQuery { .. } => "invalid_parameter",
            AlertError::Delivery(_) => "alert_delivery_failed",
            AlertError::Drift(_) => "drift_failed",
            AlertError::Analytics(e) => e.code(),
            AlertError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            AlertError::UnknownRule(_) => 404,
            AlertError::InvalidQuery { .. } => 400,
            AlertError::Analytics(e) => e.http_status(),
            AlertError::Delivery(_) | AlertError::Drift(_) | AlertError::Store(_) => 500,
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            AlertError::InvalidQuery { param, .. } => Some(param),
            _ => None,
        }
    }
}

/// A rule as configured, and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertStatus {
    pub name: String,
    pub metric: String,
    pub op: String,
    pub threshold: f64,
    /// e.g. `5m`; an objective rule's is its objective's.
    pub window: String,
    /// Seconds the condition must hold before the alert fires.
    pub for_seconds: u64,
    pub severity: String,
    pub webhooks: Vec<String>,
    /// The rule's scope (model, prompt, key, route, environment) as set.
    pub filter: HashMap<String, String>,
    pub state: AlertState,
    /// When the condition started to hold (pending or firing).
    pub since: Option<DateTime<Utc>>,
    /// The value at the last evaluation.
    pub value: Option<f64>,
    /// `None` until the server has evaluated the rule.
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// The window a rule's value covers, as text.
pub fn window_text(rule: &AlertRule) -> String {
    match &rule.metric {
        AlertMetric::Objective { objective, .. } => format_window(objective.window),
        _ => format_window(rule.window),
    }
}

/// Every configured rule with its stored state, in the config's order.
pub async fn statuses(store: &dyn Store, settings: &AlertingSettings) -> Result<Vec<AlertStatus>, AlertError> {
    let mut stored: HashMap<String, _> = store.alert_states().await?.into_iter().map(|s| (s.rule.clone(), s)).collect();
    Ok(settings
        .rules
        .iter()
        .map(|rule| {
            let state = stored.remove(&rule.name);
            AlertStatus {
                name: rule.name.clone(),
                metric: rule.metric_name.clone(),
                op: rule.op.as_str().to_string(),
                threshold: rule.threshold,
                window: window_text(rule),
                for_seconds: rule.for_duration.as_secs(),
                severity: rule.severity.clone(),
                webhooks: rule.webhooks.clone(),
                filter: rule.filter.pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                state: state.as_ref().map_or(AlertState::Inactive, |s| s.state),
                since: state.as_ref().and_then(|s| s.since),
                value: state.as_ref().and_then(|s| s.value),
                evaluated_at: state.as_ref().and_then(|s| s.evaluated_at),
            }
        })
        .collect())
}

/// History, newest first, of one rule or all, each entry with its delivery attempts.
pub async fn history(store: &dyn Store, rule: Option<&str>, limit: u32) -> Result<Vec<AlertEvent>, AlertError> {
    if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Err(AlertError::InvalidQuery {
            message: format!("limit must be from 1 to {MAX_HISTORY_LIMIT}, got {limit}"),
            param: "limit",
        });
    }
    Ok(store.alert_history(rule, limit).await?)
}

/// How a test notification went at one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestDelivery {
    pub webhook: String,
    pub outcome: DeliveryOutcome,
}

/// Sends a test notification of rule `name` to its webhooks now, with the value measured as of
/// `now`, and waits for the deliveries; recorded in the history as a `test` event.
pub async fn send_test(
    store: &dyn Store,
    settings: &AlertingSettings,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<TestDelivery>, AlertError> {
    let rule = settings.rules.iter().find(|r| r.name == name).ok_or_else(|| AlertError::UnknownRule(name.into()))?;
    let value = measure::measure(store, rule, now).await?;
    let mut event = AlertEvent {
        id: 0,
        rule: rule.name.clone(),
        kind: AlertEventKind::Test,
        severity: rule.severity.clone(),
        metric: rule.metric_name.clone(),
        op: rule.op.as_str().to_string(),
        threshold: rule.threshold,
        value,
        started_at: None,
        at: now,
        deliveries: Vec::new(),
    };
    event.id = store.record_alert_event(&event).await?;
    let notification = engine::notification(rule, event);
    let client = deliver::client(&settings.delivery)?;
    let mut out = Vec::new();
    for webhook in rule.webhooks.iter().filter_map(|w| settings.webhooks.get(w)) {
        let outcome = deliver::deliver(&client, store, &settings.delivery, webhook, &notification).await;
        out.push(TestDelivery { webhook: webhook.name.clone(), outcome });
    }
    Ok(out)
}

/// The background evaluation loop and its webhook workers.
pub struct AlertRunner {
    task: JoinHandle<()>,
    stop: CancellationToken,
    notifier: Arc<WebhookNotifier>,
}

impl AlertRunner {
    /// Starts evaluating `settings.rules` every `settings.interval` on the current runtime;
    /// `None` when no rule is configured.
    pub async fn spawn(settings: &AlertingSettings, store: Arc<dyn Store>) -> Result<Option<Self>, AlertError> {
        if settings.rules.is_empty() {
            return Ok(None);
        }
        let notifier = Arc::new(WebhookNotifier::spawn(settings, store.clone())?);
        let mut engine = AlertEngine::load(store, settings.rules.clone().into(), notifier.clone()).await?;
        let stop = CancellationToken::new();
        let (interval, token) = (settings.interval, stop.clone());
        tracing::info!(rules = settings.rules.len(), interval_s = interval.as_secs(), "evaluating alert rules");
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = ticks.tick() => {
                        engine.tick(Utc::now()).await;
                    }
                }
            }
        });
        Ok(Some(Self { task, stop, notifier }))
    }

    /// Stops evaluating, then gives queued notifications [`SHUTDOWN_GRACE`] to go out.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the alert loop ended abnormally");
        }
        // The loop held the engine, the notifier's only other owner; it has ended.
        match Arc::try_unwrap(self.notifier) {
            Ok(notifier) => notifier.shutdown(SHUTDOWN_GRACE).await,
            Err(_) => tracing::warn!("alert webhooks still in use at shutdown"),
        }
    }
}
