//! `[telemetry.otlp]` in `gantry.toml`: where finished traces are exported as OTLP spans.
//! Header values may name an environment variable (`env:NAME`) so that secrets stay out of
//! the file; neither form is ever printed (Debug shows header names only).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// `[telemetry]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    pub otlp: Option<RawOtlpExport>,
}

/// `[telemetry.otlp]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOtlpExport {
    /// The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: Option<String>,
    /// Extra request headers; a value `env:NAME` is read from the environment at start-up.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `service.name` of the exported resource (default `gantry`).
    pub service_name: Option<String>,
    /// Per-request timeout (default 10 000).
    pub timeout_ms: Option<u64>,
    /// Records waiting to be exported before new ones are dropped (default 10 000).
    pub queue_capacity: Option<usize>,
    /// Spans per export request (default 512).
    pub batch_size: Option<usize>,
    /// Extra tries of a batch after a retryable failure (default 3).
    pub max_retries: Option<u32>,
    /// Also export messages and inputs/outputs (`gen_ai.input.messages`, ...); default false.
    pub capture_content: Option<bool>,
}

impl fmt::Debug for RawOtlpExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawOtlpExport")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("service_name", &self.service_name)
            .field("timeout_ms", &self.timeout_ms)
            .field("queue_capacity", &self.queue_capacity)
            .field("batch_size", &self.batch_size)
            .field("max_retries", &self.max_retries)
            .field("capture_content", &self.capture_content)
            .finish()
    }
}

/// A header value that may be a secret: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// The value itself, for the request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Validated `[telemetry]`.
#[derive(Debug, Clone, Default)]
pub struct TelemetrySettings {
    /// The OTLP exporter; `None` when no endpoint is configured.
    pub otlp: Option<OtlpExportSettings>,
}

/// Validated `[telemetry.otlp]`.
#[derive(Debug, Clone)]
pub struct OtlpExportSettings {
    pub endpoint: String,
    pub headers: Vec<(String, SecretValue)>,
    pub service_name: String,
    pub timeout: Duration,
    pub queue_capacity: usize,
    pub batch_size: usize,
    pub max_retries: u32,
    pub capture_content: bool,
}

impl OtlpExportSettings {
    /// Settings for `endpoint` with every default.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            service_name: "gantry".to_string(),
            timeout: Duration::from_secs(10),
            queue_capacity: 10_000,
            batch_size: 512,
            max_retries: 3,
            capture_content: false,
        }
    }
}

/// The most spans one export request carries.
const MAX_BATCH_SIZE: usize = 10_000;

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks `[telemetry]`, reading `env:` header values; problems are added to `problems`
/// without ever quoting a header value.
pub fn validate(raw: &RawTelemetry, problems: &mut Vec<String>) -> TelemetrySettings {
    validate_with_env(raw, problems, &|name| std::env::var(name).ok())
}

fn validate_with_env(
    raw: &RawTelemetry,
    problems: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> TelemetrySettings {
    let Some(otlp) = &raw.otlp else { return TelemetrySettings::default() };
    let scope = "telemetry.otlp";
    let Some(endpoint) = otlp.endpoint.clone() else {
        problems.push(format!("{scope}.endpoint is required (e.g. \"http://127.0.0.1:4318/v1/traces\")"));
        return TelemetrySettings::default();
    };
    let mut settings = OtlpExportSettings::new(endpoint.clone());
    match reqwest::Url::parse(&endpoint) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => problems.push(format!("{scope}.endpoint '{endpoint}' must be an http:// or https:// URL")),
    }
    settings.headers = secret_headers(scope, &otlp.headers, env, problems);
    if let Some(service) = &otlp.service_name {
        if service.trim().is_empty() {
            problems.push(format!("{scope}.service_name must not be empty"));
        }
        settings.service_name = service.clone();
    }
    match otlp.timeout_ms {
        Some(0) => problems.push(format!("{scope}.timeout_ms must be greater than 0")),
        Some(ms) => settings.timeout = Duration::from_millis(ms),
        None => {}
    }
    match otlp.queue_capacity {
        Some(0) => problems.push(format!("{scope}.queue_capacity must be at least 1")),
        Some(n) => settings.queue_capacity = n,
        None => {}
    }
    match otlp.batch_size {
        Some(n) if n == 0 || n > MAX_BATCH_SIZE => {
            problems.push(format!("{scope}.batch_size ({n}) must be from 1 to {MAX_BATCH_SIZE}"))
        }
        Some(n) => settings.batch_size = n,
        None => {}
    }
    if let Some(n) = otlp.max_retries {
        settings.max_retries = n;
    }
    settings.capture_content = otlp.capture_content.unwrap_or(false);
    TelemetrySettings { otlp: Some(settings) }
}

/// Header values as configured, `env:NAME` ones read from the environment; problems are added
/// to `problems` under `scope` without ever quoting a value.
pub(crate) fn secret_headers(
    scope: &str,
    headers: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Vec<(String, SecretValue)> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(format!("{scope}.headers: '{name}' is not a valid header name"));
            continue;
        }
        let resolved = match value.strip_prefix("env:") {
            Some(var) if !is_env_name(var) => {
                problems.push(format!(
                    "{scope}.headers.{name}: 'env:' must be followed by the NAME of an environment variable (letters, digits, _)"
                ));
                continue;
            }
            Some(var) => match env(var) {
                Some(v) if !v.is_empty() => v,
                _ => {
                    problems.push(format!("{scope}.headers.{name}: the environment variable {var} is not set"));
                    continue;
                }
            },
            None => value.clone(),
        };
        if reqwest::header::HeaderValue::from_str(&resolved).is_err() {
            problems.push(format!("{scope}.headers.{name}: the value is not a valid header value"));
            continue;
        }
        out.push((name.clone(), SecretValue(resolved)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> RawTelemetry {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_and_env_headers() {
        let raw = raw(r#"
            [otlp]
            endpoint = "http://127.0.0.1:4318/v1/traces"
            headers = { "x-api-key" = "env:OTLP_KEY", "x-tenant" = "acme" }
            timeout_ms = 2500
            "#);
        let mut problems = Vec::new();
        let env = |name: &str| (name == "OTLP_KEY").then(|| "s3cret-value".to_string());
        let settings = validate_with_env(&raw, &mut problems, &env).otlp.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.service_name, "gantry");
        assert_eq!(settings.timeout, Duration::from_millis(2500));
        assert_eq!((settings.batch_size, settings.queue_capacity, settings.max_retries), (512, 10_000, 3));
        let headers: Vec<_> = settings.headers.iter().map(|(n, v)| (n.as_str(), v.expose())).collect();
        assert_eq!(headers, vec![("x-api-key", "s3cret-value"), ("x-tenant", "acme")]);
        let printed = format!("{settings:?} {raw:?}");
        assert!(!printed.contains("s3cret-value") && !printed.contains("acme"), "{printed}");
    }

    #[test]
    fn every_problem_at_once_without_echoing_values() {
        let raw = raw(r#"
            [otlp]
            endpoint = "ftp://collector"
            headers = { "x-api-key" = "env:MISSING_VAR", "bad header" = "v", "x-literal" = "env:sk-live-1" }
            timeout_ms = 0
            batch_size = 0
            queue_capacity = 0
            service_name = " "
            "#);
        let mut problems = Vec::new();
        let settings = validate_with_env(&raw, &mut problems, &|_| None);
        let text = problems.join("\n");
        for needle in [
            "ftp://collector",
            "MISSING_VAR is not set",
            "'bad header'",
            "NAME of an environment variable",
            "timeout_ms",
            "batch_size",
            "queue_capacity",
            "service_name",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(problems.len(), 8, "{text}");
        assert!(!text.contains("sk-live-1"));
        assert!(settings.otlp.is_some());
    }

    #[test]
    fn no_section_means_no_exporter_and_a_section_needs_an_endpoint() {
        let mut problems = Vec::new();
        assert!(validate_with_env(&RawTelemetry::default(), &mut problems, &|_| None).otlp.is_none());
        assert!(problems.is_empty());
        validate_with_env(&raw("[otlp]\nservice_name = \"x\"\n"), &mut problems, &|_| None);
        assert!(problems[0].contains("endpoint is required"), "{problems:?}");
    }
}
