//! `gantry.toml`: the raw file as written, and the validated configuration the rest of the
//! core uses. Validation reports every problem at once.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name the embedded chat model is served under.
pub const DEFAULT_CHAT_MODEL: &str = "smollm2-135m-instruct";
/// The name the embedded embedding model is served under.
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-minilm-l6-v2";
/// The provider name of the embedded engine.
pub const LOCAL_PROVIDER: &str = "local";

/// The config file exactly as written; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub local: RawLocal,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub models: Vec<RawModel>,
    #[serde(default)]
    pub routing: RawRouting,
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    #[serde(default)]
    pub traces: RawTraces,
    #[serde(default)]
    pub rag: crate::rag::RawRag,
    #[serde(default)]
    pub guardrails: crate::guardrails::RawGuardrails,
    #[serde(default)]
    pub objectives: Vec<crate::analytics::RawObjective>,
    #[serde(default)]
    pub telemetry: crate::otel::RawTelemetry,
    #[serde(default)]
    pub deploy: RawDeploy,
    /// `[[online_evaluators]]`: kept as written; the evaluation crate, which knows the
    /// evaluator types, parses and checks them when the server starts.
    #[serde(default)]
    pub online_evaluators: Vec<serde_json::Value>,
    #[serde(default)]
    pub alerting: crate::alerts::RawAlerting,
    #[serde(default)]
    pub alerts: Vec<crate::alerts::RawAlertRule>,
}

/// `[deploy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// How often canary bounds and adaptive experiments are checked; 0 turns the watcher off.
    pub watch_interval_ms: Option<u64>,
}

/// The deployment watcher's default interval: bounds act within seconds, and a pass is a
/// few indexed queries per deployed route.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(10);

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
}

/// `[local]`: the embedded engine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    pub enabled: Option<bool>,
    pub chat_model: Option<PathBuf>,
    pub embedding_model: Option<PathBuf>,
    pub threads: Option<usize>,
    pub context_size: Option<u32>,
    pub max_concurrent: Option<usize>,
}

/// `[providers.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    #[serde(rename = "type")]
    pub kind: String,
    pub base_url: Option<String>,
    /// The name of the environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    pub api_version: Option<String>,
    pub connect_timeout_ms: Option<u64>,
}

/// `[[models]]`: a name clients use and where it goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: String,
    /// `chat` (default) or `embeddings`.
    pub kind: Option<String>,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    #[serde(default)]
    pub routing: RawRouting,
}

/// One target of a model: a provider and the model name upstream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub provider: String,
    pub model: String,
}

/// Retry and timeout settings; per model, falling back to `[routing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub retries: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub attempt_timeout_ms: Option<u64>,
    pub total_timeout_ms: Option<u64>,
    pub ttft_timeout_ms: Option<u64>,
}

/// `[traces]`: the trace queue and writer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraces {
    pub queue_capacity: Option<usize>,
    pub batch_size: Option<usize>,
    pub flush_interval_ms: Option<u64>,
}

/// `[prices."UPSTREAM-MODEL"]`: USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: String,
    pub local: LocalSettings,
    pub providers: BTreeMap<String, ProviderSettings>,
    pub models: Vec<ModelSettings>,
    pub prices: BTreeMap<String, Price>,
    pub traces: TraceSettings,
    pub rag: crate::rag::RagSettings,
    pub guardrails: crate::guardrails::GuardSettings,
    /// `[[objectives]]`: targets `gantry status` and the dashboard check live data against.
    pub objectives: Vec<crate::analytics::Objective>,
    /// OpenTelemetry export.
    pub telemetry: crate::otel::TelemetrySettings,
    /// How often the deployment watcher runs; `None`: it does not.
    pub deploy_watch_interval: Option<Duration>,
    /// `[[online_evaluators]]` as written (see `RawConfig::online_evaluators`).
    pub online_evaluators: Vec<serde_json::Value>,
    /// `[alerting]` webhooks and delivery, and the `[[alerts]]` rules.
    pub alerting: crate::alerts::AlertingSettings,
}

/// The embedded engine's settings.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub enabled: bool,
    pub chat_model: Option<PathBuf>,
    pub embedding_model: Option<PathBuf>,
    pub threads: usize,
    pub context_size: u32,
    pub max_concurrent: usize,
}

/// A remote provider's settings.
#[derive(Debug, Clone)]
pub enum ProviderSettings {
    OpenAi { base_url: String, api_key_env: Option<String>, connect_timeout: Duration },
    Anthropic { base_url: String, api_key_env: Option<String>, api_version: String, connect_timeout: Duration },
}

/// Chat or embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embeddings,
}

/// A model name and its ordered targets.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    pub name: String,
    pub kind: ModelKind,
    pub targets: Vec<TargetSettings>,
    pub routing: RoutingPolicy,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSettings {
    pub provider: String,
    pub model: String,
}

/// Retries, backoff and timeouts of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoutingPolicy {
    /// Extra tries on the same target after a retryable failure.
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub attempt_timeout: Duration,
    pub total_timeout: Duration,
    pub ttft_timeout: Duration,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            retries: 2,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(120),
            total_timeout: Duration::from_secs(600),
            ttft_timeout: Duration::from_secs(60),
        }
    }
}

/// The trace queue and writer.
#[derive(Debug, Clone, Copy)]
pub struct TraceSettings {
    pub queue_capacity: usize,
    pub batch_size: usize,
    pub flush_interval: Duration,
    /// Stored traces hold placeholders instead of PII values and secrets.
    pub redact: bool,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self { queue_capacity: 10_000, batch_size: 256, flush_interval: Duration::from_millis(100), redact: false }
    }
}

/// Every problem found in a config, reported together.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid configuration{}:\n  - {}", source_name(.path), .problems.join("\n  - "))]
pub struct ConfigError {
    pub path: Option<PathBuf>,
    pub problems: Vec<String>,
}

fn source_name(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default()
}

impl ConfigError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        "invalid_config"
    }
}

/// What the command line adds on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

/// Reads and validates `path`; `None` means the defaults.
pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
    let raw = match path {
        None => RawConfig::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                path: Some(p.to_path_buf()),
                problems: vec![format!("cannot read the file: {e}")],
            })?;
            parse(&text).map_err(|mut e| {
                e.path = Some(p.to_path_buf());
                e
            })?
        }
    };
    validate(raw, overrides).map_err(|mut e| {
        e.path = path.map(Path::to_path_buf);
        e
    })
}

/// Parses TOML text into the raw config.
pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError { path: None, problems: vec![e.to_string().trim().to_string()] })
}

fn ms(value: Option<u64>, fallback: Duration) -> Duration {
    value.map(Duration::from_millis).unwrap_or(fallback)
}

fn merge_routing(raw: &RawRouting, base: RoutingPolicy) -> RoutingPolicy {
    RoutingPolicy {
        retries: raw.retries.unwrap_or(base.retries),
        backoff_base: ms(raw.backoff_base_ms, base.backoff_base),
        backoff_max: ms(raw.backoff_max_ms, base.backoff_max),
        attempt_timeout: ms(raw.attempt_timeout_ms, base.attempt_timeout),
        total_timeout: ms(raw.total_timeout_ms, base.total_timeout),
        ttft_timeout: ms(raw.ttft_timeout_ms, base.ttft_timeout),
    }
}

fn check_routing(scope: &str, raw: &RawRouting, problems: &mut Vec<String>) {
    for (field, value) in [
        ("attempt_timeout_ms", raw.attempt_timeout_ms),
        ("total_timeout_ms", raw.total_timeout_ms),
        ("ttft_timeout_ms", raw.ttft_timeout_ms),
    ] {
        if value == Some(0) {
            problems.push(format!("{scope}.{field} must be greater than 0"));
        }
    }
    if let (Some(base), Some(max)) = (raw.backoff_base_ms, raw.backoff_max_ms) {
        if base > max {
            problems.push(format!("{scope}.backoff_base_ms ({base}) is larger than backoff_max_ms ({max})"));
        }
    }
}

/// Checks a raw config and fills in defaults.
pub fn validate(raw: RawConfig, overrides: Overrides) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let local = LocalSettings {
        enabled: raw.local.enabled.unwrap_or(true),
        chat_model: raw.local.chat_model.clone(),
        embedding_model: raw.local.embedding_model.clone(),
        threads: raw.local.threads.unwrap_or(2),
        context_size: raw.local.context_size.unwrap_or(2048),
        max_concurrent: raw.local.max_concurrent.unwrap_or(4),
    };
    if local.threads == 0 {
        problems.push("local.threads must be at least 1".to_string());
    }
    if local.context_size < 64 {
        problems.push(format!("local.context_size ({}) must be at least 64", local.context_size));
    }
    if local.max_concurrent == 0 {
        problems.push("local.max_concurrent must be at least 1".to_string());
    }

    let mut providers = BTreeMap::new();
    for (name, p) in &raw.providers {
        if name == LOCAL_PROVIDER {
            problems.push(format!(
                "providers.{name}: the name '{LOCAL_PROVIDER}' is reserved for the embedded engine ([local])"
            ));
            continue;
        }
        let connect_timeout = ms(p.connect_timeout_ms, Duration::from_secs(10));
        if let Some(url) = &p.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("providers.{name}.base_url '{url}' must start with http:// or https://"));
            }
        }
        if let Some(env) = &p.api_key_env {
            if env.is_empty() || env.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                problems.push(format!(
                    "providers.{name}.api_key_env must be the NAME of an environment variable (letters, digits, _), not the key itself"
                ));
            }
        }
        let settings = match p.kind.as_str() {
            "openai" => ProviderSettings::OpenAi {
                base_url: p.base_url.clone().unwrap_or_else(|| "https://api.openai.com/v1".to_string()),
                api_key_env: p.api_key_env.clone(),
                connect_timeout,
            },
            "anthropic" => ProviderSettings::Anthropic {
                base_url: p.base_url.clone().unwrap_or_else(|| "https://api.anthropic.com".to_string()),
                api_key_env: p.api_key_env.clone(),
                api_version: p.api_version.clone().unwrap_or_else(|| "2023-06-01".to_string()),
                connect_timeout,
            },
            other => {
                problems.push(format!("providers.{name}.type '{other}' is unknown (expected 'openai' or 'anthropic')"));
                continue;
            }
        };
        providers.insert(name.clone(), settings);
    }

    check_routing("routing", &raw.routing, &mut problems);
    let base_policy = merge_routing(&raw.routing, RoutingPolicy::default());
    let mut models = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in raw.models.iter().enumerate() {
        let scope = format!("models[{i}] ('{}')", m.name);
        if m.name.trim().is_empty() {
            problems.push(format!("models[{i}].name must not be empty"));
        }
        if !seen.insert(m.name.clone()) {
            problems.push(format!("{scope}: the name is defined twice"));
        }
        let kind = match m.kind.as_deref() {
            None | Some("chat") => ModelKind::Chat,
            Some("embeddings") => ModelKind::Embeddings,
            Some(other) => {
                problems.push(format!("{scope}.kind '{other}' is unknown (expected 'chat' or 'embeddings')"));
                ModelKind::Chat
            }
        };
        if m.targets.is_empty() {
            problems.push(format!("{scope} has no targets"));
        }
        for (j, t) in m.targets.iter().enumerate() {
            let known = providers.contains_key(&t.provider) || raw.providers.contains_key(&t.provider);
            if t.provider == LOCAL_PROVIDER {
                if !local.enabled {
                    problems.push(format!("{scope}.targets[{j}] uses provider 'local' but [local] is disabled"));
                }
            } else if !known {
                problems
                    .push(format!("{scope}.targets[{j}].provider '{}' is not defined under [providers]", t.provider));
            }
            if t.model.trim().is_empty() {
                problems.push(format!("{scope}.targets[{j}].model must not be empty"));
            }
        }
        check_routing(&format!("{scope}.routing"), &m.routing, &mut problems);
        models.push(ModelSettings {
            name: m.name.clone(),
            kind,
            targets: m
                .targets
                .iter()
                .map(|t| TargetSettings { provider: t.provider.clone(), model: t.model.clone() })
                .collect(),
            routing: merge_routing(&m.routing, base_policy),
        });
    }
    if local.enabled {
        for (name, kind) in [(DEFAULT_CHAT_MODEL, ModelKind::Chat), (DEFAULT_EMBEDDING_MODEL, ModelKind::Embeddings)] {
            if !seen.contains(name) {
                models.push(ModelSettings {
                    name: name.to_string(),
                    kind,
                    targets: vec![TargetSettings { provider: LOCAL_PROVIDER.to_string(), model: name.to_string() }],
                    routing: base_policy,
                });
            }
        }
    }

    for (model, price) in &raw.prices {
        if price.input_per_mtok < 0.0
            || price.output_per_mtok < 0.0
            || !price.input_per_mtok.is_finite()
            || !price.output_per_mtok.is_finite()
        {
            problems.push(format!("prices.\"{model}\": prices must be finite and not negative"));
        }
    }

    let defaults = TraceSettings::default();
    let traces = TraceSettings {
        queue_capacity: raw.traces.queue_capacity.unwrap_or(defaults.queue_capacity),
        batch_size: raw.traces.batch_size.unwrap_or(defaults.batch_size),
        flush_interval: ms(raw.traces.flush_interval_ms, defaults.flush_interval),
        redact: raw.guardrails.redact_traces.unwrap_or(false),
    };
    if traces.queue_capacity == 0 {
        problems.push("traces.queue_capacity must be at least 1".to_string());
    }
    if traces.batch_size == 0 {
        problems.push("traces.batch_size must be at least 1".to_string());
    }

    let rag = crate::rag::settings::validate(&raw.rag, &mut problems);
    let guardrails = crate::guardrails::config::validate(&raw.guardrails, &mut problems);
    let objectives = crate::analytics::objectives::validate(&raw.objectives, &mut problems);
    let telemetry = crate::otel::config::validate(&raw.telemetry, &mut problems);
    let alerting = crate::alerts::rules::validate(&raw.alerting, &raw.alerts, &objectives, &mut problems);
    for rule in &guardrails.rules {
        for model in rule.models.iter().flatten() {
            if !models.iter().any(|m| &m.name == model) {
                problems.push(format!("guardrails rule '{}': the model '{model}' is not configured", rule.name));
            }
        }
    }

    let listen = overrides.listen.or(raw.server.listen).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!("server.listen '{listen}' is not an address like 127.0.0.1:8080"));
    }
    let database_url = overrides.database_url.or(raw.database_url);
    if let Some(url) = &database_url {
        if !url.starts_with("sqlite:") {
            problems.push(format!(
                "database_url '{}' is not supported by this build (use sqlite://PATH)",
                gantry_store::redact_url(url)
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError { path: None, problems });
    }
    let mut prices = raw.prices;
    if local.enabled {
        for name in [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL] {
            prices.entry(name.to_string()).or_default();
        }
    }
    Ok(Config {
        data_dir: overrides.data_dir.or(raw.data_dir).unwrap_or_else(|| PathBuf::from(".gantry")),
        database_url,
        listen,
        local,
        providers,
        models,
        prices,
        traces,
        rag,
        guardrails,
        objectives,
        telemetry,
        deploy_watch_interval: match raw.deploy.watch_interval_ms {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => Some(DEFAULT_WATCH_INTERVAL),
        },
        online_evaluators: raw.online_evaluators,
        alerting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_means_the_embedded_defaults() {
        let config = validate(RawConfig::default(), Overrides::default()).unwrap();
        let names: Vec<_> = config.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec![DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL]);
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.models[1].kind, ModelKind::Embeddings);
        assert_eq!(config.prices[DEFAULT_CHAT_MODEL], Price::default());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw = parse(
            r#"
            [server]
            listen = "nowhere"
            [providers.up]
            type = "grpc"
            [providers.oa]
            type = "openai"
            base_url = "ftp://x"
            api_key_env = "sk-live-123"
            [[models]]
            name = "a"
            targets = [{ provider = "missing", model = "x" }]
            routing = { attempt_timeout_ms = 0 }
            [[models]]
            name = "a"
            "#,
        )
        .unwrap();
        let err = validate(raw, Overrides::default()).unwrap_err();
        let text = err.to_string();
        for needle in [
            "nowhere",
            "grpc",
            "ftp://x",
            "NAME of an environment variable",
            "'missing'",
            "attempt_timeout_ms",
            "defined twice",
            "has no targets",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(err.problems.len(), 8, "{text}");
        assert!(!text.contains("sk-live-123"), "a key-looking value must not be echoed");
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn routing_inherits_from_the_global_section() {
        let raw = parse(
            r#"
            routing = { retries = 5, total_timeout_ms = 1000 }
            [providers.oa]
            type = "openai"
            [[models]]
            name = "m"
            targets = [{ provider = "oa", model = "gpt" }]
            routing = { retries = 1 }
            "#,
        )
        .unwrap();
        let config = validate(raw, Overrides::default()).unwrap();
        let m = &config.models[0];
        assert_eq!(m.routing.retries, 1);
        assert_eq!(m.routing.total_timeout, Duration::from_millis(1000));
    }
}
