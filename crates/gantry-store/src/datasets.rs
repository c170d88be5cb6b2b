//! Persistence of versioned datasets: immutable numbered versions and their items.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{DatasetItem, DatasetSummary, DatasetVersionInfo, StoredItem};

/// A version to create; its number is the next free one for the dataset.
#[derive(Debug, Clone, Copy)]
pub struct NewDatasetVersion<'a> {
    pub name: &'a str,
    /// Where the version came from ("import data.jsonl", "clean of v2: ...").
    pub source: &'a str,
    /// The version it was derived from; must exist.
    pub parent_version: Option<u32>,
    pub author: &'a str,
    pub items: &'a [DatasetItem],
}

/// Datasets, their versions and items.
#[async_trait]
pub trait DatasetStore: Send + Sync {
    /// Stores a new version with all its items in one transaction (all or nothing), creating
    /// the dataset on its first version.
    async fn create_dataset_version(&self, version: NewDatasetVersion<'_>) -> Result<DatasetVersionInfo, StoreError>;
    /// One version; `None` asks for the newest. `Ok(None)` when the dataset or version is missing.
    async fn get_dataset_version(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<DatasetVersionInfo>, StoreError>;
    /// A dataset's versions, oldest first (empty when there is no such dataset).
    async fn list_dataset_versions(&self, name: &str) -> Result<Vec<DatasetVersionInfo>, StoreError>;
    /// Every dataset with its newest version, by name.
    async fn list_datasets(&self) -> Result<Vec<DatasetSummary>, StoreError>;
    /// Items of one version by position, skipping `offset`; every remaining one when `limit`
    /// is `None`.
    async fn dataset_items(
        &self,
        name: &str,
        version: u32,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Vec<StoredItem>, StoreError>;
}
