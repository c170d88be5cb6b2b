//! The OTLP exporter: the trace writer offers every record it has committed to a bounded
//! queue (a full queue is counted, never waited on); a task groups them into OTel traces,
//! batches them into OTLP/HTTP protobuf requests and retries 429/5xx/connection failures with
//! backoff. Shutdown drains the queue within a bounded time.
//!
//! A Gantry span tree finishes leaves first (a chain's steps before the chain run), and every
//! span of a tree must carry the root's trace id, so a span with a parent waits until its root
//! arrives; one whose root never comes is sent on its own after `ORPHAN_WAIT`.

use super::config::OtlpExportSettings;
use super::to_otlp::{export_request, otel_trace_id, record_to_span, ExportShape};
use gantry_types::{TraceId, TraceRecord};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a span waits for its root before it is sent without it.
const ORPHAN_WAIT: Duration = Duration::from_secs(300);
/// How often waiting spans are checked.
const ORPHAN_CHECK: Duration = Duration::from_secs(5);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

#[derive(Debug, Default)]
struct ExportStats {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    waiting: AtomicU64,
}

/// The exporter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExportStatsSnapshot {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Records refused because the export queue was full.
    pub dropped: u64,
    /// Spans lost: refused by the collector, or still failing after the retries.
    pub failed: u64,
    /// Records queued and not yet sent (including spans waiting for their root).
    pub queue_depth: u64,
}

/// The sending side of the export queue, handed to the trace writer.
#[derive(Clone)]
pub struct ExportQueue {
    tx: mpsc::Sender<TraceRecord>,
    stats: Arc<ExportStats>,
    capacity: usize,
}

impl ExportQueue {
    #[cfg(test)]
    pub(crate) fn for_tests(tx: mpsc::Sender<TraceRecord>, capacity: usize) -> Self {
        Self { tx, stats: Arc::default(), capacity }
    }

    /// Queues a record without waiting; false (counted) when the queue is full or stopped.
    pub fn offer(&self, record: TraceRecord) -> bool {
        match self.tx.try_send(record) {
            Ok(()) => true,
            Err(_) => {
                let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped == 1 || dropped.is_multiple_of(1000) {
                    tracing::warn!(dropped_total = dropped, "OTLP export queue full; span dropped");
                }
                false
            }
        }
    }

    /// Current counters.
    pub fn stats(&self) -> ExportStatsSnapshot {
        let queued = (self.capacity - self.tx.capacity()) as u64;
        ExportStatsSnapshot {
            exported: self.stats.exported.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
            queue_depth: queued + self.stats.waiting.load(Ordering::Relaxed),
        }
    }
}

/// The exporter task; `shutdown` sends what is queued and returns.
pub struct OtlpExporter {
    task: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
    queue: ExportQueue,
}

impl OtlpExporter {
    /// Starts exporting on the current runtime. `provider_systems` maps provider instance
    /// names to `gen_ai.provider.name` values.
    pub fn spawn(
        settings: OtlpExportSettings,
        provider_systems: BTreeMap<String, String>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
        let (tx, rx) = mpsc::channel(settings.queue_capacity);
        let stats = Arc::new(ExportStats::default());
        let queue = ExportQueue { tx, stats: stats.clone(), capacity: settings.queue_capacity };
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let sender = Sender { client, settings, provider_systems, stats };
        let task = tokio::spawn(export_loop(sender, rx, stop_rx));
        Ok(Self { task, stop, queue })
    }

    /// The queue the trace writer offers records to.
    pub fn queue(&self) -> ExportQueue {
        self.queue.clone()
    }

    /// Current counters.
    pub fn stats(&self) -> ExportStatsSnapshot {
        self.queue.stats()
    }

    /// Stops taking records, sends everything queued (retrying within a bounded time), and
    /// returns when done.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "OTLP exporter task failed");
        }
    }
}

async fn export_loop(
    sender: Sender,
    mut rx: mpsc::Receiver<TraceRecord>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let batch_size = sender.settings.batch_size;
    let mut trees = Trees::default();
    let mut received = Vec::with_capacity(batch_size);
    let mut ticker = tokio::time::interval(ORPHAN_CHECK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let mut ready = Vec::new();
        if drain_deadline.is_some() {
            if rx.recv_many(&mut received, batch_size).await == 0 {
                break;
            }
        } else {
            tokio::select! {
                n = rx.recv_many(&mut received, batch_size) => if n == 0 { break },
                _ = ticker.tick() => trees.expire(Instant::now(), ORPHAN_WAIT, &mut ready),
                _ = &mut stop => {
                    rx.close();
                    // Give retries of the last batches a bound: shutdown must not hang on a dead collector.
                    drain_deadline = Some(Instant::now() + sender.settings.timeout * 2);
                    continue;
                }
            }
        }
        let now = Instant::now();
        for record in received.drain(..) {
            trees.add(record, now, &mut ready);
        }
        // Bounded memory: when too many spans wait for roots, they all go out as they are.
        if trees.waiting > sender.settings.queue_capacity {
            trees.expire(now, Duration::ZERO, &mut ready);
        }
        sender.stats.waiting.store(trees.waiting as u64, Ordering::Relaxed);
        for chunk in ready.chunks(batch_size) {
            sender.send(chunk, drain_deadline).await;
        }
    }
    // Whatever still waits for a root that never came goes out now.
    let mut ready = Vec::new();
    trees.expire(Instant::now(), Duration::ZERO, &mut ready);
    sender.stats.waiting.store(0, Ordering::Relaxed);
    for chunk in ready.chunks(batch_size) {
        sender.send(chunk, drain_deadline).await;
    }
    tracing::debug!("OTLP exporter drained and stopped");
}

/// Records waiting for their root, by parent id.
#[derive(Default)]
struct Trees {
    by_parent: HashMap<TraceId, Vec<(Instant, TraceRecord)>>,
    waiting: usize,
}

/// A record and the OTel trace id it goes out with.
type Ready = (Vec<u8>, TraceRecord);

impl Trees {
    /// A root goes out at once with every waiting descendant; a child waits for its root.
    fn add(&mut self, record: TraceRecord, now: Instant, ready: &mut Vec<Ready>) {
        match record.parent_id {
            Some(parent) => {
                self.by_parent.entry(parent).or_default().push((now, record));
                self.waiting += 1;
            }
            None => {
                let trace = otel_trace_id(record.id);
                let id = record.id;
                ready.push((trace.clone(), record));
                self.release(id, &trace, ready);
            }
        }
    }

    /// Moves every waiting descendant of `root` to `ready` under `trace`.
    fn release(&mut self, root: TraceId, trace: &[u8], ready: &mut Vec<Ready>) {
        let mut pending = vec![root];
        while let Some(id) = pending.pop() {
            for (_, child) in self.by_parent.remove(&id).unwrap_or_default() {
                self.waiting -= 1;
                pending.push(child.id);
                ready.push((trace.to_vec(), child));
            }
        }
    }

    /// Sends spans that waited longer than `wait` for a root, under their parent's id as the
    /// trace id (right when the parent is the root that was lost).
    fn expire(&mut self, now: Instant, wait: Duration, ready: &mut Vec<Ready>) {
        let stale: Vec<TraceId> = self
            .by_parent
            .iter()
            .filter(|(_, children)| children.iter().any(|(at, _)| now.duration_since(*at) >= wait))
            .map(|(parent, _)| *parent)
            .collect();
        for parent in stale {
            let trace = otel_trace_id(parent);
            self.release(parent, &trace, ready);
        }
    }
}

/// Encodes and posts batches.
struct Sender {
    client: reqwest::Client,
    settings: OtlpExportSettings,
    provider_systems: BTreeMap<String, String>,
    stats: Arc<ExportStats>,
}

enum Attempt {
    Done { rejected: u64 },
    Retry { after: Option<Duration>, why: String },
    Fail(String),
}

impl Sender {
    async fn send(&self, batch: &[Ready], deadline: Option<Instant>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let shape = ExportShape { settings: &self.settings, provider_systems: &self.provider_systems };
        let spans: Vec<Span> =
            batch.iter().map(|(trace, record)| record_to_span(record, trace.clone(), &shape)).collect();
        let body = export_request(spans, &shape).encode_to_vec();
        let mut backoff = BACKOFF_BASE;
        let mut tries = 0;
        loop {
            tries += 1;
            let wait = match self.attempt(body.clone()).await {
                Attempt::Done { rejected } => {
                    let rejected = rejected.min(count);
                    self.stats.exported.fetch_add(count - rejected, Ordering::Relaxed);
                    self.stats.failed.fetch_add(rejected, Ordering::Relaxed);
                    return;
                }
                Attempt::Fail(why) => {
                    self.stats.failed.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!(spans = count, reason = %why, "OTLP export refused; spans dropped");
                    return;
                }
                Attempt::Retry { after, why } => {
                    let wait = after.unwrap_or(backoff).min(BACKOFF_MAX * 4);
                    let out_of_time = deadline.is_some_and(|d| Instant::now() + wait >= d);
                    if tries > self.settings.max_retries || out_of_time {
                        self.stats.failed.fetch_add(count, Ordering::Relaxed);
                        tracing::warn!(spans = count, tries, reason = %why, "OTLP export failed; spans dropped");
                        return;
                    }
                    tracing::debug!(spans = count, tries, reason = %why, "OTLP export failed; retrying");
                    wait
                }
            };
            tokio::time::sleep(jitter(wait)).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn attempt(&self, body: Vec<u8>) -> Attempt {
        let mut request =
            self.client.post(&self.settings.endpoint).header("content-type", "application/x-protobuf").body(body);
        for (name, value) in &self.settings.headers {
            request = request.header(name.as_str(), value.expose());
        }
        let response = match request.send().await {
            Ok(r) => r,
            // Connection refused, reset, timed out: the collector may come back.
            Err(e) => return Attempt::Retry { after: None, why: without_url(&e) },
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.unwrap_or_default();
        match status {
            200..=299 => {
                let rejected = ExportTraceServiceResponse::decode(body.as_ref())
                    .ok()
                    .and_then(|r| r.partial_success)
                    .filter(|p| p.rejected_spans > 0)
                    .map(|p| {
                        tracing::warn!(rejected = p.rejected_spans, message = %p.error_message, "OTLP collector rejected spans");
                        u64::try_from(p.rejected_spans).unwrap_or(0)
                    })
                    .unwrap_or(0);
                Attempt::Done { rejected }
            }
            429 | 502 | 503 | 504 => Attempt::Retry { after: retry_after, why: format!("HTTP {status}") },
            _ => {
                let text = String::from_utf8_lossy(&body);
                let excerpt: String = text.chars().take(200).collect();
                Attempt::Fail(format!("HTTP {status}: {excerpt}"))
            }
        }
    }
}

/// The error without the URL (which may carry credentials in its query).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// `wait` plus up to a quarter more, so that many exporters do not retry in step.
fn jitter(wait: Duration) -> Duration {
    wait + wait.mul_f64(rand::random::<f64>() * 0.25)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(parent: Option<TraceId>) -> TraceRecord {
        let mut r: TraceRecord = serde_json::from_value(serde_json::json!({
            "id": TraceId::new(), "started_at": "2026-01-01T00:00:00Z", "kind": "chat", "requested_model": "m",
            "provider": null, "upstream_model": null, "attempts": [], "status": "ok", "http_status": 200,
            "error": null, "stream": false, "request": {}, "response": null, "finish_reason": null,
            "prompt_tokens": null, "completion_tokens": null, "total_tokens": null, "latency_ms": 1.0,
            "ttft_ms": null, "cost_usd": null
        }))
        .unwrap();
        r.parent_id = parent;
        r
    }

    #[test]
    fn a_tree_waits_for_its_root_and_goes_out_under_its_id() {
        let mut trees = Trees::default();
        let root = record(None);
        let step = record(Some(root.id));
        let grandchild = record(Some(step.id));
        let now = Instant::now();
        let mut ready = Vec::new();
        trees.add(grandchild.clone(), now, &mut ready);
        trees.add(step.clone(), now, &mut ready);
        assert!(ready.is_empty());
        assert_eq!(trees.waiting, 2);
        trees.add(root.clone(), now, &mut ready);
        let ids: Vec<_> = ready.iter().map(|(_, r)| r.id).collect();
        assert_eq!(ids, vec![root.id, step.id, grandchild.id]);
        assert!(ready.iter().all(|(trace, _)| *trace == otel_trace_id(root.id)));
        assert_eq!(trees.waiting, 0);
    }

    #[test]
    fn orphans_go_out_after_the_wait() {
        let mut trees = Trees::default();
        let lost_root = TraceId::new();
        let start = Instant::now();
        let mut ready = Vec::new();
        trees.add(record(Some(lost_root)), start, &mut ready);
        trees.expire(start + Duration::from_secs(1), Duration::from_secs(10), &mut ready);
        assert!(ready.is_empty());
        trees.expire(start + Duration::from_secs(11), Duration::from_secs(10), &mut ready);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].0, otel_trace_id(lost_root));
        assert_eq!(trees.waiting, 0);
    }
}
