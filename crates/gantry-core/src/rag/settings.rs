//! `[rag]` in `gantry.toml`: chunking defaults, embedding batch size and the index.

use serde::Deserialize;

/// `[rag]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRag {
    pub chunk_size: Option<u32>,
    pub chunk_overlap: Option<u32>,
    pub embed_batch_size: Option<usize>,
    pub approximate_min_chunks: Option<usize>,
    pub probes: Option<usize>,
}

/// Validated `[rag]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RagSettings {
    /// Chunk size of a new collection when the ingest names none (characters).
    pub chunk_size: u32,
    /// Chunk overlap of a new collection when the ingest names none (characters).
    pub chunk_overlap: u32,
    /// Texts sent in one embeddings call.
    pub embed_batch_size: usize,
    /// From this many chunks on, a collection is searched through an approximate (IVF) index.
    pub approximate_min_chunks: usize,
    /// IVF lists scanned per query; 0 picks one from the collection's size.
    pub probes: usize,
}

/// Smallest chunk size accepted: below it a chunk rarely holds a whole sentence.
pub const MIN_CHUNK_SIZE: u32 = 50;
/// Largest chunk size accepted (far past any embedding model's window).
pub const MAX_CHUNK_SIZE: u32 = 100_000;

impl Default for RagSettings {
    fn default() -> Self {
        // 800 characters is about 200 English tokens: inside MiniLM's 256-token window.
        Self { chunk_size: 800, chunk_overlap: 100, embed_batch_size: 32, approximate_min_chunks: 100_000, probes: 0 }
    }
}

/// Checks chunk settings; the message names the offending parameter.
pub fn check_chunking(size: u32, overlap: u32) -> Result<(), (String, &'static str)> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
        return Err((
            format!("chunk_size must be from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} characters, got {size}"),
            "chunk_size",
        ));
    }
    if overlap.saturating_mul(2) > size {
        return Err((
            format!("chunk_overlap ({overlap}) must be at most half the chunk_size ({size})"),
            "chunk_overlap",
        ));
    }
    Ok(())
}

/// Validates `[rag]`, adding any problem to `problems`.
pub fn validate(raw: &RawRag, problems: &mut Vec<String>) -> RagSettings {
    let defaults = RagSettings::default();
    let settings = RagSettings {
        chunk_size: raw.chunk_size.unwrap_or(defaults.chunk_size),
        chunk_overlap: raw.chunk_overlap.unwrap_or(defaults.chunk_overlap),
        embed_batch_size: raw.embed_batch_size.unwrap_or(defaults.embed_batch_size),
        approximate_min_chunks: raw.approximate_min_chunks.unwrap_or(defaults.approximate_min_chunks),
        probes: raw.probes.unwrap_or(defaults.probes),
    };
    if let Err((message, _)) = check_chunking(settings.chunk_size, settings.chunk_overlap) {
        problems.push(format!("rag.{message}"));
    }
    if !(1..=2048).contains(&settings.embed_batch_size) {
        problems.push(format!("rag.embed_batch_size must be from 1 to 2048, got {}", settings.embed_batch_size));
    }
    if settings.approximate_min_chunks < 1000 {
        problems.push(format!(
            "rag.approximate_min_chunks must be at least 1000 (an approximate index does not pay below that), got {}",
            settings.approximate_min_chunks
        ));
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let mut problems = Vec::new();
        assert_eq!(validate(&RawRag::default(), &mut problems), RagSettings::default());
        assert!(problems.is_empty(), "{problems:?}");
        let raw = RawRag {
            chunk_size: Some(10),
            embed_batch_size: Some(0),
            approximate_min_chunks: Some(5),
            ..RawRag::default()
        };
        validate(&raw, &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("rag.chunk_size must be from 50"), "{}", problems[0]);
        assert_eq!(check_chunking(800, 401).unwrap_err().1, "chunk_overlap");
        assert!(check_chunking(800, 400).is_ok());
    }
}
