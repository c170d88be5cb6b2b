#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! OTLP ingest rate: protobuf `ExportTraceServiceRequest`s of 100 GenAI spans each (traces of a
//! workflow span and four chat spans with model, tokens, parameters and messages) posted over
//! loopback to `POST /v1/traces` of a Gantry with a fresh SQLite store, from 4 connections; a
//! request is answered once its spans are committed, so spans/s counts stored spans. The
//! baseline, in the same run: the store's `insert_traces` of the same records (mapped before the
//! clock starts), from 4 tasks, into another fresh store. Their ratio is the cost of HTTP,
//! decoding and mapping; decoding and mapping alone are timed on one thread too. Rounds
//! alternate; medians reported.
//!
//! `cargo bench -p gantry-benches --bench otlp_ingest --profile dev --config 'profile.dev.opt-level=3'`
//! Env: GANTRY_BENCH_BATCHES (requests per round, default 300), GANTRY_BENCH_ROUNDS (default 5),
//! GANTRY_BENCH_CONNECTIONS (default 4).

use gantry_core::config::{parse, validate};
use gantry_core::otel::ingest::map_request;
use gantry_core::{Overrides, Progress, Service};
use gantry_types::TraceRecord;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_REQUEST: usize = 100;
const SPANS_PER_TRACE: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn kv(key: &str, value: AnyKind) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, AnyKind::StringValue(value.to_string()))
}

/// Request `n` of a round: 20 traces of 5 spans, ids unique to (round, n).
fn request(round: usize, n: usize) -> ExportTraceServiceRequest {
    let base: u64 = 1_772_359_200_000_000_000 + (n as u64) * 1_000_000_000;
    let mut spans = Vec::with_capacity(SPANS_PER_REQUEST);
    for t in 0..SPANS_PER_REQUEST / SPANS_PER_TRACE {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&(round as u64 + 1).to_be_bytes());
        trace_id[8..12].copy_from_slice(&(n as u32).to_be_bytes());
        trace_id[12..].copy_from_slice(&(t as u32 + 1).to_be_bytes());
        let root_id = [1, 0, 0, 0, 0, 0, 0, 1];
        spans.push(Span {
            trace_id: trace_id.to_vec(),
            span_id: root_id.to_vec(),
            name: "support.workflow".into(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: base,
            end_time_unix_nano: base + 2_000_000_000,
            attributes: vec![s("traceloop.span.kind", "workflow"), s("traceloop.entity.name", "support")],
            ..Default::default()
        });
        for c in 1..SPANS_PER_TRACE {
            spans.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: vec![2, 0, 0, 0, 0, 0, 0, c as u8],
                parent_span_id: root_id.to_vec(),
                name: "chat gpt-4o-mini".into(),
                kind: SpanKind::Client as i32,
                start_time_unix_nano: base + c as u64 * 300_000_000,
                end_time_unix_nano: base + c as u64 * 300_000_000 + 250_000_000,
                attributes: vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.system", "openai"),
                    s("gen_ai.request.model", "gpt-4o-mini"),
                    s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                    kv("gen_ai.usage.input_tokens", AnyKind::IntValue(120 + c as i64)),
                    kv("gen_ai.usage.output_tokens", AnyKind::IntValue(30)),
                    kv("gen_ai.request.temperature", AnyKind::DoubleValue(0.2)),
                    kv("gen_ai.request.max_tokens", AnyKind::IntValue(256)),
                    s("gen_ai.prompt.0.role", "system"),
                    s("gen_ai.prompt.0.content", "You are a helpful support assistant for an online shop."),
                    s("gen_ai.prompt.1.role", "user"),
                    s(
                        "gen_ai.prompt.1.content",
                        "Where is my parcel? I ordered it last Tuesday and it has not arrived.",
                    ),
                    s("gen_ai.completion.0.role", "assistant"),
                    s("gen_ai.completion.0.content", "Your parcel left the warehouse yesterday and arrives tomorrow."),
                    s("gen_ai.completion.0.finish_reason", "stop"),
                ],
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "shop"), s("telemetry.sdk.language", "python")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry.instrumentation.openai".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

async fn start_gantry() -> (Service, String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let toml = "[local]\nenabled = false\n[prices.\"gpt-4o-mini\"]\ninput_per_mtok = 0.15\noutput_per_mtok = 0.6\n";
    let overrides = Overrides { data_dir: Some(data_dir.path().to_path_buf()), ..Default::default() };
    let config = validate(parse(toml).unwrap(), overrides).unwrap();
    let service = Service::start(&config, Progress::Quiet).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async {
        let _ = stopped.await;
    }));
    (service, url, stop, data_dir)
}

/// Spans/s through `POST /v1/traces`.
async fn over_http(bodies: Arc<Vec<Vec<u8>>>, connections: usize) -> f64 {
    let (service, url, stop, _dir) = start_gantry().await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url, bodies, next) = (client.clone(), url.clone(), bodies.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(n) else { break };
                    let response = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "status {}", response.status());
                    response.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let rate = (bodies.len() * SPANS_PER_REQUEST) as f64 / started.elapsed().as_secs_f64();
    let stored = service.gateway.list_traces(&Default::default()).await.unwrap();
    assert!(!stored.is_empty());
    let _ = stop.send(());
    service.shutdown().await;
    rate
}

/// Spans/s of `insert_traces` alone, the same batches, the same concurrency.
async fn store_only(batches: Arc<Vec<Vec<TraceRecord>>>, connections: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (store, batches, next) = (store.clone(), batches.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(n) else { break };
                    store.insert_traces(batch).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    (batches.len() * SPANS_PER_REQUEST) as f64 / started.elapsed().as_secs_f64()
}

/// Spans/s of decoding and mapping alone, on one thread (no HTTP, no store).
fn decode_and_map(bodies: &[Vec<u8>], prices: &BTreeMap<String, gantry_core::config::Price>) -> f64 {
    let started = Instant::now();
    let mut spans = 0;
    for body in bodies {
        let request =
            gantry_core::otel::ingest::decode(body, gantry_core::otel::OtlpEncoding::Protobuf, false).unwrap();
        spans += map_request(&request, prices).0.len();
    }
    spans as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let requests = env_usize("GANTRY_BENCH_BATCHES", 300);
    let rounds = env_usize("GANTRY_BENCH_ROUNDS", 5);
    let connections = env_usize("GANTRY_BENCH_CONNECTIONS", 4);
    let prices = BTreeMap::from([(
        "gpt-4o-mini".to_string(),
        gantry_core::config::Price { input_per_mtok: 0.15, output_per_mtok: 0.6 },
    )]);
    let (mut http, mut store, mut mapping) = (Vec::new(), Vec::new(), Vec::new());
    let mut body_bytes = 0;
    // Warm-up: the allocator, SQLite, the connection pool.
    over_http(Arc::new((0..10).map(|n| request(1000, n).encode_to_vec()).collect()), connections).await;
    for round in 0..rounds {
        let decoded: Vec<ExportTraceServiceRequest> = (0..requests).map(|n| request(round, n)).collect();
        let bodies: Vec<Vec<u8>> = decoded.iter().map(Message::encode_to_vec).collect();
        body_bytes = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
        let records: Vec<Vec<TraceRecord>> = decoded
            .iter()
            .map(|r| {
                let (records, rejected) = map_request(r, &prices);
                assert!(rejected.is_empty() && records.len() == SPANS_PER_REQUEST, "{rejected:?}");
                records
            })
            .collect();
        mapping.push(decode_and_map(&bodies, &prices));
        http.push(over_http(Arc::new(bodies), connections).await);
        store.push(store_only(Arc::new(records), connections).await);
    }
    let (h, s) = (median(http.clone()), median(store.clone()));
    println!(
        "OTLP ingest: {rounds} rounds x {requests} requests x {SPANS_PER_REQUEST} spans (protobuf, {body_bytes} bytes/request), {connections} connections; SQLite store"
    );
    println!("{:<28} {:>12}  rounds", "path", "spans/s");
    println!(
        "{:<28} {:>12.0}  {:?}",
        "POST /v1/traces (committed)",
        h,
        http.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    println!(
        "{:<28} {:>12.0}  {:?}",
        "store.insert_traces only",
        s,
        store.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    println!(
        "{:<28} {:>12.0}  {:?}",
        "decode + map only (1 thread)",
        median(mapping.clone()),
        mapping.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    println!("ratio: {:.3} x the store's rate (the rest is HTTP + protobuf decoding + mapping)", h / s);
}
