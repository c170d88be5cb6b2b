//! The store of record. `Store` is the trait every backend implements; SQLite (WAL, under
//! the data directory) is the embedded default.

mod access;
mod alerts;
mod analytics;
mod collections;
mod datasets;
mod deploy;
mod error;
mod evals;
mod feedback;
mod guard;
pub mod histogram;
mod monitor;
mod registry;
mod review;
mod sqlite;
mod sqlite_access;
mod sqlite_alerts;
mod sqlite_analytics;
mod sqlite_collections;
mod sqlite_datasets;
mod sqlite_deploy;
mod sqlite_evals;
mod sqlite_feedback;
mod sqlite_guard;
mod sqlite_monitor;
mod sqlite_registry;
mod sqlite_review;

pub use access::{AuditStore, KeyStore};
pub use alerts::{AlertStore, TraceWindow};
pub use analytics::{AnalyticsStore, FeedbackMean, FeedbackScope, RollupCell, RollupGroup, RollupQuery};
pub use collections::{ChunkId, CollectionStore, NewChunk, NewDocument, ReplacedDocument, StoredChunk, StoredVectors};
pub use datasets::{DatasetStore, NewDatasetVersion};
pub use deploy::{DeploymentStore, NewRelease};
pub use error::StoreError;
pub use evals::EvalStore;
pub use feedback::FeedbackStore;
pub use guard::GuardStore;
pub use monitor::{MonitorStore, TraceScore, TrafficSample, TrafficSource};
pub use registry::RegistryStore;
pub use review::{ReviewStore, SubmitOutcome};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use gantry_types::{TraceFilter, TraceId, TraceRecord};
use std::path::Path;
use std::sync::Arc;

/// The most traces one list call returns.
pub const MAX_LIST_LIMIT: u32 = 1000;
/// The page size when a list call names none.
pub const DEFAULT_LIST_LIMIT: u32 = 50;

/// Persistence for everything Gantry records.
#[async_trait]
pub trait Store:
    RegistryStore
    + CollectionStore
    + DatasetStore
    + DeploymentStore
    + EvalStore
    + FeedbackStore
    + ReviewStore
    + KeyStore
    + AuditStore
    + GuardStore
    + AnalyticsStore
    + MonitorStore
    + AlertStore
    + Send
    + Sync
{
    /// Writes a batch of traces in one transaction; an id already stored is left unchanged.
    /// The root traces newly stored are added to the analytics rollups in the same transaction.
    async fn insert_traces(&self, traces: &[TraceRecord]) -> Result<(), StoreError>;
    /// One trace by id.
    async fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>, StoreError>;
    /// Traces matching `filter`: root traces newest first, or a parent's spans oldest first.
    async fn list_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceRecord>, StoreError>;
    /// Checks the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store named by `database_url`, or the SQLite file under `data_dir` when none.
pub async fn open_store(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match database_url {
        None => Ok(Arc::new(SqliteStore::open_in_dir(data_dir).await?)),
        Some(url) if url.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::open_url(url).await?)),
        Some(url) => Err(StoreError::UnsupportedUrl(redact_url(url))),
    }
}

/// Hides a password in a database URL before it is shown or logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &creds[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
