//! Persistence for alerts: each rule's state, its history of transitions and notifications
//! with every delivery attempt, and window totals over traces the rollups do not key.

use crate::{RollupCell, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{AlertDelivery, AlertEvent, AlertRuleState};

/// Root traces in `[since, until)` matching every filter set, for alert rules scoped to a
/// route or environment (the rollups are keyed by model, prompt and key only).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The model the client asked for.
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub api_key_id: Option<String>,
    /// The application-facing route of a deployment.
    pub route: Option<String>,
    /// The deployment environment the call ran in.
    pub environment: Option<String>,
}

/// Alert states, history and deliveries.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// The stored state of every rule ever evaluated, by rule name.
    async fn alert_states(&self) -> Result<Vec<AlertRuleState>, StoreError>;
    /// Stores `state` and, when given, records `event` in the same transaction, so that a
    /// transition is never half written; returns the event's id.
    async fn save_alert_state(
        &self,
        state: &AlertRuleState,
        event: Option<&AlertEvent>,
    ) -> Result<Option<i64>, StoreError>;
    /// Records an event that changes no state (a test notification); returns its id.
    async fn record_alert_event(&self, event: &AlertEvent) -> Result<i64, StoreError>;
    /// Records one delivery attempt of event `event_id`.
    async fn record_alert_delivery(&self, event_id: i64, delivery: &AlertDelivery) -> Result<(), StoreError>;
    /// History, newest first, of one rule or of all, each event with its delivery attempts.
    async fn alert_history(&self, rule: Option<&str>, limit: u32) -> Result<Vec<AlertEvent>, StoreError>;
    /// The root traces of `window` summed into one cell (bucket 0, no group key).
    async fn trace_window_totals(&self, window: &TraceWindow) -> Result<RollupCell, StoreError>;
}
