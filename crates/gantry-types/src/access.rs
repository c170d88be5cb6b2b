//! Access control records: API keys (never their secrets), roles, budgets and the audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a key may do. Each route of the server names the roles it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// Everything, keys and the audit log included.
    Admin,
    /// Prompts, chains, datasets, evals, collections; reads the rest.
    Developer,
    /// Review queues and feedback; reads the rest.
    Reviewer,
    /// Only `/v1` and adding feedback: what a deployed application needs.
    App,
    /// Read-only access to `/api`, keys and audit excepted.
    Viewer,
}

impl KeyRole {
    /// Every role, in the order they are documented.
    pub const ALL: [KeyRole; 5] =
        [KeyRole::Admin, KeyRole::Developer, KeyRole::Reviewer, KeyRole::App, KeyRole::Viewer];

    /// Stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Admin => "admin",
            KeyRole::Developer => "developer",
            KeyRole::Reviewer => "reviewer",
            KeyRole::App => "app",
            KeyRole::Viewer => "viewer",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Self> {
        KeyRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The period a budget applies to; periods start at midnight UTC (day) or on the 1st (month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Month,
}

impl BudgetPeriod {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(BudgetPeriod::Day),
            "month" => Some(BudgetPeriod::Month),
            _ => None,
        }
    }
}

/// A spending limit in USD per period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub usd: f64,
    pub period: BudgetPeriod,
}

/// What a new key may do, as the caller asks for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub role: Option<KeyRole>,
    /// Models the key may call on `/v1`; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt + completion).
    pub tpm: Option<u32>,
    pub budget: Option<Budget>,
    /// The environment the key's calls to deployed routes run in (e.g. `staging`); a key
    /// without one follows the `x-gantry-environment` header, else production.
    #[serde(default)]
    pub environment: Option<String>,
}

/// A stored API key: everything but the secret, of which only a hash and a short prefix are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: KeyRole,
    /// The first characters of the secret, to tell keys apart; not enough to use it.
    pub prefix: String,
    #[serde(default)]
    pub models: Vec<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub budget: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key may call `model` on `/v1`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}

/// A key just created: the record and the secret, which is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

/// The actor of changes made without a key: loopback clients before any key exists, and the
/// CLI working on the local store.
pub const LOCAL_ACTOR: &str = "local";

/// One change made through `/api` (or by the CLI on the local store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The key id, or `local`.
    pub actor: String,
    pub method: String,
    pub path: String,
    /// The HTTP status the change ended with.
    pub status: u16,
    /// Ids the change touched, as `field=value` (e.g. `id=…`, `version=3`, `previous_version=2`).
    #[serde(default)]
    pub resource_ids: Vec<String>,
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub limit: Option<u32>,
    pub since: Option<DateTime<Utc>>,
    pub actor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in KeyRole::ALL {
            assert_eq!(KeyRole::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
        }
        assert_eq!(KeyRole::parse("root"), None);
    }

    #[test]
    fn model_restrictions() {
        let mut key = ApiKey {
            id: "k".into(),
            name: "n".into(),
            role: KeyRole::App,
            prefix: "gk-abc".into(),
            models: vec![],
            rpm: None,
            tpm: None,
            budget: None,
            environment: None,
            created_at: Utc::now(),
            revoked_at: None,
        };
        assert!(key.allows_model("any"));
        key.models = vec!["gpt".into()];
        assert!(key.allows_model("gpt"));
        assert!(!key.allows_model("claude"));
    }
}
