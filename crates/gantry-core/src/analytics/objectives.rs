//! Objectives (`[[objectives]]` in `gantry.toml`): a target for one metric over a window,
//! optionally scoped to a model, prompt or key, and its status from live data: the value now,
//! the value over the same window just before, met or missed, and the trend.

use super::{ceil_minute, format_window, parse_window, AnalyticsError, Totals};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gantry_store::{FeedbackScope, RollupGroup, RollupQuery, Store};
use gantry_types::{EvalRun, EvalRunStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// The window when an objective names none.
pub const DEFAULT_WINDOW: &str = "24h";
/// A change smaller than this fraction of the earlier value reads as flat.
pub const FLAT_TOLERANCE: f64 = 0.02;
/// Eval runs of a suite looked at for the latest two completed ones.
const EVAL_RUNS_SCANNED: u32 = 50;

/// `[[objectives]]` as written; every field optional so that every problem is reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObjective {
    pub name: Option<String>,
    pub metric: Option<String>,
    pub target: Option<f64>,
    pub window: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// An API key id.
    pub key: Option<String>,
    /// The feedback name, for `feedback_avg`.
    pub feedback: Option<String>,
    /// The eval suite, for `eval_metric`.
    pub suite: Option<String>,
    /// `EVALUATOR` (its main metric) or `EVALUATOR.METRIC`, for `eval_metric`.
    pub eval_metric: Option<String>,
}

/// What an objective measures.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectiveMetric {
    LatencyP95Ms,
    LatencyP99Ms,
    /// Errors over requests, 0 to 1.
    ErrorRate,
    /// USD per 1000 requests.
    CostPer1kRequests,
    TtftP95Ms,
    /// The mean of a feedback name's numeric values (true = 1).
    FeedbackAvg {
        feedback: String,
    },
    /// A metric of the latest completed run of an eval suite.
    EvalMetric {
        suite: String,
        metric: String,
    },
}

/// The metric names `metric` accepts.
pub const METRIC_NAMES: [&str; 7] = [
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "cost_per_1k_requests",
    "ttft_p95_ms",
    "feedback_avg",
    "eval_metric",
];

impl ObjectiveMetric {
    /// The name used in the config and the API.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveMetric::LatencyP95Ms => "latency_p95_ms",
            ObjectiveMetric::LatencyP99Ms => "latency_p99_ms",
            ObjectiveMetric::ErrorRate => "error_rate",
            ObjectiveMetric::CostPer1kRequests => "cost_per_1k_requests",
            ObjectiveMetric::TtftP95Ms => "ttft_p95_ms",
            ObjectiveMetric::FeedbackAvg { .. } => "feedback_avg",
            ObjectiveMetric::EvalMetric { .. } => "eval_metric",
        }
    }

    /// Quality scores are met at or above the target; latency, errors and cost at or below.
    pub fn higher_is_better(&self) -> bool {
        matches!(self, ObjectiveMetric::FeedbackAvg { .. } | ObjectiveMetric::EvalMetric { .. })
    }
}

/// A validated objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub name: String,
    pub metric: ObjectiveMetric,
    pub target: f64,
    pub window: Duration,
    pub model: Option<String>,
    pub prompt: Option<String>,
    /// An API key id.
    pub key: Option<String>,
}

/// Checks `[[objectives]]`, adding every problem found to `problems`.
pub fn validate(raw: &[RawObjective], problems: &mut Vec<String>) -> Vec<Objective> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, o) in raw.iter().enumerate() {
        let scope = match o.name.as_deref() {
            Some(name) => format!("objectives[{i}] ('{name}')"),
            None => format!("objectives[{i}]"),
        };
        let before = problems.len();
        let name = o.name.clone().unwrap_or_default();
        if name.trim().is_empty() {
            problems.push(format!("{scope}.name is missing"));
        } else if !seen.insert(name.clone()) {
            problems.push(format!("{scope}: the name is defined twice"));
        }
        let metric = match o.metric.as_deref() {
            None => {
                problems.push(format!("{scope}.metric is missing (one of {})", METRIC_NAMES.join(", ")));
                None
            }
            Some(m) => metric(&scope, m, o, problems),
        };
        let feedback_or_eval =
            matches!(metric, Some(ObjectiveMetric::FeedbackAvg { .. } | ObjectiveMetric::EvalMetric { .. }));
        let named = o.metric.as_deref();
        if o.feedback.is_some() && named.is_some_and(|m| m != "feedback_avg") {
            problems.push(format!("{scope}.feedback applies only to metric = \"feedback_avg\""));
        }
        for (field, value) in [("suite", &o.suite), ("eval_metric", &o.eval_metric)] {
            if value.is_some() && named.is_some_and(|m| m != "eval_metric") {
                problems.push(format!("{scope}.{field} applies only to metric = \"eval_metric\""));
            }
        }
        let target = match o.target {
            None => {
                problems.push(format!("{scope}.target is missing"));
                0.0
            }
            Some(t) if !t.is_finite() => {
                problems.push(format!("{scope}.target must be a finite number"));
                0.0
            }
            Some(t) => t,
        };
        if !feedback_or_eval && metric.is_some() && target < 0.0 {
            problems.push(format!("{scope}.target must not be negative"));
        }
        if metric == Some(ObjectiveMetric::ErrorRate) && target > 1.0 {
            problems.push(format!("{scope}.target of error_rate is a fraction from 0 to 1, got {target}"));
        }
        let window_text = o.window.clone().unwrap_or_else(|| DEFAULT_WINDOW.to_string());
        let window = match parse_window(&window_text) {
            Ok(w) => w,
            Err(e) => {
                problems.push(format!("{scope}.window: {e}"));
                Duration::from_secs(86_400)
            }
        };
        for (field, value) in [("model", &o.model), ("prompt", &o.prompt), ("key", &o.key)] {
            match value {
                Some(v) if v.trim().is_empty() => problems.push(format!("{scope}.{field} must not be empty")),
                Some(_) if named == Some("eval_metric") => {
                    problems.push(format!("{scope}.{field}: an eval_metric objective is scoped by its suite"))
                }
                _ => {}
            }
        }
        if let (Some(metric), true) = (metric, problems.len() == before) {
            out.push(Objective {
                name,
                metric,
                target,
                window,
                model: o.model.clone(),
                prompt: o.prompt.clone(),
                key: o.key.clone(),
            });
        }
    }
    out
}

fn metric(scope: &str, name: &str, o: &RawObjective, problems: &mut Vec<String>) -> Option<ObjectiveMetric> {
    let named = |field: &str, value: &Option<String>, problems: &mut Vec<String>| match value {
        Some(v) if !v.trim().is_empty() => Some(v.clone()),
        _ => {
            problems.push(format!("{scope}: metric = \"{name}\" needs {field} = \"...\""));
            None
        }
    };
    match name {
        "latency_p95_ms" => Some(ObjectiveMetric::LatencyP95Ms),
        "latency_p99_ms" => Some(ObjectiveMetric::LatencyP99Ms),
        "error_rate" => Some(ObjectiveMetric::ErrorRate),
        "cost_per_1k_requests" => Some(ObjectiveMetric::CostPer1kRequests),
        "ttft_p95_ms" => Some(ObjectiveMetric::TtftP95Ms),
        "feedback_avg" => {
            named("feedback", &o.feedback, problems).map(|feedback| ObjectiveMetric::FeedbackAvg { feedback })
        }
        "eval_metric" => {
            let suite = named("suite", &o.suite, problems);
            let metric = named("eval_metric", &o.eval_metric, problems);
            Some(ObjectiveMetric::EvalMetric { suite: suite?, metric: metric? })
        }
        other => {
            problems.push(format!("{scope}.metric '{other}' is unknown (one of {})", METRIC_NAMES.join(", ")));
            None
        }
    }
}

/// Which way a value moved against its previous window.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Improving,
    Worsening,
    Flat,
    /// Either window had no data.
    Unknown,
}

impl Trend {
    /// The name as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Improving => "improving",
            Trend::Worsening => "worsening",
            Trend::Flat => "flat",
            Trend::Unknown => "unknown",
        }
    }
}

/// Where an objective stands.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ObjectiveStatus {
    pub name: String,
    pub metric: String,
    pub target: f64,
    /// The window, e.g. "24h".
    pub window: String,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub key: Option<String>,
    /// The feedback name of a feedback_avg objective.
    pub feedback: Option<String>,
    /// The suite and metric of an eval_metric objective.
    pub suite: Option<String>,
    pub eval_metric: Option<String>,
    /// "at_most" (latency, errors, cost) or "at_least" (feedback, evals).
    pub direction: String,
    /// The value over the window ending now (the latest eval run); `None` without data.
    pub value: Option<f64>,
    /// Whether the value meets the target; `None` without data.
    pub met: Option<bool>,
    /// The value over the same window just before (the eval run before the latest).
    pub previous_value: Option<f64>,
    pub trend: Trend,
    /// Requests, feedback values or scored eval items the value is computed from.
    pub samples: u64,
}

/// How `value` moved from `previous`, for a metric where higher is better or not.
pub fn trend(value: Option<f64>, previous: Option<f64>, higher_is_better: bool) -> Trend {
    let (Some(v), Some(p)) = (value, previous) else { return Trend::Unknown };
    let scale = p.abs().max(v.abs());
    if scale == 0.0 || (v - p).abs() <= FLAT_TOLERANCE * scale {
        return Trend::Flat;
    }
    if (v > p) == higher_is_better {
        Trend::Improving
    } else {
        Trend::Worsening
    }
}

/// A value and how many samples it came from.
type Measured = (Option<f64>, u64);

fn traffic_value(metric: &ObjectiveMetric, totals: &Totals) -> Measured {
    let value = match metric {
        ObjectiveMetric::LatencyP95Ms => totals.latency.quantile(0.95),
        ObjectiveMetric::LatencyP99Ms => totals.latency.quantile(0.99),
        ObjectiveMetric::ErrorRate => totals.error_rate(),
        ObjectiveMetric::CostPer1kRequests => {
            (totals.requests > 0).then(|| totals.cost_usd / totals.requests as f64 * 1000.0)
        }
        ObjectiveMetric::TtftP95Ms => totals.ttft.quantile(0.95),
        ObjectiveMetric::FeedbackAvg { .. } | ObjectiveMetric::EvalMetric { .. } => None,
    };
    let samples = if *metric == ObjectiveMetric::TtftP95Ms { totals.ttft.count() } else { totals.requests };
    (value, samples)
}

/// A metric of a run: `EVALUATOR` is its main metric, `EVALUATOR.METRIC` a named one, and a
/// bare metric name the first evaluator that reports it.
fn eval_value(run: &EvalRun, metric: &str) -> Measured {
    let found = run.summaries.iter().find_map(|s| {
        if s.evaluator == metric {
            return s.metrics.get(&s.main).map(|v| (*v, s.scored));
        }
        let (evaluator, name) = metric.split_once('.')?;
        (s.evaluator == evaluator).then(|| s.metrics.get(name).map(|v| (*v, s.scored)))?
    });
    let found = found.or_else(|| run.summaries.iter().find_map(|s| s.metrics.get(metric).map(|v| (*v, s.scored))));
    match found {
        Some((value, scored)) => (Some(value), u64::from(scored)),
        None => (None, 0),
    }
}

/// The current and previous value of one objective as of `now`.
async fn measure(store: &dyn Store, o: &Objective, now: DateTime<Utc>) -> Result<(Measured, Measured), AnalyticsError> {
    let end = ceil_minute(now);
    let window_seconds = o.window.as_secs().div_ceil(60).max(1) * 60;
    let window = ChronoDuration::seconds(i64::try_from(window_seconds).unwrap_or(86_400));
    match &o.metric {
        ObjectiveMetric::FeedbackAvg { feedback } => {
            let scope = FeedbackScope { model: o.model.clone(), prompt: o.prompt.clone(), api_key_id: o.key.clone() };
            let now_mean = store.feedback_mean(feedback, end - window, end, &scope).await?;
            let before = store.feedback_mean(feedback, end - window * 2, end - window, &scope).await?;
            Ok(((now_mean.mean, now_mean.count), (before.mean, before.count)))
        }
        ObjectiveMetric::EvalMetric { suite, metric } => {
            let runs = store.list_eval_runs(Some(suite), EVAL_RUNS_SCANNED).await?;
            let mut completed = runs.iter().filter(|r| r.status == EvalRunStatus::Completed);
            let latest = completed.next().map_or((None, 0), |r| eval_value(r, metric));
            let previous = completed.next().map_or((None, 0), |r| eval_value(r, metric));
            Ok((latest, previous))
        }
        traffic => {
            // Two buckets of one window each: the one before, then the current one.
            let query = RollupQuery {
                start: end - window * 2,
                bucket_seconds: window_seconds,
                buckets: 2,
                model: o.model.clone(),
                prompt: o.prompt.clone(),
                api_key_id: o.key.clone(),
                group: RollupGroup::Total,
            };
            let mut windows = [Totals::default(), Totals::default()];
            for cell in store.rollups(&query).await? {
                if let Some(w) = windows.get_mut(cell.bucket as usize) {
                    w.add(&cell);
                }
            }
            Ok((traffic_value(traffic, &windows[1]), traffic_value(traffic, &windows[0])))
        }
    }
}

/// The status of every objective as of `now`, in the config's order.
pub async fn objective_statuses(
    store: &dyn Store,
    objectives: &[Objective],
    now: DateTime<Utc>,
) -> Result<Vec<ObjectiveStatus>, AnalyticsError> {
    let mut out = Vec::with_capacity(objectives.len());
    for o in objectives {
        let ((value, samples), (previous_value, _)) = measure(store, o, now).await?;
        let higher = o.metric.higher_is_better();
        let (feedback, suite, eval_metric) = match &o.metric {
            ObjectiveMetric::FeedbackAvg { feedback } => (Some(feedback.clone()), None, None),
            ObjectiveMetric::EvalMetric { suite, metric } => (None, Some(suite.clone()), Some(metric.clone())),
            _ => (None, None, None),
        };
        out.push(ObjectiveStatus {
            name: o.name.clone(),
            metric: o.metric.name().to_string(),
            target: o.target,
            window: format_window(o.window),
            model: o.model.clone(),
            prompt: o.prompt.clone(),
            key: o.key.clone(),
            feedback,
            suite,
            eval_metric,
            direction: if higher { "at_least" } else { "at_most" }.to_string(),
            value,
            met: value.map(|v| if higher { v >= o.target } else { v <= o.target }),
            previous_value,
            trend: trend(value, previous_value, higher),
            samples,
        });
    }
    Ok(out)
}
