//! Prometheus metrics of every finished call, counted where its trace record is handed to the
//! trace queue, and rendered as the Prometheus text format (version 0.0.4) for `/metrics`.
//!
//! Label values are bounded: a model label is a configured model name ("chain" for chain runs,
//! "unknown" for anything else a client asked for), a provider label a configured provider,
//! "local", or "none" when no provider was reached.

use crate::config::{Config, LOCAL_PROVIDER};
use crate::trace_writer::TraceStatsSnapshot;
use gantry_types::{TraceKind, TraceRecord, TraceStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The content type of [`GatewayMetrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const UNKNOWN: &str = "unknown";
const NO_PROVIDER: &str = "none";
const CHAIN: &str = "chain";

/// Request duration buckets, seconds: from a cache hit to a long generation.
const DURATION_BUCKETS: [f64; 16] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];
/// Gateway overhead buckets, seconds: tens of microseconds to a second.
const OVERHEAD_BUCKETS: [f64; 14] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Time to first token buckets, seconds.
const TTFT_BUCKETS: [f64; 13] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: Arc<str>,
    provider: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    model: Arc<str>,
    provider: Arc<str>,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    model: Arc<str>,
    provider: Arc<str>,
    code: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: Arc<str>,
    provider: Arc<str>,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardLabels {
    scanner: Arc<str>,
    action: &'static str,
    stage: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The gateway's Prometheus metrics.
pub struct GatewayMetrics {
    registry: Registry,
    models: HashMap<String, Arc<str>>,
    providers: HashMap<String, Arc<str>>,
    unknown: Arc<str>,
    no_provider: Arc<str>,
    chain: Arc<str>,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: HistogramFamily<ModelLabels>,
    overhead: HistogramFamily<ModelLabels>,
    ttft: HistogramFamily<ModelLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    guard_hits: Family<GuardLabels, Counter>,
}

impl std::fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayMetrics").field("models", &self.models.len()).finish_non_exhaustive()
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn overhead_histogram() -> Histogram {
    Histogram::new(OVERHEAD_BUCKETS)
}

fn ttft_histogram() -> Histogram {
    Histogram::new(TTFT_BUCKETS)
}

/// A stable error code as a label; anything that does not look like one is "other".
fn code_label(code: &str) -> Arc<str> {
    let plain = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    Arc::from(if plain { code } else { "other" })
}

impl GatewayMetrics {
    /// Metrics labelled with the models and providers of `config`.
    pub fn new(config: &Config) -> Self {
        let intern = |names: &mut dyn Iterator<Item = &str>| -> HashMap<String, Arc<str>> {
            names.map(|n| (n.to_string(), Arc::from(n))).collect()
        };
        let models = intern(&mut config.models.iter().map(|m| m.name.as_str()));
        let providers = intern(&mut config.providers.keys().map(String::as_str).chain(std::iter::once(LOCAL_PROVIDER)));
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "gantry_requests",
            "Calls finished, by requested model, provider and status",
            requests.clone(),
        );
        let errors = Family::default();
        registry.register("gantry_request_errors", "Calls that failed, by error code", errors.clone());
        let duration = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register("gantry_request_duration_seconds", "Call latency as the client saw it", duration.clone());
        let overhead = Family::new_with_constructor(overhead_histogram as fn() -> Histogram);
        registry.register(
            "gantry_gateway_overhead_seconds",
            "Time of a call not spent in upstream attempts (until the first token for streams)",
            overhead.clone(),
        );
        let ttft = Family::new_with_constructor(ttft_histogram as fn() -> Histogram);
        registry.register("gantry_time_to_first_token_seconds", "Time to the first streamed token", ttft.clone());
        let tokens = Family::default();
        registry.register("gantry_tokens", "Tokens used, by kind (prompt or completion)", tokens.clone());
        let cost = Family::default();
        registry.register("gantry_cost_usd", "Cost of calls in US dollars, from the configured prices", cost.clone());
        let guard_hits = Family::default();
        registry.register(
            "gantry_guardrail_hits",
            "Guardrail findings, by scanner, action and stage",
            guard_hits.clone(),
        );
        Self {
            registry,
            models,
            providers,
            unknown: Arc::from(UNKNOWN),
            no_provider: Arc::from(NO_PROVIDER),
            chain: Arc::from(CHAIN),
            requests,
            errors,
            duration,
            overhead,
            ttft,
            tokens,
            cost,
            guard_hits,
        }
    }

    fn model_label(&self, record: &TraceRecord) -> Arc<str> {
        if record.kind == TraceKind::Chain {
            return self.chain.clone();
        }
        self.models.get(&record.requested_model).unwrap_or(&self.unknown).clone()
    }

    fn provider_label(&self, provider: Option<&str>) -> Arc<str> {
        match provider {
            None => self.no_provider.clone(),
            Some(name) => self.providers.get(name).unwrap_or(&self.unknown).clone(),
        }
    }

    /// Counts one finished call. Chain steps that are not model calls (retrieval, templates,
    /// JSON parsing) are not calls of their own; a chain run is, under the model "chain".
    pub fn observe(&self, record: &TraceRecord) {
        let model_call = matches!(record.kind, TraceKind::Chat | TraceKind::Embeddings);
        let chain_run = record.kind == TraceKind::Chain && record.parent_id.is_none();
        if !(model_call || chain_run) {
            return;
        }
        let labels =
            ModelLabels { model: self.model_label(record), provider: self.provider_label(record.provider.as_deref()) };
        let status = record.status.as_str();
        self.requests
            .get_or_create(&RequestLabels { model: labels.model.clone(), provider: labels.provider.clone(), status })
            .inc();
        if record.status == TraceStatus::Error {
            let code = record.error.as_ref().map_or_else(|| Arc::from(UNKNOWN), |e| code_label(&e.code));
            self.errors
                .get_or_create(&ErrorLabels { model: labels.model.clone(), provider: labels.provider.clone(), code })
                .inc();
        }
        self.duration.get_or_create(&labels).observe(record.latency_ms / 1000.0);
        for hit in &record.guardrails {
            self.guard_hits
                .get_or_create(&GuardLabels {
                    scanner: self.scanner_label(&hit.scanner),
                    action: hit.action.as_str(),
                    stage: hit.stage.as_str(),
                })
                .inc();
        }
        if !model_call {
            // A chain run's tokens and cost are its steps', counted with them.
            return;
        }
        if let Some(ttft) = record.ttft_ms {
            self.ttft.get_or_create(&labels).observe(ttft / 1000.0);
        }
        if !record.attempts.is_empty() {
            // For a stream the upstream is still sending after its attempt ended: its overhead
            // is measured up to the first token.
            let end_ms = if record.stream { record.ttft_ms.unwrap_or(record.latency_ms) } else { record.latency_ms };
            let upstream_ms: f64 = record.attempts.iter().map(|a| a.latency_ms).sum();
            self.overhead.get_or_create(&labels).observe((end_ms - upstream_ms).max(0.0) / 1000.0);
        }
        for (kind, count) in [("prompt", record.prompt_tokens), ("completion", record.completion_tokens)] {
            if let Some(count) = count.filter(|c| *c > 0) {
                self.tokens
                    .get_or_create(&TokenLabels {
                        model: labels.model.clone(),
                        provider: labels.provider.clone(),
                        kind,
                    })
                    .inc_by(u64::from(count));
            }
        }
        if let Some(cost) = record.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            self.cost.get_or_create(&labels).inc_by(cost);
        }
    }

    /// Scanner names come from the code (pii, secrets, injection, regex, banned).
    fn scanner_label(&self, scanner: &str) -> Arc<str> {
        match scanner {
            "pii" | "secrets" | "injection" | "regex" | "banned" => Arc::from(scanner),
            _ => self.unknown.clone(),
        }
    }

    /// Every metric in the Prometheus text format, the trace pipeline's from `traces`.
    pub fn render(&self, traces: TraceStatsSnapshot) -> String {
        let mut open_metrics = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode_registry(&mut open_metrics, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        let mut out = to_prometheus_text(&open_metrics);
        render_traces(&mut out, traces);
        out
    }
}

/// The trace pipeline's counters, which live in the trace writer.
fn render_traces(out: &mut String, traces: TraceStatsSnapshot) {
    let metrics = [
        ("gantry_trace_queue_depth", "gauge", "Trace records waiting to be written", traces.queue_depth),
        ("gantry_traces_written_total", "counter", "Trace records committed to the store", traces.written),
        ("gantry_traces_dropped_total", "counter", "Trace records refused because the queue was full", traces.dropped),
        ("gantry_traces_failed_total", "counter", "Trace records the store refused after retries", traces.failed),
    ];
    for (name, kind, help, value) in metrics {
        // Writing to a String cannot fail.
        let _ = write!(out, "# HELP {name} {help}.\n# TYPE {name} {kind}\n{name} {value}\n");
    }
}

/// OpenMetrics text as the Prometheus 0.0.4 format: a counter's HELP and TYPE lines name it
/// with its `_total` suffix, as its samples do, and there is no `# EOF` or `# UNIT`.
fn to_prometheus_text(open_metrics: &str) -> String {
    let lines: Vec<&str> = open_metrics.lines().collect();
    let counters: std::collections::HashSet<&str> =
        lines.iter().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(open_metrics.len() + 256);
    for line in lines {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, validate, Overrides};
    use gantry_types::{Attempt, GuardAction, GuardHit, GuardStage, TraceError, TraceId};
    use serde_json::json;

    fn config() -> Config {
        let raw = parse(
            "[local]\nenabled = false\n[providers.oa]\ntype = \"openai\"\n[[models]]\nname = \"gpt\"\n\
             targets = [{ provider = \"oa\", model = \"gpt-4o\" }]\n",
        )
        .unwrap();
        validate(raw, Overrides::default()).unwrap()
    }

    fn record(model: &str, status: TraceStatus) -> TraceRecord {
        let now = chrono::Utc::now();
        TraceRecord {
            id: TraceId::new(),
            parent_id: None,
            name: None,
            started_at: now,
            kind: TraceKind::Chat,
            requested_model: model.into(),
            provider: Some("oa".into()),
            upstream_model: Some("gpt-4o".into()),
            attempts: vec![Attempt {
                provider: "oa".into(),
                upstream_model: "gpt-4o".into(),
                started_at: now,
                latency_ms: 180.0,
                status: Some(200),
                error: None,
            }],
            status,
            http_status: 200,
            error: (status == TraceStatus::Error)
                .then(|| TraceError { code: "upstream_error".into(), message: "x".into() }),
            stream: false,
            request: json!({}),
            response: None,
            finish_reason: None,
            prompt_tokens: Some(12),
            completion_tokens: Some(3),
            total_tokens: Some(15),
            latency_ms: 200.0,
            ttft_ms: None,
            cost_usd: Some(0.25),
            prompt: None,
            output_check: None,
            api_key_id: None,
            guardrails: vec![],
            deployment: None,
        }
    }

    fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn calls_are_counted_with_bounded_labels_in_prometheus_text() {
        let metrics = GatewayMetrics::new(&config());
        metrics.observe(&record("gpt", TraceStatus::Ok));
        let mut failed = record("gpt", TraceStatus::Error);
        failed.guardrails = vec![GuardHit {
            guardrail: "pii".into(),
            scanner: "pii".into(),
            entity: "email".into(),
            stage: GuardStage::Input,
            action: GuardAction::Redact,
            message: None,
            start: 0,
            end: 1,
            score: 1.0,
            reason: None,
        }];
        metrics.observe(&failed);
        let mut stranger = record("my-secret-model-name", TraceStatus::Ok);
        stranger.provider = None;
        stranger.attempts.clear();
        metrics.observe(&stranger);
        let mut step = record("gpt", TraceStatus::Ok);
        step.kind = TraceKind::Template;
        metrics.observe(&step);
        let stats = TraceStatsSnapshot { enqueued: 3, dropped: 1, written: 2, failed: 0, queue_depth: 1 };
        let text = metrics.render(stats);

        assert_eq!(sample(&text, r#"gantry_requests_total{model="gpt",provider="oa",status="ok"}"#), Some("1"));
        assert_eq!(sample(&text, r#"gantry_requests_total{model="gpt",provider="oa",status="error"}"#), Some("1"));
        assert_eq!(
            sample(&text, r#"gantry_requests_total{model="unknown",provider="none",status="ok"}"#),
            Some("1"),
            "{text}"
        );
        assert!(!text.contains("my-secret-model-name"));
        assert_eq!(
            sample(&text, r#"gantry_request_errors_total{model="gpt",provider="oa",code="upstream_error"}"#),
            Some("1")
        );
        assert_eq!(sample(&text, r#"gantry_tokens_total{model="gpt",provider="oa",kind="prompt"}"#), Some("24"));
        assert_eq!(sample(&text, r#"gantry_cost_usd_total{model="gpt",provider="oa"}"#), Some("0.5"));
        assert_eq!(sample(&text, r#"gantry_request_duration_seconds_count{model="gpt",provider="oa"}"#), Some("2"));
        assert_eq!(
            sample(&text, r#"gantry_gateway_overhead_seconds_bucket{le="0.025",model="gpt",provider="oa"}"#),
            Some("2"),
            "200 ms - 180 ms upstream = 20 ms: {text}"
        );
        assert_eq!(
            sample(&text, r#"gantry_guardrail_hits_total{scanner="pii",action="redact",stage="input"}"#),
            Some("1")
        );
        assert_eq!(sample(&text, "gantry_traces_dropped_total"), Some("1"));
        assert_eq!(sample(&text, "gantry_trace_queue_depth"), Some("1"));
        assert!(text.contains("# TYPE gantry_requests_total counter\n"), "{text}");
        assert!(text.contains("# TYPE gantry_request_duration_seconds histogram\n"));
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
        // Every sample line is NAME{labels} VALUE or NAME VALUE, under a TYPE line of its family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
            assert!(
                text.contains(&format!("# TYPE {name} ")) || text.contains(&format!("# TYPE {family} histogram")),
                "{line}"
            );
        }
    }
}
