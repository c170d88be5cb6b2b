//! Traces never slow the request path: handlers hand finished records to a bounded queue and
//! a writer task commits them in batches. A full queue is counted, never silently dropped;
//! shutdown drains what is queued. With an OTLP exporter, every batch is offered to its queue
//! after the commit (redacted as stored).

use crate::config::TraceSettings;
use crate::metrics::GatewayMetrics;
use crate::otel::ExportQueue;
use gantry_store::Store;
use gantry_types::TraceRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Counters of the trace pipeline.
#[derive(Debug, Default)]
pub struct TraceStats {
    pub enqueued: AtomicU64,
    /// Records refused because the queue was full.
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    /// Records lost because the store refused them after retries.
    pub failed: AtomicU64,
}

/// A snapshot of the counters plus the queue depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TraceStatsSnapshot {
    pub enqueued: u64,
    pub dropped: u64,
    pub written: u64,
    pub failed: u64,
    pub queue_depth: u64,
}

/// Sees every finished record before it is queued (budgets add up spend from it).
pub type TraceObserver = Arc<dyn Fn(&TraceRecord) + Send + Sync>;

/// The sending side, cloned into every request.
#[derive(Clone)]
pub struct TraceSink {
    tx: mpsc::Sender<TraceRecord>,
    stats: Arc<TraceStats>,
    capacity: usize,
    // Shared by every clone, so an observer set after the sink was handed out still sees all.
    observer: Arc<OnceLock<TraceObserver>>,
    metrics: Arc<OnceLock<Arc<GatewayMetrics>>>,
}

impl TraceSink {
    /// Queues a record without waiting. Returns false (and counts it) when the queue is full
    /// or the writer has stopped.
    pub fn record(&self, trace: TraceRecord) -> bool {
        // Observed even when the queue is full: the call happened and its cost was incurred.
        if let Some(observe) = self.observer.get() {
            observe(&trace);
        }
        if let Some(metrics) = self.metrics.get() {
            metrics.observe(&trace);
        }
        match self.tx.try_send(trace) {
            Ok(()) => {
                self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(err) => {
                let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let reason = match err {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "writer stopped",
                };
                // Log the first drop and then every 1000th, so a flood cannot flood the log.
                if dropped == 1 || dropped.is_multiple_of(1000) {
                    tracing::warn!(dropped_total = dropped, reason, "trace record dropped");
                }
                false
            }
        }
    }

    /// Sets the observer of every record from now on; false when one was already set.
    pub fn set_observer(&self, observer: TraceObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Sets the metrics every record is counted in from now on; false when already set.
    pub fn set_metrics(&self, metrics: Arc<GatewayMetrics>) -> bool {
        self.metrics.set(metrics).is_ok()
    }

    /// The metrics records are counted in, once set.
    pub fn metrics(&self) -> Option<&Arc<GatewayMetrics>> {
        self.metrics.get()
    }

    /// Current counters.
    pub fn stats(&self) -> TraceStatsSnapshot {
        TraceStatsSnapshot {
            enqueued: self.stats.enqueued.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            written: self.stats.written.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
            queue_depth: (self.capacity - self.tx.capacity()) as u64,
        }
    }
}

/// The writer task; `shutdown` drains the queue and waits for the last commit.
pub struct TraceWriter {
    task: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl TraceWriter {
    /// Starts the writer on the current runtime.
    pub fn spawn(store: Arc<dyn Store>, settings: TraceSettings) -> (TraceSink, TraceWriter) {
        Self::spawn_exporting(store, settings, None)
    }

    /// Like `spawn`, offering every committed batch to `export` as well.
    pub fn spawn_exporting(
        store: Arc<dyn Store>,
        settings: TraceSettings,
        export: Option<ExportQueue>,
    ) -> (TraceSink, TraceWriter) {
        let (tx, rx) = mpsc::channel(settings.queue_capacity);
        let stats = Arc::new(TraceStats::default());
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(write_loop(store, rx, stop_rx, settings, stats.clone(), export));
        let sink = TraceSink {
            tx,
            stats,
            capacity: settings.queue_capacity,
            observer: Arc::new(OnceLock::new()),
            metrics: Arc::new(OnceLock::new()),
        };
        (sink, TraceWriter { task, stop })
    }

    /// Stops accepting records, commits everything queued, and returns when done.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "trace writer task failed");
        }
    }
}

async fn write_loop(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<TraceRecord>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    settings: TraceSettings,
    stats: Arc<TraceStats>,
    export: Option<ExportQueue>,
) {
    let mut batch = Vec::with_capacity(settings.batch_size);
    let mut stopping = false;
    loop {
        let received = if stopping {
            rx.recv_many(&mut batch, settings.batch_size).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut batch, settings.batch_size) => n,
                _ = &mut stop => {
                    // Refuse new records; what is already queued is still received below.
                    rx.close();
                    stopping = true;
                    continue;
                }
            }
        };
        if received == 0 {
            break;
        }
        // Let a batch fill up a little under load instead of committing one record at a time.
        if !stopping && batch.len() < settings.batch_size {
            let deadline = tokio::time::sleep(settings.flush_interval);
            tokio::pin!(deadline);
            while batch.len() < settings.batch_size {
                let room = settings.batch_size - batch.len();
                tokio::select! {
                    n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                    _ = &mut deadline => break,
                    // Shutdown must not wait out the flush interval.
                    _ = &mut stop => {
                        rx.close();
                        stopping = true;
                        break;
                    }
                }
            }
        }
        if settings.redact {
            batch.iter_mut().for_each(crate::guardrails::redact_record);
        }
        commit(store.as_ref(), &batch, &stats).await;
        match &export {
            // Exported even when the commit failed: the collector is another place to see it.
            Some(queue) => batch.drain(..).for_each(|record| {
                queue.offer(record);
            }),
            None => batch.clear(),
        }
    }
    tracing::debug!("trace writer drained and stopped");
}

async fn commit(store: &dyn Store, batch: &[TraceRecord], stats: &TraceStats) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=3 {
        match store.insert_traces(batch).await {
            Ok(()) => {
                stats.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, attempt, records = batch.len(), "trace batch commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(e) => {
                stats.failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(error = %e, records = batch.len(), "trace batch lost after 3 attempts");
            }
        }
    }
}
