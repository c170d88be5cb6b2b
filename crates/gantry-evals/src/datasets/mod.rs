//! Versioned datasets: import (JSONL, CSV, traces), cleaning, statistics, export.
//!
//! A dataset is a name with immutable numbered versions. Every function that makes items
//! (import, from traces, cleaning) stores them as a new version in one transaction; nothing
//! is stored when any item fails. The eval runner reads a version with [`load_items`].

mod clean;
mod error;
mod export;
mod import;
mod minhash;
mod stats;
pub mod text;
mod traces;

pub use clean::{
    apply_steps, clean, CleanOutcome, CleanReport, CleanRequest, CleanStep, Example, Reason, StepReport,
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
};
pub use error::DatasetError;
pub use export::{export_items, Export, ExportFormat};
pub use import::{parse_items, ColumnMapping, FileFormat};
pub use minhash::near_duplicates;
pub use stats::{compute_stats, Bin, DatasetStats, Distribution, LabelCount, LabelCounts, NO_LABEL};
pub use traces::{
    append_traces, from_traces, from_traces_screened, item_from_trace, FeedbackCondition, FromTracesOutcome, KeepAll,
    TraceScreen, TraceSelection,
};

use gantry_store::{NewDatasetVersion, Store};
use gantry_types::{DatasetItem, DatasetSummary, DatasetVersionInfo, StoredItem};
use serde::{Deserialize, Serialize};

/// The most items one page returns.
pub const MAX_PAGE_LIMIT: u64 = 1000;
/// Items a page returns when the caller names no limit.
pub const DEFAULT_PAGE_LIMIT: u64 = 50;

/// Checks a dataset name: it appears in URL paths and `NAME@VERSION` references.
pub fn validate_name(name: &str) -> Result<(), DatasetError> {
    if gantry_types::is_resource_name(name) {
        Ok(())
    } else {
        Err(DatasetError::InvalidName(name.chars().take(100).collect()))
    }
}

/// Parses a version number (1, 2, ...).
pub fn parse_version(text: &str) -> Result<u32, DatasetError> {
    match text.parse::<u32>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(DatasetError::parameter(
            format!("version must be a version number (1, 2, ...), got '{text}'"),
            "version",
        )),
    }
}

/// `NAME` or `NAME@VERSION`.
pub fn parse_reference(text: &str) -> Result<(String, Option<u32>), DatasetError> {
    let (name, version) = match text.split_once('@') {
        Some((name, version)) => (name, Some(parse_version(version)?)),
        None => (text, None),
    };
    validate_name(name)?;
    Ok((name.to_string(), version))
}

/// One version (`None`: the newest), or why there is none.
pub async fn get_version(
    store: &dyn Store,
    name: &str,
    version: Option<u32>,
) -> Result<DatasetVersionInfo, DatasetError> {
    validate_name(name)?;
    if let Some(info) = store.get_dataset_version(name, version).await? {
        return Ok(info);
    }
    match version {
        Some(version) if store.get_dataset_version(name, None).await?.is_some() => {
            Err(DatasetError::VersionNotFound { name: name.to_string(), version })
        }
        _ => Err(DatasetError::NotFound(name.to_string())),
    }
}

async fn load_version_items(store: &dyn Store, info: &DatasetVersionInfo) -> Result<Vec<StoredItem>, DatasetError> {
    Ok(store.dataset_items(&info.name, info.version, 0, None).await?)
}

/// Every item of a version (`None`: the newest) with the version's record. The eval runner
/// reads its dataset through this.
pub async fn load_items(
    store: &dyn Store,
    name: &str,
    version: Option<u32>,
) -> Result<(DatasetVersionInfo, Vec<StoredItem>), DatasetError> {
    let info = get_version(store, name, version).await?;
    let items = load_version_items(store, &info).await?;
    Ok((info, items))
}

async fn store_version(
    store: &dyn Store,
    name: &str,
    source: &str,
    parent_version: Option<u32>,
    author: &str,
    items: &[DatasetItem],
) -> Result<DatasetVersionInfo, DatasetError> {
    let new = NewDatasetVersion { name, source, parent_version, author, items };
    Ok(store.create_dataset_version(new).await?)
}

/// Stores `items` as a new version of `name` (creating the dataset on its first version).
pub async fn create_version(
    store: &dyn Store,
    name: &str,
    items: &[DatasetItem],
    source: &str,
    author: &str,
) -> Result<DatasetVersionInfo, DatasetError> {
    validate_name(name)?;
    if items.is_empty() {
        return Err(DatasetError::Empty("a version needs at least one item".into()));
    }
    let info = store_version(store, name, source, None, author, items).await?;
    tracing::info!(dataset = name, version = info.version, items = items.len(), "dataset version created");
    Ok(info)
}

/// Reads a JSONL or CSV file's items and stores them as a new version; the first bad line
/// fails the import and nothing is stored.
pub async fn import(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    format: FileFormat,
    mapping: &ColumnMapping,
    source: &str,
    author: &str,
) -> Result<DatasetVersionInfo, DatasetError> {
    validate_name(name)?;
    let items = parse_items(bytes, format, mapping)?;
    create_version(store, name, &items, source, author).await
}

/// Every dataset with its newest version.
pub async fn list(store: &dyn Store) -> Result<Vec<DatasetSummary>, DatasetError> {
    Ok(store.list_datasets().await?)
}

/// A dataset's versions, oldest first.
pub async fn versions(store: &dyn Store, name: &str) -> Result<Vec<DatasetVersionInfo>, DatasetError> {
    validate_name(name)?;
    let versions = store.list_dataset_versions(name).await?;
    if versions.is_empty() {
        return Err(DatasetError::NotFound(name.to_string()));
    }
    Ok(versions)
}

/// One page of a version's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsPage {
    pub version: DatasetVersionInfo,
    pub offset: u64,
    pub limit: u64,
    pub items: Vec<StoredItem>,
}

/// Items `offset..offset + limit` of a version (default limit 50, at most 1000).
pub async fn items_page(
    store: &dyn Store,
    name: &str,
    version: Option<u32>,
    offset: u64,
    limit: Option<u64>,
) -> Result<ItemsPage, DatasetError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(DatasetError::parameter(format!("limit must be from 1 to {MAX_PAGE_LIMIT}, got {limit}"), "limit"));
    }
    let info = get_version(store, name, version).await?;
    let items = store.dataset_items(name, info.version, offset, Some(limit)).await?;
    Ok(ItemsPage { version: info, offset, limit, items })
}

/// Statistics of a version; labels from metadata `label_key` when given.
pub async fn stats(
    store: &dyn Store,
    name: &str,
    version: Option<u32>,
    label_key: Option<&str>,
) -> Result<DatasetStats, DatasetError> {
    let (info, items) = load_items(store, name, version).await?;
    let items: Vec<DatasetItem> = items.into_iter().map(|s| s.item).collect();
    Ok(compute_stats(name, info.version, &items, label_key))
}

/// Exports a version; `prompt` (`NAME`, `NAME@3`, `NAME@label`) renders variables for chat.
pub async fn export(
    store: &dyn Store,
    name: &str,
    version: Option<u32>,
    format: ExportFormat,
    prompt: Option<&str>,
) -> Result<Export, DatasetError> {
    let (_, items) = load_items(store, name, version).await?;
    let prompt = match prompt.filter(|_| format == ExportFormat::Chat) {
        Some(reference) => Some(gantry_core::prompts::resolve(store, reference).await.map_err(DatasetError::Prompt)?),
        None => None,
    };
    export_items(&items, format, prompt.as_ref())
}

#[cfg(test)]
mod tests;
