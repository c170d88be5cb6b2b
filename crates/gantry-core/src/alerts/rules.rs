//! `[alerting]` and `[[alerts]]` in `gantry.toml`: webhooks, delivery settings and alert
//! rules, as written and validated. Validation reports every problem at once and never quotes
//! a webhook header value.

use crate::analytics::{format_window, parse_window, Objective};
use crate::otel::config::{secret_headers, SecretValue};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// The window a rule names none.
pub const DEFAULT_RULE_WINDOW: &str = "5m";
/// The severities a rule may carry.
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];

/// `[alerting]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerting {
    /// Seconds between evaluations of every rule (default 30).
    pub interval_s: Option<u64>,
    /// Extra tries of a delivery after a retryable failure (default 3).
    pub retries: Option<u32>,
    /// The first wait before a retry (default 500); doubled each time, with jitter.
    pub backoff_base_ms: Option<u64>,
    /// The longest wait between tries, a Retry-After included (default 30 000).
    pub backoff_max_ms: Option<u64>,
    /// Per-request timeout (default 10 000).
    pub timeout_ms: Option<u64>,
    /// Notifications waiting per webhook before new ones are dropped (default 256).
    pub queue_capacity: Option<usize>,
    #[serde(default)]
    pub webhooks: BTreeMap<String, RawWebhook>,
}

/// `[alerting.webhooks.NAME]` as written.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Option<String>,
    /// `slack` (Slack-compatible `{"text", "blocks"}`) or `json` (default).
    pub format: Option<String>,
    /// Extra request headers; a value `env:NAME` is read from the environment at start-up.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for RawWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL of a Slack webhook is itself a secret: only its host is shown.
        f.debug_struct("RawWebhook")
            .field("url", &self.url.as_deref().map(url_host))
            .field("format", &self.format)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `[[alerts]]` as written; every field optional so that every problem is reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertRule {
    pub name: Option<String>,
    /// e.g. `error_rate`, `latency_p95_ms`, `feedback:thumbs`, `objective:p95`.
    pub metric: Option<String>,
    pub op: Option<String>,
    pub threshold: Option<f64>,
    /// The window the metric is measured over (default 5m).
    pub window: Option<String>,
    /// How long the condition must hold before the alert fires (default 0: at once).
    #[serde(rename = "for")]
    pub for_duration: Option<String>,
    /// `info`, `warning` (default) or `critical`.
    pub severity: Option<String>,
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// The model the client asked for.
    pub model: Option<String>,
    /// A registered prompt.
    pub prompt: Option<String>,
    /// An API key id.
    pub key: Option<String>,
    /// An application-facing route of a deployment.
    pub route: Option<String>,
    /// A deployment environment.
    pub environment: Option<String>,
}

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// `{"text": ..., "blocks": [...]}`: Slack incoming webhooks and the many tools that copy them.
    Slack,
    /// `{"alert", "state", "value", "threshold", ...}`.
    Json,
}

/// A validated webhook.
#[derive(Clone)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    pub headers: Vec<(String, SecretValue)>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("host", &url_host(&self.url))
            .field("format", &self.format)
            .field("headers", &self.headers)
            .finish()
    }
}

/// The host of a URL, for messages that must not show its path (which may hold a token).
pub fn url_host(url: &str) -> String {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| "?".to_string())
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeliverySettings {
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub timeout: Duration,
    pub queue_capacity: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            queue_capacity: 256,
        }
    }
}

/// A comparison of a value with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Above,
    Below,
    AtLeast,
    AtMost,
}

impl CompareOp {
    /// `>`, `<`, `>=` or `<=`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            ">" => Some(CompareOp::Above),
            "<" => Some(CompareOp::Below),
            ">=" => Some(CompareOp::AtLeast),
            "<=" => Some(CompareOp::AtMost),
            _ => None,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Above => ">",
            CompareOp::Below => "<",
            CompareOp::AtLeast => ">=",
            CompareOp::AtMost => "<=",
        }
    }

    /// Whether `value op threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            CompareOp::Above => value > threshold,
            CompareOp::Below => value < threshold,
            CompareOp::AtLeast => value >= threshold,
            CompareOp::AtMost => value <= threshold,
        }
    }
}

/// A measure of the calls in a window, from the rollups (or the traces, for a route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficMetric {
    Requests,
    Errors,
    /// Errors over requests, 0 to 1.
    ErrorRate,
    LatencyP50Ms,
    LatencyP95Ms,
    LatencyP99Ms,
    TtftP50Ms,
    TtftP95Ms,
    CostUsd,
    CostPer1kRequests,
    /// Prompt and completion tokens.
    Tokens,
}

/// The traffic metric names, as written in `metric`.
pub const TRAFFIC_METRICS: [(&str, TrafficMetric); 11] = [
    ("requests", TrafficMetric::Requests),
    ("errors", TrafficMetric::Errors),
    ("error_rate", TrafficMetric::ErrorRate),
    ("latency_p50_ms", TrafficMetric::LatencyP50Ms),
    ("latency_p95_ms", TrafficMetric::LatencyP95Ms),
    ("latency_p99_ms", TrafficMetric::LatencyP99Ms),
    ("ttft_p50_ms", TrafficMetric::TtftP50Ms),
    ("ttft_p95_ms", TrafficMetric::TtftP95Ms),
    ("cost_usd", TrafficMetric::CostUsd),
    ("cost_per_1k_requests", TrafficMetric::CostPer1kRequests),
    ("tokens", TrafficMetric::Tokens),
];

/// Where a rule's value comes from. A new source (e.g. `drift:ROUTE`, a drift score in [0, 1])
/// is one more arm here, in [`parse_metric`] and in `measure`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertMetric {
    Traffic(TrafficMetric),
    /// `feedback:NAME`: the mean of a feedback name's numeric values (true = 1).
    Feedback {
        name: String,
    },
    /// `objective:NAME`: 1 while the objective is missed, 0 while met; with `:burn`, its value
    /// relative to the target (above 1 is worse than the target, in either direction).
    Objective {
        objective: Box<Objective>,
        burn: bool,
    },
    /// `drift:ROUTE`: the route's drift score in [0, 1] over the rule's window against the
    /// week before it (without input embeddings: the alert loop has no embedding model).
    Drift {
        route: String,
    },
}

/// Which calls a traffic or feedback rule looks at; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub key: Option<String>,
    pub route: Option<String>,
    pub environment: Option<String>,
}

impl AlertFilter {
    /// `name=value` pairs of the fields set, for messages.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("model", &self.model),
            ("prompt", &self.prompt),
            ("key", &self.key),
            ("route", &self.route),
            ("environment", &self.environment),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// A validated alert rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    /// The metric as written, e.g. `feedback:thumbs`.
    pub metric_name: String,
    pub metric: AlertMetric,
    pub filter: AlertFilter,
    pub op: CompareOp,
    pub threshold: f64,
    pub window: Duration,
    pub for_duration: Duration,
    pub severity: String,
    pub webhooks: Vec<String>,
}

impl AlertRule {
    /// The condition as text, e.g. `error_rate > 0.05 over 5m`.
    pub fn condition(&self) -> String {
        format!("{} {} {} over {}", self.metric_name, self.op.as_str(), self.threshold, format_window(self.window))
    }
}

/// Validated `[alerting]` and `[[alerts]]`.
#[derive(Debug, Clone)]
pub struct AlertingSettings {
    /// Time between evaluations.
    pub interval: Duration,
    pub delivery: DeliverySettings,
    pub webhooks: BTreeMap<String, Webhook>,
    pub rules: Vec<AlertRule>,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            delivery: DeliverySettings::default(),
            webhooks: BTreeMap::new(),
            rules: Vec::new(),
        }
    }
}

/// A duration such as `0`, `30s`, `5m` or `1h` (the `for` of a rule).
pub fn parse_for(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let count: u64 = number.parse().map_err(|_| format!("'{text}' is not a duration like 0, 30s, 5m or 1h"))?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}': the unit must be s, m, h or d")),
    };
    count.checked_mul(unit_seconds).map(Duration::from_secs).ok_or_else(|| format!("'{text}' is too long"))
}

/// The source a metric name reads from, or why it reads nothing.
fn parse_metric(name: &str, objectives: &[Objective]) -> Result<AlertMetric, String> {
    if let Some((_, metric)) = TRAFFIC_METRICS.iter().find(|(n, _)| *n == name) {
        return Ok(AlertMetric::Traffic(*metric));
    }
    let known = || {
        let names: Vec<&str> = TRAFFIC_METRICS.iter().map(|(n, _)| *n).collect();
        format!("{}, feedback:NAME, objective:NAME, objective:NAME:burn or drift:ROUTE", names.join(", "))
    };
    match name.split_once(':') {
        Some(("feedback", feedback)) if !feedback.trim().is_empty() => {
            Ok(AlertMetric::Feedback { name: feedback.to_string() })
        }
        Some(("objective", rest)) => {
            let (objective, burn) = match rest.strip_suffix(":burn") {
                Some(objective) => (objective, true),
                None => (rest, false),
            };
            match objectives.iter().find(|o| o.name == objective) {
                Some(o) => Ok(AlertMetric::Objective { objective: Box::new(o.clone()), burn }),
                None => Err(format!("'{name}' names no objective declared under [[objectives]]")),
            }
        }
        Some(("drift", route)) if !route.trim().is_empty() => Ok(AlertMetric::Drift { route: route.to_string() }),
        Some(("drift", _)) => Err(format!("'{name}': drift:ROUTE names the route whose drift score is watched")),
        _ => Err(format!("'{name}' is unknown (one of {})", known())),
    }
}

fn delivery(raw: &RawAlerting, problems: &mut Vec<String>) -> DeliverySettings {
    let defaults = DeliverySettings::default();
    let positive_ms = |field: &str, value: Option<u64>, fallback: Duration, problems: &mut Vec<String>| match value {
        Some(0) => {
            problems.push(format!("alerting.{field} must be greater than 0"));
            fallback
        }
        Some(ms) => Duration::from_millis(ms),
        None => fallback,
    };
    let settings = DeliverySettings {
        retries: raw.retries.unwrap_or(defaults.retries),
        backoff_base: positive_ms("backoff_base_ms", raw.backoff_base_ms, defaults.backoff_base, problems),
        backoff_max: positive_ms("backoff_max_ms", raw.backoff_max_ms, defaults.backoff_max, problems),
        timeout: positive_ms("timeout_ms", raw.timeout_ms, defaults.timeout, problems),
        queue_capacity: raw.queue_capacity.unwrap_or(defaults.queue_capacity),
    };
    if settings.backoff_base > settings.backoff_max {
        problems.push("alerting.backoff_base_ms is larger than backoff_max_ms".to_string());
    }
    if settings.queue_capacity == 0 {
        problems.push("alerting.queue_capacity must be at least 1".to_string());
    }
    settings
}

fn webhooks(
    raw: &RawAlerting,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Webhook> {
    let mut out = BTreeMap::new();
    for (name, w) in &raw.webhooks {
        let scope = format!("alerting.webhooks.{name}");
        let before = problems.len();
        let url = w.url.clone().unwrap_or_default();
        match reqwest::Url::parse(&url) {
            _ if url.is_empty() => problems.push(format!("{scope}.url is required")),
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            // Only the host is quoted: the rest of a webhook URL is often a token.
            _ => problems.push(format!("{scope}.url must be an http:// or https:// URL")),
        }
        let format = match w.format.as_deref() {
            None | Some("json") => WebhookFormat::Json,
            Some("slack") => WebhookFormat::Slack,
            Some(other) => {
                problems.push(format!("{scope}.format '{other}' is unknown (expected 'slack' or 'json')"));
                WebhookFormat::Json
            }
        };
        let headers = secret_headers(&scope, &w.headers, env, problems);
        if problems.len() == before {
            out.insert(name.clone(), Webhook { name: name.clone(), url, format, headers });
        }
    }
    out
}

fn rule(
    i: usize,
    r: &RawAlertRule,
    raw: &RawAlerting,
    objectives: &[Objective],
    problems: &mut Vec<String>,
) -> Option<AlertRule> {
    let scope = match r.name.as_deref() {
        Some(name) => format!("alerts[{i}] ('{name}')"),
        None => format!("alerts[{i}]"),
    };
    let before = problems.len();
    let name = r.name.clone().unwrap_or_default();
    if name.trim().is_empty() {
        problems.push(format!("{scope}.name is missing"));
    }
    let metric_name = r.metric.clone().unwrap_or_default();
    let metric = match r.metric.as_deref() {
        None => {
            problems.push(format!("{scope}.metric is missing (e.g. \"error_rate\")"));
            None
        }
        Some(m) => parse_metric(m, objectives).map_err(|e| problems.push(format!("{scope}.metric {e}"))).ok(),
    };
    let op = match r.op.as_deref() {
        None => {
            problems.push(format!("{scope}.op is missing (one of >, <, >=, <=)"));
            None
        }
        Some(text) => CompareOp::parse(text).or_else(|| {
            problems.push(format!("{scope}.op '{text}' is unknown (one of >, <, >=, <=)"));
            None
        }),
    };
    let threshold = match r.threshold {
        None => {
            problems.push(format!("{scope}.threshold is missing"));
            0.0
        }
        Some(t) if !t.is_finite() => {
            problems.push(format!("{scope}.threshold must be a finite number"));
            0.0
        }
        Some(t) => t,
    };
    let objective = matches!(metric, Some(AlertMetric::Objective { .. }));
    if objective && r.window.is_some() {
        problems.push(format!("{scope}.window: an objective is measured over its own window"));
    }
    let window = match parse_window(r.window.as_deref().unwrap_or(DEFAULT_RULE_WINDOW)) {
        Ok(w) => w,
        Err(e) => {
            problems.push(format!("{scope}.window: {e}"));
            Duration::from_secs(300)
        }
    };
    let for_duration = match r.for_duration.as_deref().map(parse_for).unwrap_or(Ok(Duration::ZERO)) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{scope}.for: {e}"));
            Duration::ZERO
        }
    };
    let severity = r.severity.clone().unwrap_or_else(|| "warning".to_string());
    if !SEVERITIES.contains(&severity.as_str()) {
        problems.push(format!("{scope}.severity '{severity}' is unknown (one of {})", SEVERITIES.join(", ")));
    }
    if r.webhooks.is_empty() {
        problems.push(format!("{scope}.webhooks is empty: name at least one [alerting.webhooks.NAME]"));
    }
    for webhook in &r.webhooks {
        if !raw.webhooks.contains_key(webhook) {
            problems.push(format!("{scope}.webhooks: '{webhook}' is not defined under [alerting.webhooks]"));
        }
    }
    let filter = AlertFilter {
        model: r.model.clone(),
        prompt: r.prompt.clone(),
        key: r.key.clone(),
        route: r.route.clone(),
        environment: r.environment.clone(),
    };
    for (field, value) in filter.pairs() {
        if value.trim().is_empty() {
            problems.push(format!("{scope}.{field} must not be empty"));
        } else if objective {
            problems.push(format!("{scope}.{field}: an objective rule is scoped by its objective"));
        } else if matches!(metric, Some(AlertMetric::Feedback { .. })) && matches!(field, "route" | "environment") {
            problems.push(format!("{scope}.{field}: feedback rules can be scoped by model, prompt or key only"));
        } else if matches!(metric, Some(AlertMetric::Drift { .. })) && field != "environment" {
            problems.push(format!(
                "{scope}.{field}: a drift rule names its route in the metric and may add an environment"
            ));
        }
    }
    match (metric, op, problems.len() == before) {
        (Some(metric), Some(op), true) => Some(AlertRule {
            name,
            metric_name,
            metric,
            filter,
            op,
            threshold,
            window,
            for_duration,
            severity,
            webhooks: r.webhooks.clone(),
        }),
        _ => None,
    }
}

/// Checks `[alerting]` and `[[alerts]]` against the validated objectives, adding every problem
/// found to `problems`.
pub fn validate(
    raw: &RawAlerting,
    rules: &[RawAlertRule],
    objectives: &[Objective],
    problems: &mut Vec<String>,
) -> AlertingSettings {
    validate_with_env(raw, rules, objectives, problems, &|name| std::env::var(name).ok())
}

pub(crate) fn validate_with_env(
    raw: &RawAlerting,
    rules: &[RawAlertRule],
    objectives: &[Objective],
    problems: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> AlertingSettings {
    let interval = match raw.interval_s {
        Some(0) => {
            problems.push("alerting.interval_s must be at least 1".to_string());
            Duration::from_secs(30)
        }
        Some(s) => Duration::from_secs(s),
        None => Duration::from_secs(30),
    };
    let delivery = delivery(raw, problems);
    let webhooks = webhooks(raw, env, problems);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if let Some(name) = r.name.as_deref().filter(|n| !n.trim().is_empty()) {
            if !seen.insert(name.to_string()) {
                problems.push(format!("alerts[{i}] ('{name}'): the name is defined twice"));
            }
        }
        if let Some(rule) = rule(i, r, raw, objectives, problems) {
            out.push(rule);
        }
    }
    AlertingSettings { interval, delivery, webhooks, rules: out }
}
