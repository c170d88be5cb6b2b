#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Gateway overhead: throughput and latency percentiles of chat completions sent directly to
//! a mock OpenAI upstream vs through Gantry (routing + tracing to SQLite on) to the same mock,
//! and through Gantry with guardrails on the request and the response (PII redaction, secrets
//! blocking, prompt-injection rules flagging; no similarity model), 16 concurrent connections
//! on loopback, rounds interleaved in one run; medians reported.
//!
//! `cargo bench -p gantry-benches --bench gateway_overhead`
//! Env: GANTRY_BENCH_SECONDS (per round, default 3), GANTRY_BENCH_ROUNDS (default 3),
//! GANTRY_BENCH_UPSTREAM_DELAY_MS (simulated model latency, default 0).

use gantry_core::config::{parse, validate};
use gantry_core::{Overrides, Progress, Service};
use gantry_testkit::{Flavor, MockUpstream, Reply};
use std::time::{Duration, Instant};

// The same allocator as the `gantry` binary, so the figures are the shipped gateway's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 16;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Round {
    requests: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

impl Round {
    fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    }
}

async fn load(url: String, model: &str, seconds: u64) -> Round {
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}],
        "max_tokens": 16
    })
    .to_string();
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "status {}", response.status());
                response.bytes().await.unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies_ms = Vec::new();
    for w in workers {
        latencies_ms.extend(w.await.unwrap());
    }
    Round { requests: latencies_ms.len(), seconds: started.elapsed().as_secs_f64(), latencies_ms }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds = env_u64("GANTRY_BENCH_SECONDS", 3);
    let rounds = env_u64("GANTRY_BENCH_ROUNDS", 3);
    let delay_ms = env_u64("GANTRY_BENCH_UPSTREAM_DELAY_MS", 0);
    let reply = Reply::text("Hello! How can I help you today?", 12, 9);
    let reply = if delay_ms > 0 { reply.delayed(delay_ms) } else { reply };
    let mock = MockUpstream::start(Flavor::OpenAi, vec![reply]).await;

    let data_dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
        [local]
        enabled = false
        [providers.mock]
        type = "openai"
        base_url = "{}"
        [[models]]
        name = "bench"
        targets = [{{ provider = "mock", model = "mock-model" }}]
        [[models]]
        name = "bench-guarded"
        targets = [{{ provider = "mock", model = "mock-model" }}]
        [[guardrails.rules]]
        scanner = "pii"
        action = "redact"
        models = ["bench-guarded"]
        [[guardrails.rules]]
        scanner = "secrets"
        action = "block"
        models = ["bench-guarded"]
        [[guardrails.rules]]
        scanner = "injection"
        action = "flag"
        models = ["bench-guarded"]
        [prices."mock-model"]
        input_per_mtok = 1.0
        output_per_mtok = 2.0
        "#,
        mock.base_url()
    );
    let overrides = Overrides { data_dir: Some(data_dir.path().to_path_buf()), ..Default::default() };
    let config = validate(parse(&toml).unwrap(), overrides).unwrap();
    let service = Service::start(&config, Progress::Quiet).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async {
        let _ = stop_rx.await;
    }));

    let direct_url = format!("{}/chat/completions", mock.base_url());
    let gantry_url = format!("http://{addr}/v1/chat/completions");
    // Warm up both paths (connections, SQLite file, allocator).
    load(direct_url.clone(), "mock-model", 1).await;
    load(gantry_url.clone(), "bench", 1).await;
    load(gantry_url.clone(), "bench-guarded", 1).await;

    let (mut direct, mut through, mut guarded) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(load(direct_url.clone(), "mock-model", seconds).await);
        through.push(load(gantry_url.clone(), "bench", seconds).await);
        guarded.push(load(gantry_url.clone(), "bench-guarded", seconds).await);
    }
    let summary = |rounds: &[Round]| {
        (
            median(rounds.iter().map(Round::throughput).collect()),
            median(rounds.iter().map(|r| r.percentile(0.50)).collect()),
            median(rounds.iter().map(|r| r.percentile(0.99)).collect()),
        )
    };
    let (d_rps, d_p50, d_p99) = summary(&direct);
    let (g_rps, g_p50, g_p99) = summary(&through);
    let (s_rps, s_p50, s_p99) = summary(&guarded);

    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let gateway = service.gateway.clone();
    service.shutdown().await;
    let stats = gateway.traces().stats();

    println!("gateway overhead: {CONNECTIONS} connections, {rounds} rounds x {seconds}s, upstream delay {delay_ms} ms (medians)");
    println!("{:<14} {:>10} {:>10} {:>10}", "path", "req/s", "p50 ms", "p99 ms");
    println!("{:<14} {:>10.0} {:>10.3} {:>10.3}", "direct", d_rps, d_p50, d_p99);
    println!("{:<14} {:>10.0} {:>10.3} {:>10.3}", "through gantry", g_rps, g_p50, g_p99);
    println!("{:<14} {:>10.0} {:>10.3} {:>10.3}", "+ guardrails", s_rps, s_p50, s_p99);
    println!(
        "ratio: {:.3} x direct throughput; added p50 {:+.3} ms, added p99 {:+.3} ms",
        g_rps / d_rps,
        g_p50 - d_p50,
        g_p99 - d_p99
    );
    println!(
        "guardrails: {:.3} x gantry's throughput; added p50 {:+.3} ms, added p99 {:+.3} ms",
        s_rps / g_rps,
        s_p50 - g_p50,
        s_p99 - g_p99
    );
    println!(
        "traces: {} written, {} dropped, {} failed (of {} enqueued)",
        stats.written, stats.dropped, stats.failed, stats.enqueued
    );
}
