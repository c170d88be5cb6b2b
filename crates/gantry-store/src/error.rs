//! Store errors, each with a stable machine code.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created or written.
    #[error("data directory {path} is not usable: {reason}. Choose a writable directory with --data-dir.")]
    DataDir { path: PathBuf, reason: String },
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL {0}: use sqlite://PATH")]
    UnsupportedUrl(String),
    /// Connecting or migrating failed.
    #[error("could not open the store: {0}")]
    Open(String),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored row could not be read back.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// A collection of that name already exists.
    #[error("a collection named '{0}' already exists")]
    CollectionExists(String),
    /// No collection of that name exists.
    #[error("no collection named '{0}'")]
    CollectionNotFound(String),
    /// A query asked for something the store cannot answer (a caller's mistake).
    #[error("invalid store query: {0}")]
    InvalidQuery(String),
}

impl StoreError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::DataDir { .. } => "data_dir_unusable",
            StoreError::UnsupportedUrl(_) => "unsupported_database_url",
            StoreError::Open(_) => "store_open_failed",
            StoreError::Query(_) => "store_query_failed",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::CollectionExists(_) => "collection_exists",
            StoreError::CollectionNotFound(_) => "collection_not_found",
            StoreError::InvalidQuery(_) => "invalid_store_query",
        }
    }
}
