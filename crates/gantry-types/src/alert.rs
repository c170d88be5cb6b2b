//! Alerts: where each rule stands, and the history of its transitions and notifications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a rule stands between evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition does not hold (or there is no data).
    #[default]
    Inactive,
    /// The condition holds, but not yet for the rule's `for` duration.
    Pending,
    /// The condition has held long enough; a notification went out.
    Firing,
}

impl AlertState {
    /// The name as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }

    /// The state named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inactive" => Some(AlertState::Inactive),
            "pending" => Some(AlertState::Pending),
            "firing" => Some(AlertState::Firing),
            _ => None,
        }
    }
}

/// A rule's state as last evaluated, kept in the store so that a restart neither forgets a
/// pending condition nor notifies a firing alert again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRuleState {
    pub rule: String,
    pub state: AlertState,
    /// When the condition started to hold (pending and firing); `None` when inactive.
    pub since: Option<DateTime<Utc>>,
    /// The metric's value at the last evaluation; `None` without data.
    pub value: Option<f64>,
    pub evaluated_at: Option<DateTime<Utc>>,
}

/// What happened to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEventKind {
    /// The condition started to hold; waiting for `for`.
    Pending,
    /// The alert fired: notified.
    Firing,
    /// A firing alert's condition cleared: notified.
    Resolved,
    /// The condition cleared before `for` had passed: nobody was notified.
    Cancelled,
    /// A test notification sent on request.
    Test,
}

impl AlertEventKind {
    /// The name as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEventKind::Pending => "pending",
            AlertEventKind::Firing => "firing",
            AlertEventKind::Resolved => "resolved",
            AlertEventKind::Cancelled => "cancelled",
            AlertEventKind::Test => "test",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(AlertEventKind::Pending),
            "firing" => Some(AlertEventKind::Firing),
            "resolved" => Some(AlertEventKind::Resolved),
            "cancelled" => Some(AlertEventKind::Cancelled),
            "test" => Some(AlertEventKind::Test),
            _ => None,
        }
    }

    /// Whether webhooks hear of it.
    pub fn notifies(self) -> bool {
        matches!(self, AlertEventKind::Firing | AlertEventKind::Resolved | AlertEventKind::Test)
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The webhook accepted the notification.
    Delivered,
    /// The attempt failed and another one follows.
    Retrying,
    /// The attempt failed and was the last one.
    Failed,
}

impl DeliveryOutcome {
    /// The name as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "retrying",
            DeliveryOutcome::Failed => "failed",
        }
    }

    /// The outcome named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "delivered" => Some(DeliveryOutcome::Delivered),
            "retrying" => Some(DeliveryOutcome::Retrying),
            "failed" => Some(DeliveryOutcome::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver a notification to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDelivery {
    /// The webhook's name from the config (never its URL, which often is a secret).
    pub webhook: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// The HTTP status the webhook answered; `None` when no answer came.
    pub status: Option<u16>,
    /// Why the attempt failed.
    pub error: Option<String>,
    pub outcome: DeliveryOutcome,
}

/// One entry of a rule's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Given by the store; ignored when an event is recorded.
    pub id: i64,
    pub rule: String,
    pub kind: AlertEventKind,
    pub severity: String,
    /// The metric as configured, e.g. `error_rate` or `feedback:thumbs`.
    pub metric: String,
    /// `>`, `<`, `>=` or `<=`.
    pub op: String,
    pub threshold: f64,
    pub value: Option<f64>,
    /// When the condition started to hold.
    pub started_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    /// Every delivery attempt, oldest first; filled in when history is read.
    #[serde(default)]
    pub deliveries: Vec<AlertDelivery>,
}
