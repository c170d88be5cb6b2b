//! Ingest: hash each document, skip the unchanged, chunk and embed the rest in batches, and
//! store each document (chunks and vectors) in one transaction as soon as it is embedded, so an
//! interrupted ingest keeps what it finished and a re-run picks up the rest.

use super::chunker::{split, TextChunk};
use super::collections::Collections;
use super::index::normalize;
use super::settings::check_chunking;
use super::{
    content_hash, validate_name, DocumentInput, DocumentOutcome, DocumentStatus, IngestProgress, IngestReport,
    IngestRequest, RagError, MAX_SOURCE_CHARS,
};
use crate::recorder::Outcome;
use gantry_store::{NewChunk, NewDocument, StoreError};
use gantry_types::{CollectionInfo, CollectionSettings, TraceError, TraceId, TraceKind, TraceStatus};
use serde_json::json;
use std::collections::HashMap;

/// The settings an ingest works with: the collection's, or those it will be created with.
struct Plan {
    model: String,
    chunk_size: u32,
    chunk_overlap: u32,
}

/// A document that needs embedding.
struct Pending {
    source: String,
    hash: String,
    chars: u64,
    status: DocumentStatus,
    chunks: Vec<TextChunk>,
    /// Unit vectors of the chunks embedded so far, row after row.
    vectors: Vec<f32>,
}

/// Counts gathered while embedding and storing.
#[derive(Default)]
struct Tally {
    chunks_written: u64,
    chunks_removed: u64,
    tokens: u64,
    stored: usize,
    outcomes: Vec<DocumentOutcome>,
    created: bool,
}

fn check_documents(documents: &[DocumentInput]) -> Result<(), RagError> {
    if documents.is_empty() {
        return Err(RagError::documents("'documents' must hold at least one document", "documents"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, d) in documents.iter().enumerate() {
        if d.source.trim().is_empty() {
            return Err(RagError::documents(
                format!("documents[{i}].source is empty: name where the text comes from"),
                format!("documents[{i}].source"),
            ));
        }
        if d.source.chars().count() > MAX_SOURCE_CHARS {
            return Err(RagError::documents(
                format!("documents[{i}].source is longer than {MAX_SOURCE_CHARS} characters"),
                format!("documents[{i}].source"),
            ));
        }
        if d.text.trim().is_empty() {
            return Err(RagError::documents(
                format!("documents[{i}].text ('{}') is empty: there is nothing to embed", d.source),
                format!("documents[{i}].text"),
            ));
        }
        if let Some(first) = seen.insert(&d.source, i) {
            return Err(RagError::documents(
                format!("documents[{first}] and documents[{i}] have the same source '{}'", d.source),
                format!("documents[{i}].source"),
            ));
        }
    }
    Ok(())
}

/// Every way the request's settings differ from the collection's, in one message.
fn settings_conflict(info: &CollectionInfo, request: &IngestRequest) -> Option<RagError> {
    let stored = &info.settings;
    let mut differences = Vec::new();
    if let Some(size) = request.chunk_size.filter(|s| *s != stored.chunk_size) {
        differences.push(format!("chunk_size {} (asked {size})", stored.chunk_size));
    }
    if let Some(overlap) = request.chunk_overlap.filter(|o| *o != stored.chunk_overlap) {
        differences.push(format!("chunk_overlap {} (asked {overlap})", stored.chunk_overlap));
    }
    if let Some(model) = request.embedding_model.as_ref().filter(|m| **m != stored.embedding_model) {
        differences.push(format!("embedding_model '{}' (asked '{model}')", stored.embedding_model));
    }
    (!differences.is_empty()).then(|| {
        RagError::SettingsConflict(format!(
            "collection '{}' was created with {}; settings are fixed when a collection is created: leave them out, \
             or delete the collection (its documents go with it) or use a new one to change them",
            info.name,
            differences.join(", ")
        ))
    })
}

impl Collections {
    /// Adds documents to collection `name`, creating it on first use. Unchanged documents
    /// (same source, same text) are skipped; changed ones have their chunks replaced.
    pub async fn ingest(&self, name: &str, request: IngestRequest) -> Result<IngestReport, RagError> {
        self.ingest_with_progress(name, request, &|_| {}).await
    }

    /// `ingest`, calling `progress` after each embedding batch and stored document.
    pub async fn ingest_with_progress(
        &self,
        name: &str,
        request: IngestRequest,
        progress: &(dyn Fn(IngestProgress) + Send + Sync),
    ) -> Result<IngestReport, RagError> {
        validate_name(name)?;
        check_documents(&request.documents)?;
        if let Some(model) = &request.embedding_model {
            self.check_embedding_model(model)?;
        }
        let slot = self.slot(name);
        let _ingesting = slot.ingest.lock().await;
        let existing = self.store().get_collection(name).await?;
        let plan = match &existing {
            Some(info) => {
                if let Some(conflict) = settings_conflict(info, &request) {
                    return Err(conflict);
                }
                Plan {
                    model: info.settings.embedding_model.clone(),
                    chunk_size: info.settings.chunk_size,
                    chunk_overlap: info.settings.chunk_overlap,
                }
            }
            None => {
                let model = match &request.embedding_model {
                    Some(m) => m.clone(),
                    None => self.default_embedding_model().ok_or(RagError::NoEmbeddingModel)?.to_string(),
                };
                let chunk_size = request.chunk_size.unwrap_or(self.settings.chunk_size);
                let chunk_overlap = request.chunk_overlap.unwrap_or(self.settings.chunk_overlap.min(chunk_size / 2));
                check_chunking(chunk_size, chunk_overlap)
                    .map_err(|(message, param)| RagError::InvalidChunking { message, param })?;
                Plan { model, chunk_size, chunk_overlap }
            }
        };
        let stored: HashMap<String, (String, u32)> = match &existing {
            Some(_) => self
                .store()
                .list_documents(name)
                .await?
                .into_iter()
                .map(|d| (d.source, (d.content_hash, d.chunks)))
                .collect(),
            None => HashMap::new(),
        };
        let (size, overlap) = (plan.chunk_size as usize, plan.chunk_overlap as usize);
        let documents = request.documents;
        // Hashing and chunking a large upload is CPU work: keep it off the async threads.
        let (pending, unchanged) = tokio::task::spawn_blocking(move || {
            let mut pending = Vec::new();
            let mut unchanged = Vec::new();
            for d in documents {
                let hash = content_hash(&d.text);
                let status = match stored.get(&d.source) {
                    Some((h, chunks)) if *h == hash => {
                        unchanged.push(DocumentOutcome {
                            source: d.source,
                            status: DocumentStatus::Unchanged,
                            chunks: *chunks,
                        });
                        continue;
                    }
                    Some(_) => DocumentStatus::Replaced,
                    None => DocumentStatus::Added,
                };
                let chars = d.text.chars().count() as u64;
                let chunks = split(&d.text, size, overlap);
                pending.push(Pending { source: d.source, hash, chars, status, chunks, vectors: Vec::new() });
            }
            (pending, unchanged)
        })
        .await
        .map_err(|e| RagError::Internal(format!("chunking failed: {e}")))?;

        let mut tally = Tally::default();
        let documents_unchanged = unchanged.len() as u32;
        let mut trace_id = None;
        if !pending.is_empty() {
            let chunks: usize = pending.iter().map(|p| p.chunks.len()).sum();
            let request = json!({"collection": name, "documents": pending.len() + unchanged.len(),
                                 "to_embed": pending.len(), "chunks": chunks});
            let span = self.gateway.start_span(TraceKind::Embeddings, &plan.model, request, false);
            trace_id = Some(span.id);
            let result = self.embed_and_store(name, &plan, existing, pending, span.id, &mut tally, progress).await;
            let outcome = match &result {
                Ok(()) => Outcome {
                    status: TraceStatus::Ok,
                    http_status: 200,
                    error: None,
                    response: Some(json!({"documents_stored": tally.stored, "chunks_written": tally.chunks_written,
                                          "chunks_removed": tally.chunks_removed, "embedding_tokens": tally.tokens})),
                    finish_reason: None,
                    usage: None,
                    ttft_ms: None,
                },
                Err(e) => Outcome {
                    status: TraceStatus::Error,
                    http_status: e.http_status(),
                    error: Some(TraceError { code: e.code().to_string(), message: e.to_string() }),
                    response: Some(json!({"documents_stored": tally.stored})),
                    finish_reason: None,
                    usage: None,
                    ttft_ms: None,
                },
            };
            span.finish(outcome);
            result?;
        }
        let count = |status| tally.outcomes.iter().filter(|o| o.status == status).count() as u32;
        let report = IngestReport {
            collection: name.to_string(),
            created: tally.created,
            documents_added: count(DocumentStatus::Added),
            documents_replaced: count(DocumentStatus::Replaced),
            documents_unchanged,
            chunks_written: tally.chunks_written,
            chunks_removed: tally.chunks_removed,
            embedding_tokens: tally.tokens,
            documents: tally.outcomes.into_iter().chain(unchanged).collect(),
            trace_id,
        };
        Ok(report)
    }

    /// Embeds the pending documents' chunks in batches and stores each document once all its
    /// chunks have vectors; creates the collection once the first batch shows the dimensions.
    #[allow(clippy::too_many_arguments)]
    async fn embed_and_store(
        &self,
        name: &str,
        plan: &Plan,
        mut info: Option<CollectionInfo>,
        mut pending: Vec<Pending>,
        span: TraceId,
        tally: &mut Tally,
        progress: &(dyn Fn(IngestProgress) + Send + Sync),
    ) -> Result<(), RagError> {
        let order: Vec<(usize, usize)> =
            pending.iter().enumerate().flat_map(|(d, p)| (0..p.chunks.len()).map(move |c| (d, c))).collect();
        let batch_size = self.settings.embed_batch_size.max(1);
        let batches = order.len().div_ceil(batch_size);
        let documents_total = pending.len() as u32;
        let mut report =
            IngestProgress { chunks_total: order.len() as u64, chunks_embedded: 0, documents_total, documents_done: 0 };
        progress(report);
        let mut next_document = 0;
        for (b, batch) in order.chunks(batch_size).enumerate() {
            let texts = batch.iter().map(|&(d, c)| pending[d].chunks[c].text.clone()).collect();
            let step = format!("embed batch {}/{batches}", b + 1);
            let (vectors, tokens) = self
                .embed(&plan.model, texts, (span, step))
                .await
                .map_err(|source| RagError::Embedding { model: plan.model.clone(), stored: tally.stored, source })?;
            tally.tokens += u64::from(tokens);
            let got = vectors.first().map_or(0, Vec::len);
            let collection = match &info {
                Some(existing) => existing.clone(),
                None => {
                    let created = self.create(name, plan, got).await?;
                    tally.created = true;
                    info = Some(created.clone());
                    created
                }
            };
            let dims = collection.settings.dimensions as usize;
            if got != dims {
                return Err(RagError::DimensionMismatch {
                    collection: name.to_string(),
                    model: plan.model.clone(),
                    expected: dims,
                    got,
                });
            }
            for (&(d, _), mut vector) in batch.iter().zip(vectors) {
                normalize(&mut vector);
                pending[d].vectors.extend(vector);
            }
            report.chunks_embedded += batch.len() as u64;
            while let Some(doc) = pending.get_mut(next_document) {
                if doc.vectors.len() < doc.chunks.len() * dims {
                    break;
                }
                self.store_document(&collection, doc, dims, tally).await?;
                next_document += 1;
                report.documents_done += 1;
            }
            progress(report);
        }
        Ok(())
    }

    /// Creates the collection; when another process created it meanwhile, uses theirs if the
    /// settings agree.
    async fn create(&self, name: &str, plan: &Plan, dims: usize) -> Result<CollectionInfo, RagError> {
        let settings = CollectionSettings {
            embedding_model: plan.model.clone(),
            dimensions: u32::try_from(dims).map_err(|_| RagError::Internal(format!("{dims} dimensions")))?,
            chunk_size: plan.chunk_size,
            chunk_overlap: plan.chunk_overlap,
        };
        match self.store().create_collection(name, &settings).await {
            Ok(info) => Ok(info),
            Err(StoreError::CollectionExists(_)) => {
                let info = self.get(name).await?;
                if info.settings == settings {
                    Ok(info)
                } else {
                    Err(RagError::SettingsConflict(format!(
                        "collection '{name}' was just created elsewhere with other settings ({:?})",
                        info.settings
                    )))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn store_document(
        &self,
        collection: &CollectionInfo,
        doc: &mut Pending,
        dims: usize,
        tally: &mut Tally,
    ) -> Result<(), RagError> {
        let vectors = std::mem::take(&mut doc.vectors);
        let chunks: Vec<NewChunk> = doc
            .chunks
            .iter()
            .zip(vectors.chunks_exact(dims))
            .enumerate()
            .map(|(i, (chunk, vector))| NewChunk {
                ordinal: i as u32,
                text: chunk.text.clone(),
                start_char: chunk.start as u64,
                end_char: chunk.end as u64,
                embedding: vector.to_vec(),
            })
            .collect();
        let document = NewDocument { source: doc.source.clone(), content_hash: doc.hash.clone(), chars: doc.chars };
        let change =
            self.store().replace_document(&collection.name, &document, &chunks).await.map_err(|e| match e {
                StoreError::CollectionNotFound(name) => RagError::CollectionNotFound(name),
                other => RagError::Store(other),
            })?;
        tally.chunks_written += change.inserted.len() as u64;
        tally.chunks_removed += change.removed.len() as u64;
        tally.stored += 1;
        tally.outcomes.push(DocumentOutcome {
            source: doc.source.clone(),
            status: doc.status,
            chunks: chunks.len() as u32,
        });
        self.apply_to_index(collection, &change, vectors).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(source: &str, text: &str) -> DocumentInput {
        DocumentInput { source: source.into(), text: text.into() }
    }

    #[test]
    fn bad_documents_are_named() {
        let err = check_documents(&[]).unwrap_err();
        assert_eq!((err.code(), err.param().as_deref()), ("invalid_documents", Some("documents")));
        let err = check_documents(&[doc("a", "x"), doc(" ", "y")]).unwrap_err();
        assert_eq!(err.param().as_deref(), Some("documents[1].source"));
        let err = check_documents(&[doc("a", " \n ")]).unwrap_err();
        assert_eq!(err.param().as_deref(), Some("documents[0].text"));
        let err = check_documents(&[doc("a", "x"), doc("b", "y"), doc("a", "z")]).unwrap_err();
        assert_eq!(err.to_string(), "documents[0] and documents[2] have the same source 'a'");
        assert!(check_documents(&[doc("a", "x"), doc("b", "y")]).is_ok());
    }

    #[test]
    fn conflicting_settings_are_listed_together() {
        let info = CollectionInfo {
            name: "docs".into(),
            settings: CollectionSettings {
                embedding_model: "all-minilm-l6-v2".into(),
                dimensions: 384,
                chunk_size: 800,
                chunk_overlap: 100,
            },
            created_at: chrono::Utc::now(),
            documents: 1,
            chunks: 2,
            revision: 1,
        };
        let same = IngestRequest { chunk_size: Some(800), ..IngestRequest::default() };
        assert!(settings_conflict(&info, &same).is_none());
        let other = IngestRequest {
            chunk_size: Some(500),
            chunk_overlap: Some(100),
            embedding_model: Some("e5".into()),
            ..IngestRequest::default()
        };
        let err = settings_conflict(&info, &other).unwrap();
        assert_eq!(err.http_status(), 409);
        let text = err.to_string();
        assert!(
            text.contains("chunk_size 800 (asked 500)")
                && text.contains("embedding_model 'all-minilm-l6-v2' (asked 'e5')"),
            "{text}"
        );
        assert!(!text.contains("chunk_overlap"), "{text}");
    }
}
