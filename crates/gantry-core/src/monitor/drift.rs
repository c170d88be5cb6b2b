//! The drift report: which calls each window holds, and the comparison of the two.

use super::components::{self, Pair, MIN_SAMPLES};
use super::embed::TextEmbedder;
use super::features::{self, Observation};
use super::{DriftComponent, DriftError, DriftLevel, DriftReport, SkippedComponent, WindowInfo};
use crate::analytics::{format_window, parse_window};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gantry_store::{Store, TrafficSample, TrafficSource};
use gantry_types::{TraceId, DEFAULT_ENVIRONMENT};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// The recent window unless asked otherwise.
pub const DEFAULT_RECENT_WINDOW: Duration = Duration::from_secs(86_400);
/// Without a baseline named, the recent window is compared with the 7 days before it.
pub const DEFAULT_BASELINE_SPAN: Duration = Duration::from_secs(7 * 86_400);
/// A release's baseline is its first day of traffic.
pub const RELEASE_BASELINE_SPAN: Duration = Duration::from_secs(86_400);
/// Calls read per window: the newest this many, so a busy route's check stays fast.
pub const DEFAULT_MAX_TRACES: u32 = 2000;
/// The most a query may read per window.
pub const MAX_TRACES_LIMIT: u32 = 20_000;
/// Inputs embedded per window (spread evenly over the calls read): MiniLM embeds ~250 short
/// texts a second on two cores, and clusters of 8 need a few hundred points, not thousands.
pub const DEFAULT_MAX_EMBEDDED: usize = 500;

/// What the recent calls are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// The same route's (or model's) calls in `[since, until)`.
    Window { since: DateTime<Utc>, until: DateTime<Utc> },
    /// The calls a release answered in its first day ([`RELEASE_BASELINE_SPAN`]).
    Release(u32),
    /// The examples of a dataset version (the newest when `None`).
    Dataset { name: String, version: Option<u32> },
}

/// Whether the target named a deployed route or a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftTarget {
    Route,
    Model,
}

/// A drift check, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftQuery {
    /// A deployed route, else a model name as clients request it.
    pub target: String,
    /// Only calls in this environment (routes only).
    pub environment: Option<String>,
    /// The recent window.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub baseline: Baseline,
    /// Calls read per window, newest first.
    pub max_traces: u32,
    /// Inputs embedded per window.
    pub max_embedded: usize,
}

impl DriftQuery {
    /// The last 24 hours of `target` against the 7 days before.
    pub fn last_day(target: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self::last(target, DEFAULT_RECENT_WINDOW, now)
    }

    /// The `window` ending at `now` against the 7 days before it, e.g. for an alert rule.
    pub fn last(target: impl Into<String>, window: Duration, now: DateTime<Utc>) -> Self {
        let since = now - chrono_duration(window);
        Self {
            target: target.into(),
            environment: None,
            since,
            until: now,
            baseline: Baseline::Window { since: since - chrono_duration(DEFAULT_BASELINE_SPAN), until: since },
            max_traces: DEFAULT_MAX_TRACES,
            max_embedded: DEFAULT_MAX_EMBEDDED,
        }
    }
}

/// Just the score of [`drift_report`], for a monitor that compares it with a threshold:
/// `None` while a window holds too few calls to say (a rule on it should neither fire nor
/// resolve on a guess).
pub async fn drift_score(
    store: &dyn Store,
    embedder: Option<&dyn TextEmbedder>,
    query: &DriftQuery,
) -> Result<Option<f64>, DriftError> {
    match drift_report(store, embedder, query).await {
        Ok(report) => Ok(Some(report.score)),
        Err(DriftError::InsufficientData { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the baseline of a report was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineInfo {
    /// `window`, `release` or `dataset`.
    pub kind: String,
    /// For people, e.g. "release 3 in production, its first 24h".
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Calls (or dataset examples) read.
    pub samples: u64,
    /// Whether there were more than the cap.
    pub capped: bool,
}

/// A drift check's options as text, from the command line or a query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DriftParams {
    /// `--env`: only this environment's calls.
    pub env: Option<String>,
    /// `--window`: the recent window, e.g. `1h`, `24h`, `7d` (default 24h).
    pub window: Option<String>,
    /// An RFC 3339 time, or a window such as `8d` meaning that long ago.
    pub baseline_since: Option<String>,
    /// As `baseline_since`; defaults to the start of the recent window.
    pub baseline_until: Option<String>,
    /// A release number of the route.
    pub baseline_release: Option<String>,
    /// `NAME@VERSION` or `NAME` (its newest version).
    pub baseline_dataset: Option<String>,
}

fn chrono_duration(d: Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::days(1))
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// An instant: RFC 3339, or a window meaning that long before `now`.
fn parse_instant(text: &str, now: DateTime<Utc>, param: &'static str) -> Result<DateTime<Utc>, DriftError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    match parse_window(text) {
        Ok(ago) => Ok(now - chrono_duration(ago)),
        Err(_) => Err(DriftError::InvalidParameter {
            message: format!(
                "{param} '{text}' is neither an RFC 3339 time (2026-03-01T12:00:00Z) nor a time ago such as 8d or 36h"
            ),
            param,
        }),
    }
}

impl DriftParams {
    /// The query these options describe for `target`, with the recent window ending at `now`.
    pub fn into_query(self, target: &str, now: DateTime<Utc>) -> Result<DriftQuery, DriftError> {
        let window = match non_empty(self.window) {
            Some(w) => parse_window(&w).map_err(|e| DriftError::window(e, "window"))?,
            None => DEFAULT_RECENT_WINDOW,
        };
        let since = now - chrono_duration(window);
        let (b_since, b_until) = (non_empty(self.baseline_since), non_empty(self.baseline_until));
        let (release, dataset) = (non_empty(self.baseline_release), non_empty(self.baseline_dataset));
        let named = [b_since.is_some() || b_until.is_some(), release.is_some(), dataset.is_some()];
        if named.iter().filter(|n| **n).count() > 1 {
            return Err(DriftError::InvalidParameter {
                message: "name one baseline: a window (baseline_since/baseline_until), a release \
                          (baseline_release) or a dataset (baseline_dataset)"
                    .into(),
                param: "baseline_release",
            });
        }
        let baseline = if let Some(text) = release {
            let number = text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| DriftError::InvalidParameter {
                message: format!("baseline_release must be a release number (1, 2, ...), got '{text}'"),
                param: "baseline_release",
            })?;
            Baseline::Release(number)
        } else if let Some(text) = dataset {
            let (name, version) = match text.split_once('@') {
                None => (text.clone(), None),
                Some((name, v)) => {
                    let version =
                        v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| DriftError::InvalidParameter {
                            message: format!("baseline_dataset '{text}': the version must be a number (NAME@3)"),
                            param: "baseline_dataset",
                        })?;
                    (name.to_string(), Some(version))
                }
            };
            if name.is_empty() {
                return Err(DriftError::InvalidParameter {
                    message: format!("baseline_dataset '{text}' names no dataset"),
                    param: "baseline_dataset",
                });
            }
            Baseline::Dataset { name, version }
        } else {
            let until = match b_until {
                Some(t) => parse_instant(&t, now, "baseline_until")?,
                None => since,
            };
            let b_since = match b_since {
                Some(t) => parse_instant(&t, now, "baseline_since")?,
                None => until - chrono_duration(DEFAULT_BASELINE_SPAN),
            };
            if b_since >= until {
                return Err(DriftError::InvalidParameter {
                    message: format!("the baseline must end after it starts ({b_since} to {until})"),
                    param: "baseline_since",
                });
            }
            Baseline::Window { since: b_since, until }
        };
        Ok(DriftQuery {
            target: target.trim().to_string(),
            environment: non_empty(self.env),
            since,
            until: now,
            baseline,
            max_traces: DEFAULT_MAX_TRACES,
            max_embedded: DEFAULT_MAX_EMBEDDED,
        })
    }
}

/// The calls of one window, newest first, and whether there were more.
struct Sampled {
    observations: Vec<Observation>,
    capped: bool,
}

async fn sample(
    store: &dyn Store,
    source: TrafficSource,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    max: u32,
) -> Result<Sampled, DriftError> {
    // One more than the cap tells whether the window held more.
    let limit = max.saturating_add(1);
    let mut traces = store.sample_traffic(&TrafficSample { source, since, until, limit }).await?;
    let capped = traces.len() > max as usize;
    traces.truncate(max as usize);
    Ok(Sampled { observations: traces.iter().map(features::from_trace).collect(), capped })
}

async fn resolve_target(store: &dyn Store, query: &DriftQuery) -> Result<DriftTarget, DriftError> {
    let deployments = store.list_deployments().await?;
    let mut of_route = deployments.iter().filter(|d| d.route == query.target).peekable();
    if of_route.peek().is_none() {
        if query.environment.is_some() {
            return Err(DriftError::NotFound {
                message: format!("no route '{}' is deployed (an environment applies to routes only)", query.target),
                param: "route",
            });
        }
        return Ok(DriftTarget::Model);
    }
    if let Some(env) = &query.environment {
        if !of_route.any(|d| &d.environment == env) {
            return Err(DriftError::NotFound {
                message: format!("route '{}' is not deployed in environment '{env}'", query.target),
                param: "env",
            });
        }
    }
    Ok(DriftTarget::Route)
}

fn check(query: &DriftQuery) -> Result<(), DriftError> {
    if query.target.is_empty() {
        return Err(DriftError::InvalidParameter { message: "name a route or model".into(), param: "route" });
    }
    if query.since >= query.until {
        return Err(DriftError::InvalidParameter {
            message: "the recent window must end after it starts".into(),
            param: "window",
        });
    }
    if !(1..=MAX_TRACES_LIMIT).contains(&query.max_traces) {
        return Err(DriftError::InvalidParameter {
            message: format!("max_traces must be from 1 to {MAX_TRACES_LIMIT}, got {}", query.max_traces),
            param: "max_traces",
        });
    }
    Ok(())
}

/// The baseline's observations and what they were.
async fn baseline(
    store: &dyn Store,
    query: &DriftQuery,
    target: DriftTarget,
    source: &TrafficSource,
) -> Result<(Sampled, BaselineInfo), DriftError> {
    let info = |kind: &str, description: String, since, until, s: &Sampled| BaselineInfo {
        kind: kind.to_string(),
        description,
        since,
        until,
        samples: s.observations.len() as u64,
        capped: s.capped,
    };
    match &query.baseline {
        Baseline::Window { since, until } => {
            let s = sample(store, source.clone(), *since, *until, query.max_traces).await?;
            let span = format_window((*until - *since).to_std().unwrap_or_default());
            let what = format!("the {span} before {}", until.format("%Y-%m-%d %H:%M UTC"));
            let described = info("window", what, Some(*since), Some(*until), &s);
            Ok((s, described))
        }
        Baseline::Release(number) => {
            if target != DriftTarget::Route {
                return Err(DriftError::InvalidParameter {
                    message: format!("'{}' is not a deployed route, so it has no releases", query.target),
                    param: "baseline_release",
                });
            }
            let env = query.environment.as_deref().unwrap_or(DEFAULT_ENVIRONMENT);
            let release =
                store.get_release(&query.target, env, *number).await?.ok_or_else(|| DriftError::NotFound {
                    message: format!("route '{}' has no release {number} in environment '{env}'", query.target),
                    param: "baseline_release",
                })?;
            let (since, until) = (release.created_at, release.created_at + chrono_duration(RELEASE_BASELINE_SPAN));
            let source = TrafficSource::Route {
                route: query.target.clone(),
                environment: Some(env.to_string()),
                release: Some(*number),
            };
            let s = sample(store, source, since, until, query.max_traces).await?;
            let what = format!("release {number} ({}) in {env}, its first 24h", release.target);
            let described = info("release", what, Some(since), Some(until), &s);
            Ok((s, described))
        }
        Baseline::Dataset { name, version } => {
            let found = store.get_dataset_version(name, *version).await?.ok_or_else(|| DriftError::NotFound {
                message: match version {
                    Some(v) => format!("dataset '{name}' has no version {v}"),
                    None => format!("no dataset '{name}'"),
                },
                param: "baseline_dataset",
            })?;
            let items = store.dataset_items(name, found.version, 0, Some(u64::from(query.max_traces))).await?;
            let s = Sampled {
                observations: items.iter().map(|i| features::from_dataset_item(&i.item)).collect(),
                capped: found.items > u64::from(query.max_traces),
            };
            let what = format!("dataset {name}@{} ({} examples)", found.version, found.items);
            let described = info("dataset", what, None, None, &s);
            Ok((s, described))
        }
    }
}

/// Up to `max` items spread evenly over `items`.
fn spread<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max || max == 0 {
        return items.to_vec();
    }
    (0..max).map(|i| items[i * items.len() / max].clone()).collect()
}

async fn embedding_components(
    embedder: &dyn TextEmbedder,
    baseline: &[Observation],
    recent: &[Observation],
    max: usize,
) -> Result<[DriftComponent; 2], SkippedComponent> {
    let inputs = |o: &[Observation]| spread(&o.iter().filter_map(|o| o.input.clone()).collect::<Vec<_>>(), max);
    let (b, r) = (inputs(baseline), inputs(recent));
    let skip = |reason: String| SkippedComponent {
        name: "input_topics".into(),
        label: "input topics and meaning (embeddings)".into(),
        reason,
    };
    if b.len() < MIN_SAMPLES || r.len() < MIN_SAMPLES {
        return Err(skip(format!(
            "too few inputs to compare: {} in the baseline, {} recent (at least {MIN_SAMPLES} each)",
            b.len(),
            r.len()
        )));
    }
    let split = b.len();
    let texts: Vec<String> = b.into_iter().chain(r).collect();
    let count = texts.len();
    let vectors = embedder.embed(texts).await.map_err(|e| {
        tracing::warn!(error = %e, "drift: input embeddings failed; the report goes on without them");
        skip(format!("embedding failed: {e}"))
    })?;
    if vectors.len() != count {
        return Err(skip(format!("the embedder returned {} vectors for {count} inputs", vectors.len())));
    }
    let (bv, rv) = vectors.split_at(split);
    Ok(components::embeddings(&embedder.model(), bv, rv))
}

/// Scores per trace, for the windows' traces.
async fn scores_by_trace(
    store: &dyn Store,
    observations: &[Observation],
) -> Result<HashMap<TraceId, Vec<(String, f64)>>, DriftError> {
    let ids: Vec<TraceId> = observations.iter().filter_map(|o| o.trace_id).collect();
    let mut out: HashMap<TraceId, Vec<(String, f64)>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for score in store.trace_scores(&ids).await? {
        out.entry(score.trace_id).or_default().push((score.name, score.value));
    }
    Ok(out)
}

/// How far `query`'s recent calls have drifted from its baseline. `embedder` compares the
/// inputs' meaning; without one (or when it fails) the other components still report.
pub async fn drift_report(
    store: &dyn Store,
    embedder: Option<&dyn TextEmbedder>,
    query: &DriftQuery,
) -> Result<DriftReport, DriftError> {
    check(query)?;
    let target = resolve_target(store, query).await?;
    // A release lives in one environment: without one named, the recent calls are read from
    // the environment the release is looked up in, so both sides run in the same place.
    let mut query = query.clone();
    if matches!(query.baseline, Baseline::Release(_)) && target == DriftTarget::Route {
        query.environment.get_or_insert_with(|| DEFAULT_ENVIRONMENT.to_string());
    }
    let query = &query;
    let source = match target {
        DriftTarget::Route => {
            TrafficSource::Route { route: query.target.clone(), environment: query.environment.clone(), release: None }
        }
        DriftTarget::Model => TrafficSource::Model(query.target.clone()),
    };
    let recent = sample(store, source.clone(), query.since, query.until, query.max_traces).await?;
    let (base, baseline_info) = baseline(store, query, target, &source).await?;
    let (b, r) = (&base.observations, &recent.observations);
    let from_calls = !matches!(query.baseline, Baseline::Dataset { .. });
    if target == DriftTarget::Model && r.is_empty() && (b.is_empty() || !from_calls) {
        return Err(DriftError::NotFound {
            message: format!(
                "'{}' is neither a deployed route nor a model with calls in the recent window",
                query.target
            ),
            param: "route",
        });
    }
    for (window, found) in [("baseline", b.len()), ("recent window", r.len())] {
        if found < MIN_SAMPLES {
            return Err(DriftError::InsufficientData {
                target: query.target.clone(),
                window,
                found: found as u64,
                needed: MIN_SAMPLES as u64,
            });
        }
    }

    let mut found: Vec<DriftComponent> = Vec::new();
    let mut skipped: Vec<SkippedComponent> = Vec::new();
    let mut keep = |c: Result<DriftComponent, SkippedComponent>| match c {
        Ok(c) => found.push(c),
        Err(s) => skipped.push(s),
    };
    let answers = |f: fn(&Observation) -> Option<bool>| Pair::of(b, r, f);
    keep(components::distribution(
        "input_length",
        "input length",
        "chars",
        &Pair::of(b, r, Observation::input_chars),
        false,
    ));
    keep(components::distribution(
        "output_length",
        "output length",
        "chars",
        &Pair::of(b, r, Observation::output_chars),
        false,
    ));
    keep(components::rate("refusal_rate", "refusal rate", "answers", &answers(Observation::refused)));
    keep(components::rate("json_validity", "JSON validity", "JSON answers", &answers(Observation::json_valid)));
    let no_calls = |name: &str, label: &str| SkippedComponent {
        name: name.into(),
        label: label.into(),
        reason: "a dataset baseline has no calls to compare with".into(),
    };
    if from_calls {
        keep(components::rate("guardrail_hit_rate", "guardrail hit rate", "calls", &answers(|o| o.guardrail_hit)));
        keep(components::rate("error_rate", "error rate", "calls", &answers(|o| o.failed)));
        let (found_scores, skipped_scores) =
            components::scores(&scores_by_trace(store, b).await?, &scores_by_trace(store, r).await?);
        found.extend(found_scores);
        skipped.extend(skipped_scores);
    } else {
        skipped.push(no_calls("guardrail_hit_rate", "guardrail hit rate"));
        skipped.push(no_calls("error_rate", "error rate"));
        skipped.push(no_calls("scores", "feedback and online-eval scores"));
    }
    let mut embedding_model = None;
    if let Some(embedder) = embedder {
        embedding_model = Some(embedder.model());
        match embedding_components(embedder, b, r, query.max_embedded).await {
            Ok(pair) => found.extend(pair),
            Err(s) => skipped.push(s),
        }
    } else {
        skipped.push(SkippedComponent {
            name: "input_topics".into(),
            label: "input topics and meaning (embeddings)".into(),
            reason: "no embedding model is available".into(),
        });
    }

    found.sort_by(|x, y| y.contribution.total_cmp(&x.contribution).then_with(|| x.name.cmp(&y.name)));
    // The score is the largest contribution, not an average: one aspect that moved a lot is
    // what needs attention, and averaging would hide it among the ones that held still. The
    // contributions share PSI's scale with chance removed, so their maximum reads the same way.
    let score = found.first().map_or(0.0, |c| c.contribution);
    let top_component = found.first().filter(|c| c.contribution > 0.0).map(|c| c.name.clone());
    Ok(DriftReport {
        target: query.target.clone(),
        target_kind: match target {
            DriftTarget::Route => "route",
            DriftTarget::Model => "model",
        }
        .to_string(),
        environment: query.environment.clone(),
        recent: WindowInfo { since: query.since, until: query.until, traces: r.len() as u64, capped: recent.capped },
        baseline: baseline_info,
        score,
        level: DriftLevel::of(score),
        top_component,
        components: found,
        skipped,
        embedding_model,
        generated_at: Utc::now(),
    })
}
