//! Why a collection operation failed, with a stable code and the HTTP status it maps to.

use crate::GatewayError;
use gantry_store::StoreError;

/// A failed collection operation.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    /// No collection of that name.
    #[error("no collection named '{0}'")]
    CollectionNotFound(String),
    /// A collection name that cannot be used (it appears in URLs).
    #[error("'{0}' is not a valid collection name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    InvalidName(String),
    /// The query text is empty.
    #[error("the query must not be empty")]
    EmptyQuery,
    /// `top_k` out of range.
    #[error("top_k must be from 1 to {max}, got {got}")]
    InvalidTopK { got: i64, max: usize },
    /// The documents of an ingest are unusable (empty list, empty source or text, duplicates).
    #[error("{message}")]
    InvalidDocuments { message: String, param: String },
    /// Chunk size or overlap out of range.
    #[error("{message}")]
    InvalidChunking { message: String, param: &'static str },
    /// The embedding model named is not a configured embeddings model.
    #[error("{0}")]
    InvalidEmbeddingModel(String),
    /// A new collection needs an embedding model and none is configured.
    #[error(
        "no embeddings model is configured: add one under [[models]] with kind = \"embeddings\", or enable [local]"
    )]
    NoEmbeddingModel,
    /// The ingest asks for settings other than the ones the collection was created with.
    #[error("{0}")]
    SettingsConflict(String),
    /// The embedding model returned vectors of another length than the collection holds.
    #[error("collection '{collection}' holds {expected}-dimensional vectors, but '{model}' returned {got} dimensions; re-create the collection to change its model")]
    DimensionMismatch { collection: String, model: String, expected: usize, got: usize },
    /// Embedding failed; `stored` documents of the ingest were kept (re-running it skips them).
    #[error("embedding with '{model}' failed{}: {source}", stored_note(.stored))]
    Embedding { model: String, stored: usize, source: GatewayError },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
}

fn stored_note(stored: &usize) -> String {
    match stored {
        0 => String::new(),
        n => format!(" after {n} document(s) were stored (running the ingest again skips them)"),
    }
}

impl RagError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            RagError::CollectionNotFound(_) => "collection_not_found",
            RagError::InvalidName(_) => "invalid_collection_name",
            RagError::EmptyQuery => "empty_query",
            RagError::InvalidTopK { .. } => "invalid_top_k",
            RagError::InvalidDocuments { .. } => "invalid_documents",
            RagError::InvalidChunking { .. } => "invalid_chunking",
            RagError::InvalidEmbeddingModel(_) => "invalid_embedding_model",
            RagError::NoEmbeddingModel => "no_embedding_model",
            RagError::SettingsConflict(_) => "collection_settings_conflict",
            RagError::DimensionMismatch { .. } => "embedding_dimensions_mismatch",
            RagError::Embedding { .. } => "embedding_failed",
            RagError::Store(e) => e.code(),
            RagError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status a client gets for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            RagError::CollectionNotFound(_) => 404,
            RagError::InvalidName(_)
            | RagError::EmptyQuery
            | RagError::InvalidTopK { .. }
            | RagError::InvalidDocuments { .. }
            | RagError::InvalidChunking { .. }
            | RagError::InvalidEmbeddingModel(_)
            | RagError::NoEmbeddingModel => 400,
            RagError::SettingsConflict(_) | RagError::DimensionMismatch { .. } => 409,
            RagError::Embedding { source, .. } => match source {
                GatewayError::RateLimited { .. } => 429,
                GatewayError::Timeout(_) => 504,
                _ => 502,
            },
            RagError::Store(StoreError::CollectionNotFound(_)) => 404,
            RagError::Store(StoreError::CollectionExists(_)) => 409,
            RagError::Store(_) | RagError::Internal(_) => 500,
        }
    }

    /// The request parameter at fault, when one is.
    pub fn param(&self) -> Option<String> {
        match self {
            RagError::InvalidName(_) | RagError::CollectionNotFound(_) => Some("name".to_string()),
            RagError::EmptyQuery => Some("query".to_string()),
            RagError::InvalidTopK { .. } => Some("top_k".to_string()),
            RagError::InvalidDocuments { param, .. } => Some(param.clone()),
            RagError::InvalidChunking { param, .. } => Some(param.to_string()),
            RagError::InvalidEmbeddingModel(_) | RagError::NoEmbeddingModel => Some("embedding_model".to_string()),
            _ => None,
        }
    }

    pub(crate) fn documents(message: impl Into<String>, param: impl Into<String>) -> Self {
        RagError::InvalidDocuments { message: message.into(), param: param.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        assert_eq!(RagError::CollectionNotFound("x".into()).http_status(), 404);
        assert_eq!(RagError::InvalidTopK { got: 0, max: 100 }.to_string(), "top_k must be from 1 to 100, got 0");
        let failed = RagError::Embedding {
            model: "m".into(),
            stored: 2,
            source: GatewayError::Upstream { message: "down".into(), code: "upstream_error" },
        };
        assert_eq!((failed.http_status(), failed.code()), (502, "embedding_failed"));
        assert_eq!(
            failed.to_string(),
            "embedding with 'm' failed after 2 document(s) were stored (running the ingest again skips them): down"
        );
        let timeout =
            RagError::Embedding { model: "m".into(), stored: 0, source: GatewayError::Timeout("slow".into()) };
        assert_eq!(timeout.http_status(), 504);
        assert_eq!(timeout.to_string(), "embedding with 'm' failed: slow");
    }
}
