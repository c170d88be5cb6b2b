//! RAG benchmarks: query latency at 10k and 100k chunks (exact and IVF), the IVF index's
//! recall@10 against exact search at 100k, queries through `Collections` over SQLite, and
//! ingest speed with the real all-MiniLM-L6-v2 when it is present.
//!
//! Run: `GANTRY_TEST_MODELS_DIR=/path/to/data cargo bench -p gantry-core --bench rag`
//! (without the variable the MiniLM part is skipped; `-- index|collections|minilm` runs only
//! those sections). Vectors of the size benchmarks are
//! synthetic but shaped like sentence embeddings (384-dimensional unit vectors): a corpus of
//! documents on topics (`documents`), and a harder mixture without cluster structure (`mixed`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gantry_core::config::{parse, validate};
use gantry_core::rag::index::{IndexOptions, VectorIndex};
use gantry_core::rag::{DocumentInput, IngestRequest};
use gantry_core::{Overrides, Progress, Service};
use gantry_store::{NewChunk, NewDocument};
use gantry_types::CollectionSettings;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const DIMS: usize = 384;
const QUERIES: usize = 200;
const K: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Standard normal samples (Box-Muller).
struct Gauss(StdRng);

impl Gauss {
    fn next(&mut self) -> f32 {
        let u: f32 = self.0.random_range(1e-7..1.0);
        let v: f32 = self.0.random_range(0.0..1.0);
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

fn gaussian_rows(g: &mut Gauss, rows: usize, norm: f32) -> Vec<f32> {
    let scale = norm / (DIMS as f32).sqrt();
    (0..rows * DIMS).map(|_| g.next() * scale).collect()
}

/// Adds `weight` times row `i` of `rows` to `out`.
fn add_row(out: &mut [f32], rows: &[f32], i: usize, weight: f32) {
    out.iter_mut().zip(&rows[i * DIMS..(i + 1) * DIMS]).for_each(|(o, x)| *o += weight * x);
}

/// A corpus as RAG sees it: documents of 10 chunks, each document about two of `count / 200`
/// topics, each chunk its document's theme plus its own content; each query asks about one
/// document. Also `queries` queries.
fn documents(count: usize, queries: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut g = Gauss(StdRng::seed_from_u64(seed));
    let topics = gaussian_rows(&mut g, (count / 200).max(2), 1.0);
    let docs = (count / 10).max(1);
    let mut themes = gaussian_rows(&mut g, docs, 0.3);
    for theme in themes.chunks_exact_mut(DIMS) {
        for _ in 0..2 {
            let (topic, weight) = (g.0.random_range(0..topics.len() / DIMS), g.0.random_range(0.3..1.0));
            add_row(theme, &topics, topic, weight);
        }
        gantry_core::rag::index::normalize(theme);
    }
    let mut draw = |doc: usize, noise: f32| {
        let mut row = gaussian_rows(&mut g, 1, noise);
        add_row(&mut row, &themes, doc, 1.0);
        gantry_core::rag::index::normalize(&mut row);
        row
    };
    let data = (0..count).flat_map(|i| draw(i / 10 % docs, 0.6)).collect();
    let query = (0..queries).flat_map(|i| draw(i * 7919 % docs, 0.8)).collect();
    (data, query)
}

/// A harder case: every chunk mixes three of `count / 100` topics with random weights, so
/// neighbourhoods overlap everywhere and no cluster structure helps the IVF lists.
fn mixed(count: usize, queries: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut g = Gauss(StdRng::seed_from_u64(seed));
    let topics = gaussian_rows(&mut g, (count / 100).max(3), 1.0);
    let mut point = || {
        let mut row = gaussian_rows(&mut g, 1, 0.35);
        for _ in 0..3 {
            let (topic, weight) = (g.0.random_range(0..topics.len() / DIMS), g.0.random_range(0.2..1.0));
            add_row(&mut row, &topics, topic, weight);
        }
        gantry_core::rag::index::normalize(&mut row);
        row
    };
    let data = (0..count).flat_map(|_| point()).collect();
    let query = (0..queries).flat_map(|_| point()).collect();
    (data, query)
}

fn time_ms<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1000.0)
}

/// Recall@K of `search` against exact search, and its latencies.
fn measure(index: &VectorIndex, queries: &[f32], search: impl Fn(&[f32]) -> Vec<(i64, f32)>) -> (f64, Vec<f64>) {
    let mut found = 0;
    let mut times = Vec::new();
    for q in queries.chunks_exact(DIMS) {
        let truth = index.search_exact(q, K);
        let (hits, ms) = time_ms(|| search(q));
        times.push(ms);
        found += hits.iter().filter(|h| truth.iter().any(|t| t.0 == h.0)).count();
    }
    (found as f64 / (queries.len() / DIMS * K) as f64, times)
}

type Generator = fn(usize, usize, u64) -> (Vec<f32>, Vec<f32>);

fn index_benchmarks() {
    println!("== in-memory index ({DIMS} dims, {QUERIES} queries, top {K}) ==");
    let sets: [(&str, Generator); 2] = [("documents", documents), ("mixed", mixed)];
    for (name, generate) in sets {
        for count in [10_000usize, 100_000] {
            let (data, queries) = generate(count, QUERIES, count as u64);
            let ids: Vec<i64> = (0..count as i64).collect();
            let (index, build_ms) = time_ms(|| VectorIndex::build(DIMS, ids, data, IndexOptions::default()));
            let (nearest, tenth): (Vec<f64>, Vec<f64>) = queries
                .chunks_exact(DIMS)
                .map(|q| {
                    let hits = index.search_exact(q, K);
                    (f64::from(hits[0].1), f64::from(hits[K - 1].1))
                })
                .unzip();
            let (_, exact) = measure(&index, &queries, |q| index.search_exact(q, K));
            println!(
                "{name:>9} {count:>6} chunks (nearest cosine {:.2}, {K}th {:.2}): exact median {:.3} ms (p95 {:.3})",
                median(nearest),
                median(tenth),
                median(exact.clone()),
                percentile(exact, 0.95)
            );
            if !index.is_approximate() {
                continue;
            }
            let (recall, times) = measure(&index, &queries, |q| index.search(q, K));
            println!(
                "{:>24} IVF: {} lists built in {:.0} ms; default {} probes: median {:.3} ms (p95 {:.3}), recall@{K} {:.3}",
                "",
                index.lists(),
                build_ms,
                index.probes(),
                median(times.clone()),
                percentile(times, 0.95),
                recall
            );
            for probes in [8, 16, 64, 128] {
                let (recall, times) = measure(&index, &queries, |q| index.search_probes(q, K, probes));
                println!("{:>29} probes {probes:>3}: median {:.3} ms, recall@{K} {recall:.3}", "", median(times));
            }
        }
    }
}

async fn service_without_models(dir: &std::path::Path) -> Service {
    let config = validate(
        parse("[local]\nenabled = false\n").unwrap(),
        Overrides { data_dir: Some(dir.to_path_buf()), ..Overrides::default() },
    )
    .unwrap();
    Service::with_providers(&config, &HashMap::new()).await.unwrap()
}

/// Queries through `Collections` (index cache, chunk texts read from SQLite), vectors stored
/// through the store in documents of 100 chunks.
async fn collection_benchmarks() {
    println!("== through Collections and SQLite (search by vector; embedding excluded) ==");
    for count in [10_000usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let service = service_without_models(dir.path()).await;
        let store = service.gateway.store().clone();
        let settings = CollectionSettings {
            embedding_model: "synthetic".into(),
            dimensions: DIMS as u32,
            chunk_size: 800,
            chunk_overlap: 100,
        };
        store.create_collection("bench", &settings).await.unwrap();
        let (data, queries) = documents(count, QUERIES, count as u64 + 1);
        let filler = "Retrieval augmented generation finds the passages that answer a question. ".repeat(5);
        let start = Instant::now();
        for (d, rows) in data.chunks(100 * DIMS).enumerate() {
            let chunks: Vec<NewChunk> = rows
                .chunks_exact(DIMS)
                .enumerate()
                .map(|(i, v)| NewChunk {
                    ordinal: i as u32,
                    text: format!("document {d} chunk {i}. {filler}"),
                    start_char: i as u64 * 400,
                    end_char: i as u64 * 400 + 390,
                    embedding: v.to_vec(),
                })
                .collect();
            let doc = NewDocument { source: format!("doc-{d}.md"), content_hash: format!("{d}"), chars: 40_000 };
            store.replace_document("bench", &doc, &chunks).await.unwrap();
        }
        let insert_s = start.elapsed().as_secs_f64();
        let c = &service.collections;
        let first = queries[..DIMS].to_vec();
        let (_, load_ms) = {
            let start = Instant::now();
            c.search_vector("bench", first, K).await.unwrap();
            ((), start.elapsed().as_secs_f64() * 1000.0)
        };
        let mut times = Vec::new();
        for q in queries.chunks_exact(DIMS) {
            let start = Instant::now();
            let hits = c.search_vector("bench", q.to_vec(), K).await.unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(hits.len(), K);
        }
        println!(
            "{count:>7} chunks: stored at {:.0} chunks/s; first query (load + index) {:.0} ms; query median {:.3} ms (p95 {:.3})",
            count as f64 / insert_s,
            load_ms,
            median(times.clone()),
            percentile(times, 0.95)
        );
        service.shutdown().await;
    }
}

/// CPU seconds this process has used (user + system), to tell work from waiting on a busy machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn minilm_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("GANTRY_TEST_MODELS_DIR")?).join("models/all-MiniLM-L6-v2");
    dir.join("model.safetensors").is_file().then_some(dir)
}

/// A generated corpus: `docs` documents of about 4000 characters in paragraphs of sentences.
fn corpus(docs: usize) -> Vec<DocumentInput> {
    let subjects = ["The gateway", "A prompt", "The collection", "Each trace", "The embedding model", "A chain"];
    let verbs = ["records", "retrieves", "routes", "splits", "stores", "measures"];
    let objects = ["every request", "the latency", "the nearest chunks", "its cost in tokens", "a new version"];
    let mut rng = StdRng::seed_from_u64(7);
    (0..docs)
        .map(|d| {
            let mut text = String::new();
            while text.len() < 4000 {
                for _ in 0..rng.random_range(3..7) {
                    let s = subjects[rng.random_range(0..subjects.len())];
                    let v = verbs[rng.random_range(0..verbs.len())];
                    let o = objects[rng.random_range(0..objects.len())];
                    text.push_str(&format!("{s} {v} {o} in document {d}, step {}. ", rng.random_range(0..1000)));
                }
                text.push_str("\n\n");
            }
            DocumentInput { source: format!("doc-{d}.md"), text }
        })
        .collect()
}

async fn minilm_benchmarks() {
    let Some(minilm) = minilm_dir() else {
        println!("== real MiniLM: skipped (set GANTRY_TEST_MODELS_DIR to a data directory holding models/all-MiniLM-L6-v2) ==");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let chat = dir.path().join("tiny.gguf");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    let toml = format!(
        "[local]\nchat_model = {:?}\nembedding_model = {:?}\nthreads = 2\ncontext_size = 512\n",
        chat.display().to_string(),
        minilm.display().to_string()
    );
    let overrides = Overrides { data_dir: Some(dir.path().join("data")), ..Overrides::default() };
    let config = validate(parse(&toml).unwrap(), overrides).unwrap();
    let service = Service::start(&config, Progress::Quiet).await.unwrap();
    let documents = corpus(60);
    let cpu = cpu_seconds();
    let start = Instant::now();
    let report =
        service.collections.ingest("minilm", IngestRequest { documents, ..IngestRequest::default() }).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    println!(
        "== real MiniLM ==\ningest: {} documents, {} chunks of <= 800 chars, {} tokens in {:.1} s: {:.1} chunks/s \
         ({:.1} CPU s: {:.1} chunks per CPU second)",
        report.documents_added,
        report.chunks_written,
        report.embedding_tokens,
        secs,
        report.chunks_written as f64 / secs,
        cpu,
        report.chunks_written as f64 / cpu
    );
    let mut times = Vec::new();
    for i in 0..30 {
        let question = format!("Which step of document {i} measures the latency?");
        let start = Instant::now();
        let hits = service.collections.query("minilm", &question, 5).await.unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(hits.len(), 5);
    }
    println!(
        "query (embedding + search + chunk texts): median {:.2} ms (p95 {:.2})",
        median(times.clone()),
        percentile(times, 0.95)
    );
    service.shutdown().await;
}

fn main() {
    // `cargo bench -p gantry-core --bench rag -- minilm` runs only the sections named.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    if run("index") {
        index_benchmarks();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        if run("collections") {
            collection_benchmarks().await;
        }
        if run("minilm") {
            minilm_benchmarks().await;
        }
    });
}
