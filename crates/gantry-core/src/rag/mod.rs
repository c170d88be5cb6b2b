//! RAG collections: documents split into chunks, embedded through the gateway, stored with
//! their vectors, and searched by cosine similarity through an in-memory index per collection.
//!
//! `Collections` is the entry point (built by `Service`): `ingest` and `query` are what the
//! server, the CLI and a chain's `retrieve` step call.

pub mod chunker;
mod collections;
mod error;
pub mod index;
mod ingest;
pub mod settings;

pub use collections::Collections;
pub use error::RagError;
pub use settings::{RagSettings, RawRag};

use gantry_types::TraceId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most chunks one query returns.
pub const MAX_TOP_K: usize = 100;
/// Chunks a query returns when it names no `top_k`.
pub const DEFAULT_TOP_K: usize = 5;
/// Longest document source accepted.
pub const MAX_SOURCE_CHARS: usize = 1024;

/// A document to ingest: its text and where it came from (its identity in the collection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    pub source: String,
    pub text: String,
}

/// Documents to add to a collection, and the settings to create it with if it is new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    pub documents: Vec<DocumentInput>,
    /// Characters per chunk; must equal the collection's when it exists.
    #[serde(default)]
    pub chunk_size: Option<u32>,
    #[serde(default)]
    pub chunk_overlap: Option<u32>,
    /// A configured embeddings model; default: the first one in the config.
    #[serde(default)]
    pub embedding_model: Option<String>,
}

/// What happened to one document of an ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// The source was new.
    Added,
    /// The source held other text: its chunks were replaced.
    Replaced,
    /// The source held the same text: nothing was done.
    Unchanged,
}

/// One document's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentOutcome {
    pub source: String,
    pub status: DocumentStatus,
    /// Chunks the document now has.
    pub chunks: u32,
}

/// The counts of an ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    pub collection: String,
    /// Whether this ingest created the collection.
    pub created: bool,
    pub documents_added: u32,
    pub documents_replaced: u32,
    pub documents_unchanged: u32,
    pub chunks_written: u64,
    pub chunks_removed: u64,
    /// Tokens the embedding model read.
    pub embedding_tokens: u64,
    pub documents: Vec<DocumentOutcome>,
    /// The trace of the ingest (its embedding calls are nested under it); none when nothing
    /// needed embedding.
    pub trace_id: Option<TraceId>,
}

/// How far an ingest has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestProgress {
    pub chunks_total: u64,
    pub chunks_embedded: u64,
    pub documents_total: u32,
    pub documents_done: u32,
}

/// One chunk found by a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub text: String,
    pub source: String,
    /// Cosine similarity to the query, from -1 to 1.
    pub score: f32,
    /// Position of the chunk in its document, from 0.
    pub chunk_index: u32,
    /// Character offsets of the chunk in its document, end exclusive.
    pub start_char: u64,
    pub end_char: u64,
}

/// A traced query: the retrieve span's id and the hits (or why there are none).
#[derive(Debug)]
pub struct Retrieval {
    pub trace_id: TraceId,
    pub result: Result<Vec<Hit>, RagError>,
}

/// Checks a collection name: it appears in URL paths and file-system-like listings.
pub fn validate_name(name: &str) -> Result<(), RagError> {
    if gantry_types::is_resource_name(name) {
        Ok(())
    } else {
        Err(RagError::InvalidName(name.chars().take(100).collect()))
    }
}

/// Checks a requested `top_k` (any integer a client may send).
pub fn validate_top_k(top_k: i64) -> Result<usize, RagError> {
    match usize::try_from(top_k) {
        Ok(k) if (1..=MAX_TOP_K).contains(&k) => Ok(k),
        _ => Err(RagError::InvalidTopK { got: top_k, max: MAX_TOP_K }),
    }
}

/// SHA-256 of a document's text, hex.
pub fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn names_top_k_and_hashes() {
        for good in ["docs", "my-docs_v2.1", "A", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-docs", "a/b", "a b", "é", &"x".repeat(65), ".hidden"] {
            assert_eq!(validate_name(bad).unwrap_err().code(), "invalid_collection_name", "{bad}");
        }
        assert_eq!(validate_top_k(5).unwrap(), 5);
        for bad in [0, -3, 101] {
            assert_eq!(validate_top_k(bad).unwrap_err().code(), "invalid_top_k");
        }
        assert_eq!(content_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
