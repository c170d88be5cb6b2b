//! `Collections`: listing, deleting and querying collections, and the per-collection index
//! cache that queries search. Ingest lives in `ingest.rs`.

use super::index::{IndexOptions, VectorIndex};
use super::{validate_name, Hit, RagError, RagSettings, Retrieval, MAX_TOP_K};
use crate::config::{Config, ModelKind};
use crate::gateway::Gateway;
use crate::recorder::Outcome;
use crate::GatewayError;
use chrono::{DateTime, Utc};
use gantry_store::{ChunkId, ReplacedDocument, Store, StoreError, StoredChunk};
use gantry_types::{CollectionInfo, DocumentInfo, TraceError, TraceId, TraceKind, TraceStatus, Usage};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// Below this many vectors a search runs on the async thread; above, on a blocking one.
const INLINE_SEARCH_MAX: usize = 20_000;

/// A collection's index as loaded, and the store state it reflects.
pub(super) struct CachedIndex {
    created_at: DateTime<Utc>,
    revision: u64,
    index: VectorIndex,
}

/// Per-collection state of this process.
#[derive(Default)]
pub(super) struct Slot {
    /// Serialises ingests into the collection (the store serialises across processes).
    pub(super) ingest: tokio::sync::Mutex<()>,
    index: Arc<RwLock<Option<CachedIndex>>>,
}

/// The RAG collections of a running service.
pub struct Collections {
    pub(super) gateway: Arc<Gateway>,
    pub(super) settings: RagSettings,
    embedding_models: Vec<String>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Collections {
    /// Collections over the gateway's store, embedding through the gateway.
    pub fn new(gateway: Arc<Gateway>, config: &Config) -> Self {
        let embedding_models =
            config.models.iter().filter(|m| m.kind == ModelKind::Embeddings).map(|m| m.name.clone()).collect();
        Self { gateway, settings: config.rag, embedding_models, slots: Mutex::new(HashMap::new()) }
    }

    pub(super) fn store(&self) -> &Arc<dyn Store> {
        self.gateway.store()
    }

    /// The embedding model a new collection gets when the ingest names none.
    pub fn default_embedding_model(&self) -> Option<&str> {
        self.embedding_models.first().map(String::as_str)
    }

    pub(super) fn check_embedding_model(&self, model: &str) -> Result<(), RagError> {
        if self.embedding_models.iter().any(|m| m == model) {
            return Ok(());
        }
        let known =
            if self.embedding_models.is_empty() { "none".to_string() } else { self.embedding_models.join(", ") };
        Err(RagError::InvalidEmbeddingModel(format!(
            "'{model}' is not a configured embeddings model (configured: {known})"
        )))
    }

    pub(super) fn slot(&self, name: &str) -> Arc<Slot> {
        // A poisoned map is still a valid map: the lock guards no invariant beyond insertion.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(name.to_string()).or_default().clone()
    }

    fn index_options(&self) -> IndexOptions {
        IndexOptions { approximate_min: self.settings.approximate_min_chunks, probes: self.settings.probes }
    }

    /// Every collection with its counts, by name.
    pub async fn list(&self) -> Result<Vec<CollectionInfo>, RagError> {
        Ok(self.store().list_collections().await?)
    }

    /// One collection with its settings and counts.
    pub async fn get(&self, name: &str) -> Result<CollectionInfo, RagError> {
        validate_name(name)?;
        self.store().get_collection(name).await?.ok_or_else(|| RagError::CollectionNotFound(name.to_string()))
    }

    /// A collection's documents, by source.
    pub async fn documents(&self, name: &str) -> Result<Vec<DocumentInfo>, RagError> {
        self.get(name).await?;
        Ok(self.store().list_documents(name).await?)
    }

    /// Deletes a collection with everything in it.
    pub async fn delete(&self, name: &str) -> Result<(), RagError> {
        validate_name(name)?;
        let slot = self.slot(name);
        let _ingesting = slot.ingest.lock().await;
        let deleted = self.store().delete_collection(name).await?;
        *slot.index.write().await = None;
        if deleted {
            Ok(())
        } else {
            Err(RagError::CollectionNotFound(name.to_string()))
        }
    }

    /// The `top_k` chunks most similar to `text`, best first. Recorded as a root retrieve trace.
    pub async fn query(&self, name: &str, text: &str, top_k: usize) -> Result<Vec<Hit>, RagError> {
        self.query_traced(name, text, top_k, None).await.result
    }

    /// Like `query`, recorded as a retrieve span nested under `parent` (a trace id and this
    /// span's name in it, e.g. a chain run and its step), with the query's embedding call
    /// nested under the span. The span carries the embedding's tokens and the hits.
    pub async fn query_traced(
        &self,
        name: &str,
        text: &str,
        top_k: usize,
        parent: Option<(TraceId, String)>,
    ) -> Retrieval {
        let request = json!({"collection": name, "query": text, "top_k": top_k});
        let mut span = self.gateway.start_span(TraceKind::Retrieve, &format!("collection:{name}"), request, false);
        if let Some((parent, step)) = parent {
            span.set_parent(parent, &step);
        }
        let trace_id = span.id;
        let result = self.retrieve(name, text, top_k, trace_id).await;
        let outcome = match &result {
            Ok((hits, tokens)) => Outcome {
                status: TraceStatus::Ok,
                http_status: 200,
                error: None,
                response: Some(json!({"hits": hits})),
                finish_reason: None,
                usage: Some(Usage::new(*tokens, 0)),
                ttft_ms: None,
            },
            Err(e) => Outcome {
                status: TraceStatus::Error,
                http_status: e.http_status(),
                error: Some(TraceError { code: e.code().to_string(), message: e.to_string() }),
                response: None,
                finish_reason: None,
                usage: None,
                ttft_ms: None,
            },
        };
        span.finish(outcome);
        Retrieval { trace_id, result: result.map(|(hits, _)| hits) }
    }

    async fn retrieve(&self, name: &str, text: &str, top_k: usize, span: TraceId) -> Result<(Vec<Hit>, u32), RagError> {
        validate_name(name)?;
        if text.trim().is_empty() {
            return Err(RagError::EmptyQuery);
        }
        check_top_k(top_k)?;
        let info = self.get(name).await?;
        let model = &info.settings.embedding_model;
        let (mut vectors, tokens) = self
            .embed(model, vec![text.to_string()], (span, "embed query".to_string()))
            .await
            .map_err(|source| RagError::Embedding { model: model.clone(), stored: 0, source })?;
        let vector = vectors.pop().ok_or_else(|| RagError::Internal("the model returned no vector".into()))?;
        let hits = self.search_info(&info, vector, top_k).await?;
        Ok((hits, tokens))
    }

    /// The `top_k` chunks most similar to an already embedded query (no model call, no trace).
    pub async fn search_vector(&self, name: &str, vector: Vec<f32>, top_k: usize) -> Result<Vec<Hit>, RagError> {
        check_top_k(top_k)?;
        let info = self.get(name).await?;
        self.search_info(&info, vector, top_k).await
    }

    async fn search_info(&self, info: &CollectionInfo, vector: Vec<f32>, top_k: usize) -> Result<Vec<Hit>, RagError> {
        let dims = info.settings.dimensions as usize;
        if vector.len() != dims {
            return Err(RagError::DimensionMismatch {
                collection: info.name.clone(),
                model: info.settings.embedding_model.clone(),
                expected: dims,
                got: vector.len(),
            });
        }
        let guard = self.index_for(info).await?;
        let search = move |guard: &OwnedRwLockReadGuard<Option<CachedIndex>>| {
            guard.as_ref().map(|c| c.index.search(&vector, top_k)).unwrap_or_default()
        };
        let found = if guard.as_ref().is_some_and(|c| c.index.len() > INLINE_SEARCH_MAX) {
            tokio::task::spawn_blocking(move || search(&guard))
                .await
                .map_err(|e| RagError::Internal(format!("search failed: {e}")))?
        } else {
            search(&guard)
        };
        let ids: Vec<ChunkId> = found.iter().map(|(id, _)| *id).collect();
        let mut chunks: HashMap<ChunkId, StoredChunk> =
            self.store().get_chunks(&info.name, &ids).await?.into_iter().map(|c| (c.id, c)).collect();
        // A chunk replaced since the index was read is left out rather than shown stale.
        Ok(found
            .into_iter()
            .filter_map(|(id, score)| {
                chunks.remove(&id).map(|c| Hit {
                    text: c.text,
                    source: c.source,
                    score,
                    chunk_index: c.ordinal,
                    start_char: c.start_char,
                    end_char: c.end_char,
                })
            })
            .collect())
    }

    /// The collection's index, loaded from the store when missing or stale.
    async fn index_for(&self, info: &CollectionInfo) -> Result<OwnedRwLockReadGuard<Option<CachedIndex>>, RagError> {
        let fresh = |cached: &Option<CachedIndex>| {
            cached.as_ref().is_some_and(|c| c.created_at == info.created_at && c.revision >= info.revision)
        };
        let slot = self.slot(&info.name);
        let guard = slot.index.clone().read_owned().await;
        if fresh(&guard) {
            return Ok(guard);
        }
        drop(guard);
        let mut guard = slot.index.clone().write_owned().await;
        if !fresh(&guard) {
            let (stored, revision) = self.store().load_vectors(&info.name).await.map_err(|e| match e {
                StoreError::CollectionNotFound(name) => RagError::CollectionNotFound(name),
                other => RagError::Store(other),
            })?;
            let dims = info.settings.dimensions as usize;
            if stored.vectors.len() != stored.ids.len() * dims {
                return Err(RagError::Store(StoreError::Corrupt(format!(
                    "collection '{}' stores vectors of another length than its {dims} dimensions",
                    info.name
                ))));
            }
            let options = self.index_options();
            let index =
                tokio::task::spawn_blocking(move || VectorIndex::build(dims, stored.ids, stored.vectors, options))
                    .await
                    .map_err(|e| RagError::Internal(format!("building the index failed: {e}")))?;
            tracing::debug!(collection = %info.name, vectors = index.len(), approximate = index.is_approximate(), "index loaded");
            *guard = Some(CachedIndex { created_at: info.created_at, revision, index });
        }
        Ok(guard.downgrade())
    }

    /// Brings a loaded index in step with a stored document change; an index that missed
    /// another change (another process wrote) is dropped and reloaded by the next query.
    pub(super) async fn apply_to_index(&self, info: &CollectionInfo, change: &ReplacedDocument, vectors: Vec<f32>) {
        let slot = self.slot(&info.name);
        let mut guard = slot.index.clone().write_owned().await;
        let in_step =
            guard.as_ref().is_some_and(|c| c.created_at == info.created_at && c.revision == change.previous_revision);
        if !in_step {
            *guard = None;
            return;
        }
        let (removed, inserted, revision) = (change.removed.clone(), change.inserted.clone(), change.revision);
        let updated = tokio::task::spawn_blocking(move || {
            if let Some(cached) = guard.as_mut() {
                cached.index.update(&removed, &inserted, vectors);
                cached.revision = revision;
            }
        })
        .await;
        if let Err(e) = updated {
            // The guard went down with the task; the index is rebuilt from the store on next use.
            tracing::error!(error = %e, collection = %info.name, "updating the index failed");
            *slot.index.write().await = None;
        }
    }

    /// Embeds `texts` through the gateway, recorded as a span under `parent`.
    pub(super) async fn embed(
        &self,
        model: &str,
        texts: Vec<String>,
        parent: (TraceId, String),
    ) -> Result<(Vec<Vec<f32>>, u32), GatewayError> {
        self.gateway.embed_texts(model, texts, Some(parent)).await
    }
}

fn check_top_k(top_k: usize) -> Result<(), RagError> {
    if (1..=MAX_TOP_K).contains(&top_k) {
        Ok(())
    } else {
        Err(RagError::InvalidTopK { got: i64::try_from(top_k).unwrap_or(i64::MAX), max: MAX_TOP_K })
    }
}
