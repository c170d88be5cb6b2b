//! Persistence of API keys (hashes, never secrets) and of the audit log.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{ApiKey, AuditEntry, AuditFilter};

/// API keys, looked up by the SHA-256 of their secret.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key with the hex SHA-256 of its secret.
    async fn insert_key(&self, key: &ApiKey, secret_sha256: &str) -> Result<(), StoreError>;
    /// The key whose secret hashes to `secret_sha256`, revoked or not.
    async fn find_key_by_hash(&self, secret_sha256: &str) -> Result<Option<ApiKey>, StoreError>;
    /// One key by id.
    async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Every key, oldest first.
    async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Marks a key revoked at `at` (a key revoked before keeps its time); `None` when no such key.
    async fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError>;
    /// How many keys are not revoked.
    async fn count_active_keys(&self) -> Result<u64, StoreError>;
    /// The summed `cost_usd` of the traces made with `key_id` that started at or after `since`.
    async fn key_spend_since(&self, key_id: &str, since: DateTime<Utc>) -> Result<f64, StoreError>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one entry.
    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Entries matching `filter`, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}
