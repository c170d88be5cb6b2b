//! Persistence of RAG collections: settings, documents, and chunks with their vectors.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{CollectionInfo, CollectionSettings, DocumentInfo};

/// The stored id of a chunk (unique across collections).
pub type ChunkId = i64;

/// A chunk to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    /// Position of the chunk in its document, from 0.
    pub ordinal: u32,
    pub text: String,
    /// Character offsets of the chunk in the document's text, end exclusive.
    pub start_char: u64,
    pub end_char: u64,
    pub embedding: Vec<f32>,
}

/// A document's new content: its chunks replace whatever the source held before.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub source: String,
    pub content_hash: String,
    pub chars: u64,
}

/// What replacing a document changed, for keeping an in-memory index in step.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplacedDocument {
    /// Ids of the chunks the document held before (empty for a new document).
    pub removed: Vec<ChunkId>,
    /// Ids of the new chunks, in the order they were given.
    pub inserted: Vec<ChunkId>,
    /// The collection's revision before and after the change.
    pub previous_revision: u64,
    pub revision: u64,
}

/// Every vector of a collection, read in one query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredVectors {
    pub ids: Vec<ChunkId>,
    /// `ids.len() * dimensions` floats, row after row.
    pub vectors: Vec<f32>,
}

/// A stored chunk without its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub id: ChunkId,
    pub source: String,
    pub ordinal: u32,
    pub start_char: u64,
    pub end_char: u64,
    pub text: String,
}

/// Collections, documents and chunks.
#[async_trait]
pub trait CollectionStore: Send + Sync {
    /// Creates a collection; `StoreError::Conflict` when the name is taken.
    async fn create_collection(&self, name: &str, settings: &CollectionSettings) -> Result<CollectionInfo, StoreError>;
    /// One collection with its counts.
    async fn get_collection(&self, name: &str) -> Result<Option<CollectionInfo>, StoreError>;
    /// Every collection, by name.
    async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError>;
    /// Deletes a collection with its documents and chunks; `false` when there was none.
    async fn delete_collection(&self, name: &str) -> Result<bool, StoreError>;
    /// A collection's documents, by source.
    async fn list_documents(&self, collection: &str) -> Result<Vec<DocumentInfo>, StoreError>;
    /// Stores a document and its chunks in one transaction, replacing what the source held;
    /// `StoreError::NotFound` when the collection does not exist.
    async fn replace_document(
        &self,
        collection: &str,
        document: &NewDocument,
        chunks: &[NewChunk],
    ) -> Result<ReplacedDocument, StoreError>;
    /// Every chunk id and vector of a collection, with the revision they were read at.
    async fn load_vectors(&self, collection: &str) -> Result<(StoredVectors, u64), StoreError>;
    /// The chunks with these ids in that collection (ids not found are left out), in no order.
    async fn get_chunks(&self, collection: &str, ids: &[ChunkId]) -> Result<Vec<StoredChunk>, StoreError>;
}
