//! `Collections` end to end over SQLite, embedding through the gateway with a deterministic
//! bag-of-words embedder (the tiny and real BERT models are exercised by the server tests).

use super::*;
use crate::config::{parse, validate};
use crate::{Overrides, Service};
use async_trait::async_trait;
use gantry_providers::{Capabilities, ChunkStream, Provider, ProviderError};
use gantry_types::{
    ChatCompletion, ChatCompletionRequest, Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Hashes each lowercase word into one of `dims` buckets ("wide" gives 8, anything else 256);
/// an input containing FAIL makes the call fail.
#[derive(Default)]
struct WordEmbedder {
    calls: AtomicUsize,
}

fn bucket(word: &str, dims: usize) -> usize {
    // FNV-1a: stable across runs and platforms.
    let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % dims as u64) as usize
}

fn word_vector(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0.0; dims];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
        v[bucket(&word.to_lowercase(), dims)] += 1.0;
    }
    v
}

#[async_trait]
impl Provider for WordEmbedder {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: false, streaming: false, embeddings: true, tools: false, json_mode: false }
    }

    async fn chat(&self, _request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        Err(ProviderError::Unsupported("no chat".into()))
    }

    async fn chat_stream(&self, _request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Unsupported("no chat".into()))
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let texts = request.input.texts().unwrap_or_default();
        if texts.iter().any(|t| t.contains("FAIL")) {
            return Err(ProviderError::Upstream { status: 503, message: "embedder down".into(), retry_after: None });
        }
        let dims = if request.model == "wide" { 8 } else { 256 };
        let tokens = texts.iter().map(|t| t.split_whitespace().count() as u32).sum();
        let data = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Embedding {
                object: "embedding".into(),
                index: i as u32,
                embedding: EmbeddingVector::Float(word_vector(t, dims)),
            })
            .collect();
        Ok(EmbeddingResponse {
            object: "list".into(),
            data,
            model: request.model,
            usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
        })
    }
}

const CONFIG: &str = r#"
[local]
enabled = false
[providers.fake]
type = "openai"
base_url = "http://127.0.0.1:9"
[[models]]
name = "words"
kind = "embeddings"
targets = [{ provider = "fake", model = "words" }]
routing = { retries = 0 }
[[models]]
name = "wide-words"
kind = "embeddings"
targets = [{ provider = "fake", model = "wide" }]
routing = { retries = 0 }
[[models]]
name = "chatty"
targets = [{ provider = "fake", model = "chat" }]
"#;

struct Fixture {
    service: Service,
    embedder: Arc<WordEmbedder>,
    _dir: tempfile::TempDir,
}

async fn start_in(
    dir: &std::path::Path,
    extra: &str,
    tweak: impl FnOnce(&mut crate::Config),
) -> (Service, Arc<WordEmbedder>) {
    let raw = parse(&format!("{CONFIG}{extra}")).unwrap();
    let mut config = validate(raw, Overrides { data_dir: Some(dir.to_path_buf()), ..Overrides::default() }).unwrap();
    tweak(&mut config);
    let embedder = Arc::new(WordEmbedder::default());
    let providers: HashMap<String, Arc<dyn Provider>> = HashMap::from([("fake".to_string(), embedder.clone() as _)]);
    (Service::with_providers(&config, &providers).await.unwrap(), embedder)
}

async fn start(extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (service, embedder) = start_in(dir.path(), extra, |_| {}).await;
    Fixture { service, embedder, _dir: dir }
}

fn docs(items: &[(&str, &str)]) -> IngestRequest {
    IngestRequest {
        documents: items.iter().map(|(s, t)| DocumentInput { source: s.to_string(), text: t.to_string() }).collect(),
        ..IngestRequest::default()
    }
}

const ANIMALS: [(&str, &str); 3] = [
    ("cats.md", "Cats purr and sleep in the sunshine."),
    ("dogs.md", "Dogs bark loudly at the mailman."),
    ("fish.md", "Fish swim quietly in the aquarium."),
];

#[tokio::test]
async fn ingest_creates_the_collection_and_queries_rank_the_answer_first() {
    let f = start("").await;
    let c = &f.service.collections;
    let report = c.ingest("animals", docs(&ANIMALS)).await.unwrap();
    assert!(report.created);
    assert_eq!((report.documents_added, report.documents_replaced, report.documents_unchanged), (3, 0, 0));
    assert_eq!((report.chunks_written, report.chunks_removed), (3, 0));
    assert_eq!(report.embedding_tokens, 19);
    assert!(report.trace_id.is_some());
    assert_eq!(f.embedder.calls.load(Ordering::SeqCst), 1, "three chunks fit one batch");

    let info = c.get("animals").await.unwrap();
    assert_eq!(info.settings.embedding_model, "words", "the first configured embeddings model");
    assert_eq!((info.settings.dimensions, info.settings.chunk_size, info.settings.chunk_overlap), (256, 800, 100));
    assert_eq!((info.documents, info.chunks), (3, 3));

    let hits = c.query("animals", "why does the dog bark at the mailman?", 2).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].source, "dogs.md");
    assert_eq!(hits[0].text, "Dogs bark loudly at the mailman.");
    assert_eq!((hits[0].chunk_index, hits[0].start_char, hits[0].end_char), (0, 0, 32));
    assert!(hits[0].score > hits[1].score && hits[0].score <= 1.0, "{hits:?}");
    let documents = c.documents("animals").await.unwrap();
    assert_eq!(documents.iter().map(|d| d.source.as_str()).collect::<Vec<_>>(), vec!["cats.md", "dogs.md", "fish.md"]);
    assert_eq!(documents[0].content_hash, content_hash(ANIMALS[0].1));
}

#[tokio::test]
async fn unchanged_documents_are_skipped_and_changed_ones_replaced() {
    let f = start("").await;
    let c = &f.service.collections;
    c.ingest("animals", docs(&ANIMALS)).await.unwrap();
    // Load the index, so the replacement below must update it in place.
    assert_eq!(c.query("animals", "purr sunshine", 1).await.unwrap()[0].source, "cats.md");
    let calls = f.embedder.calls.load(Ordering::SeqCst);

    let again = c.ingest("animals", docs(&ANIMALS)).await.unwrap();
    assert!(!again.created);
    assert_eq!((again.documents_added, again.documents_replaced, again.documents_unchanged), (0, 0, 3));
    assert_eq!((again.chunks_written, again.chunks_removed, again.trace_id), (0, 0, None));
    assert!(again.documents.iter().all(|d| d.status == DocumentStatus::Unchanged && d.chunks == 1));
    assert_eq!(f.embedder.calls.load(Ordering::SeqCst), calls, "nothing was embedded");

    let changed =
        docs(&[("cats.md", "Cats hunt mice in the barn at midnight."), ("owls.md", "Owls hoot in the forest.")]);
    let report = c.ingest("animals", changed).await.unwrap();
    assert_eq!((report.documents_added, report.documents_replaced, report.documents_unchanged), (1, 1, 0));
    assert_eq!((report.chunks_written, report.chunks_removed), (2, 1));
    let hits = c.query("animals", "mice barn midnight", 4).await.unwrap();
    assert_eq!(hits[0].text, "Cats hunt mice in the barn at midnight.");
    assert_eq!(hits.len(), 4, "cats (new text), dogs, fish, owls");
    assert!(hits.iter().all(|h| !h.text.contains("purr")), "the old chunk is gone from the index: {hits:?}");
    assert_eq!(c.query("animals", "owls hoot forest", 1).await.unwrap()[0].source, "owls.md");
    let info = c.get("animals").await.unwrap();
    assert_eq!((info.documents, info.chunks), (4, 4));
}

#[tokio::test]
async fn chunks_are_embedded_in_batches_and_a_failure_keeps_finished_documents() {
    let f = start("[rag]\nembed_batch_size = 2\nchunk_size = 60\nchunk_overlap = 0\n").await;
    let c = &f.service.collections;
    let long = "Alpha bravo charlie delta. Echo foxtrot golf hotel. India juliett kilo lima. Mike november oscar.";
    let report = c.ingest("letters", docs(&[("long.txt", long), ("short.txt", "Papa quebec romeo.")])).await.unwrap();
    let info = c.get("letters").await.unwrap();
    assert_eq!(info.settings.chunk_size, 60, "the [rag] default applies to new collections");
    assert_eq!(report.documents.iter().map(|d| d.chunks).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(f.embedder.calls.load(Ordering::SeqCst), 2, "3 chunks in batches of 2");

    let failing = docs(&[("a.txt", "Sierra tango."), ("b.txt", "This one will FAIL."), ("c.txt", "Uniform victor.")]);
    let err = c.ingest("letters", failing).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("embedding_failed", 502));
    assert!(matches!(err, RagError::Embedding { stored: 0, .. }), "a.txt shares the failing batch: {err}");

    let mut request = docs(&[("a.txt", "Sierra tango."), ("d.txt", "Whiskey xray."), ("b.txt", "This one will FAIL.")]);
    request.chunk_size = Some(60);
    let err = c.ingest("letters", request).await.unwrap_err();
    assert!(matches!(err, RagError::Embedding { stored: 2, .. }), "{err}");
    assert!(err.to_string().contains("after 2 document(s) were stored"), "{err}");
    let sources: Vec<String> = c.documents("letters").await.unwrap().into_iter().map(|d| d.source).collect();
    assert_eq!(sources, vec!["a.txt", "d.txt", "long.txt", "short.txt"], "finished documents were kept");
    let rerun = c.ingest("letters", docs(&[("a.txt", "Sierra tango."), ("d.txt", "Whiskey xray.")])).await.unwrap();
    assert_eq!(rerun.documents_unchanged, 2);
}

#[tokio::test]
async fn bad_requests_and_settings_conflicts_are_refused() {
    let f = start("").await;
    let c = &f.service.collections;
    let code = |r: Result<IngestReport, RagError>| r.unwrap_err().code();
    assert_eq!(code(c.ingest("bad name", docs(&ANIMALS)).await), "invalid_collection_name");
    assert_eq!(code(c.ingest("a", docs(&[])).await), "invalid_documents");
    let mut r = docs(&ANIMALS);
    r.embedding_model = Some("chatty".into());
    let err = c.ingest("a", r).await.unwrap_err();
    assert_eq!(err.code(), "invalid_embedding_model");
    assert!(err.to_string().contains("configured: words, wide-words"), "{err}");
    let mut r = docs(&ANIMALS);
    r.chunk_size = Some(10);
    assert_eq!(code(c.ingest("a", r).await), "invalid_chunking");
    let mut r = docs(&ANIMALS);
    (r.chunk_size, r.chunk_overlap) = (Some(100), Some(60));
    assert_eq!(c.ingest("a", r).await.unwrap_err().param().as_deref(), Some("chunk_overlap"));
    assert!(c.list().await.unwrap().is_empty(), "no refused ingest created a collection");

    let mut r = docs(&ANIMALS);
    r.embedding_model = Some("wide-words".into());
    r.chunk_size = Some(100);
    let report = c.ingest("a", r).await.unwrap();
    assert_eq!(c.get("a").await.unwrap().settings.chunk_overlap, 50, "the default overlap is capped at half the size");
    assert!(report.created);
    let mut r = docs(&ANIMALS);
    r.chunk_size = Some(100);
    r.embedding_model = Some("wide-words".into());
    assert!(c.ingest("a", r).await.is_ok(), "repeating the stored settings is fine");
    let mut r = docs(&ANIMALS);
    r.embedding_model = Some("words".into());
    let err = c.ingest("a", r).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("collection_settings_conflict", 409));

    assert_eq!(c.query("missing", "x", 3).await.unwrap_err().http_status(), 404);
    assert_eq!(c.query("a", "  ", 3).await.unwrap_err().code(), "empty_query");
    assert_eq!(c.query("a", "cats", 0).await.unwrap_err().code(), "invalid_top_k");
    assert_eq!(c.query("a", "cats", MAX_TOP_K + 1).await.unwrap_err().code(), "invalid_top_k");
    let err = c.search_vector("a", vec![1.0; 64], 3).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("embedding_dimensions_mismatch", 409));
    assert_eq!(c.search_vector("a", vec![1.0; 8], 3).await.unwrap().len(), 3);

    c.delete("a").await.unwrap();
    assert_eq!(c.delete("a").await.unwrap_err().code(), "collection_not_found");
    assert_eq!(c.query("a", "cats", 3).await.unwrap_err().code(), "collection_not_found");
    assert_eq!(c.documents("a").await.unwrap_err().code(), "collection_not_found");
    let report = c.ingest("a", docs(&ANIMALS)).await.unwrap();
    assert!(report.created, "a deleted collection can be created again with new settings");
    assert_eq!(c.query("a", "fish aquarium", 1).await.unwrap()[0].source, "fish.md");
}

#[tokio::test]
async fn another_process_writing_makes_the_cached_index_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = start_in(dir.path(), "", |_| {}).await;
    let (second, _) = start_in(dir.path(), "", |_| {}).await;
    first.collections.ingest("animals", docs(&ANIMALS)).await.unwrap();
    assert_eq!(second.collections.query("animals", "bark mailman", 1).await.unwrap()[0].source, "dogs.md");
    first.collections.ingest("animals", docs(&[("owls.md", "Owls hoot in the forest.")])).await.unwrap();
    let hits = second.collections.query("animals", "owls hoot forest", 1).await.unwrap();
    assert_eq!(hits[0].source, "owls.md", "the second process sees the first one's new document");
}

#[tokio::test]
async fn a_collection_past_the_threshold_is_searched_approximately() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = start_in(dir.path(), "", |config| {
        config.rag.approximate_min_chunks = 40;
        config.rag.probes = 2;
    })
    .await;
    let c = &service.collections;
    let first = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "inlet", "jetty"];
    let second = ["kite", "lemon", "mango", "nutmeg", "olive", "pepper", "quince", "radish", "sage", "thyme"];
    let texts: Vec<(String, String)> = (0..60)
        .map(|i| {
            let text = format!("{} {} {}", first[i % 10], second[i / 10], ["north", "south", "east"][i % 3]);
            (format!("doc{i}.txt"), text)
        })
        .collect();
    let items: Vec<(&str, &str)> = texts.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
    // The first 30 load as an exact index; the next 30 push it past the threshold in place.
    c.ingest("places", docs(&items[..30])).await.unwrap();
    assert_eq!(c.query("places", "amber", 1).await.unwrap().len(), 1);
    c.ingest("places", docs(&items[30..])).await.unwrap();
    for (source, text) in texts.iter().step_by(7) {
        let hits = c.query("places", text, 3).await.unwrap();
        // Its own vector scores 1 (another text may tie if its words hash alike).
        assert!(hits.iter().any(|h| h.text == *text && (h.score - 1.0).abs() < 1e-5), "{source}: {hits:?}");
    }
}
