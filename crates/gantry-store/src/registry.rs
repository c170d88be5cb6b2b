//! Persistence for the versioned registry (prompts now, chains later): one set of tables and
//! one trait for every kind of document.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{
    CreatedVersion, DocumentSummary, DocumentVersion, LabelMove, LabelRecord, LabelUpdate, NewVersion, RegistryKind,
};

/// Versions, labels and label history of named documents.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Stores `new` as the next version in one transaction and moves `latest` to it; when the
    /// newest version has the same content hash, returns that one with `created: false`.
    async fn create_version(&self, new: &NewVersion) -> Result<CreatedVersion, StoreError>;
    /// One version of a document.
    async fn get_version(
        &self,
        kind: RegistryKind,
        name: &str,
        version: u32,
    ) -> Result<Option<DocumentVersion>, StoreError>;
    /// The newest version of a document.
    async fn latest_version(&self, kind: RegistryKind, name: &str) -> Result<Option<DocumentVersion>, StoreError>;
    /// Every version of a document, oldest first.
    async fn list_versions(&self, kind: RegistryKind, name: &str) -> Result<Vec<DocumentVersion>, StoreError>;
    /// Every document of a kind, by name.
    async fn list_registered(&self, kind: RegistryKind) -> Result<Vec<DocumentSummary>, StoreError>;
    /// A document's labels, by name.
    async fn list_labels(&self, kind: RegistryKind, name: &str) -> Result<Vec<LabelRecord>, StoreError>;
    /// Where one label points.
    async fn get_label(&self, kind: RegistryKind, name: &str, label: &str) -> Result<Option<LabelRecord>, StoreError>;
    /// Points `label` at `version` and records the move (who, when, from, to), in one transaction.
    async fn set_label(
        &self,
        kind: RegistryKind,
        name: &str,
        label: &str,
        version: u32,
        moved_by: &str,
    ) -> Result<LabelUpdate, StoreError>;
    /// Every recorded label move of a document, oldest first.
    async fn label_history(&self, kind: RegistryKind, name: &str) -> Result<Vec<LabelMove>, StoreError>;
}
