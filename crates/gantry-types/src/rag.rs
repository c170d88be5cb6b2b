//! RAG collections as the store keeps them and the management API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a collection splits and embeds its documents; fixed when the collection is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSettings {
    /// The configured embedding model name its vectors come from.
    pub embedding_model: String,
    /// Length of its vectors.
    pub dimensions: u32,
    /// Largest chunk, in characters.
    pub chunk_size: u32,
    /// Characters a chunk repeats from the end of the previous one.
    pub chunk_overlap: u32,
}

/// A collection with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub name: String,
    #[serde(flatten)]
    pub settings: CollectionSettings,
    pub created_at: DateTime<Utc>,
    pub documents: u64,
    pub chunks: u64,
    /// Bumped by every change to its documents, so that a cached index can tell it is stale.
    pub revision: u64,
}

/// One ingested document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// Where the text came from (a file path, a URL, any name the client gives).
    pub source: String,
    /// SHA-256 of the text, hex: an unchanged document is not embedded again.
    pub content_hash: String,
    pub chunks: u32,
    /// Length of the text in characters.
    pub chars: u64,
    pub updated_at: DateTime<Utc>,
}
