//! Online evaluation: any reference-free evaluator of an eval suite (regex, contains with a
//! value, JSON validity and schema, LLM-as-judge) run on a sample of live chat traces in the
//! background, each score stored on its trace as feedback by `online:NAME`, so the canary
//! comparison, the experiment statistics and adaptive weights see it like user feedback.
//!
//! The worker reads finished root traces (a judge's own calls are spans under the trace it
//! scores, so they are never scored themselves), a few seconds behind the present so the
//! trace writer's batches have landed.

use crate::datasets::item_from_trace;
use crate::runs::{EvalError, EvaluatorConfig, EvaluatorKind, Scorers};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gantry_core::Gateway;
use gantry_types::{Feedback, FeedbackValue, TraceFilter, TraceId, TraceRecord, TraceStatus};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The author prefix of stored online scores.
pub const ONLINE_AUTHOR_PREFIX: &str = "online:";

/// How far behind the present the worker reads: later traces may still be in the writer's queue.
const SETTLE: ChronoDuration = ChronoDuration::seconds(3);

/// Traces read per poll; a busier window is worked through over several polls.
const PAGE: u32 = 200;

/// One `[[online_evaluators]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineEvaluatorConfig {
    /// Share of the matching traces scored, 0 to 1 (default 1).
    #[serde(default = "everything")]
    pub sample: f64,
    /// Only traces of this deployed route (with `model` too, both must match).
    #[serde(default)]
    pub route: Option<String>,
    /// Only traces that asked for this model.
    #[serde(default)]
    pub model: Option<String>,
    /// The evaluator, as in an eval suite.
    pub evaluator: EvaluatorConfig,
}

fn everything() -> f64 {
    1.0
}

impl OnlineEvaluatorConfig {
    /// Whether `trace` is one this evaluator looks at: a finished chat call of its route or
    /// model, inside its sample. The sample is drawn from a stable hash of the trace id, so a
    /// restart makes the same choice.
    pub fn selects(&self, trace: &TraceRecord) -> bool {
        let route_ok = self.route.as_ref().is_none_or(|r| trace.deployment.as_ref().is_some_and(|d| &d.route == r));
        let model_ok = self.model.as_ref().is_none_or(|m| &trace.requested_model == m);
        let position = gantry_core::deploy::stable_fraction(&[&trace.id.to_string()]);
        route_ok && model_ok && position < self.sample
    }
}

/// A judge's score on its own scale (e.g. 1-5) as a share in 0..1, so online scores compare
/// with thumbs and can drive canary bounds and adaptive experiments; other evaluators
/// already score 0..1.
fn normalised(kind: &EvaluatorKind, value: f64) -> f64 {
    match kind {
        EvaluatorKind::LlmJudge { min, max, .. } if max > min => ((value - min) / (max - min)).clamp(0.0, 1.0),
        _ => value,
    }
}

/// Parses and checks `[[online_evaluators]]` (kept raw by the core config); every problem at once.
pub fn parse_configs(raw: &[serde_json::Value]) -> Result<Vec<OnlineEvaluatorConfig>, EvalError> {
    let mut problems = Vec::new();
    let mut configs = Vec::new();
    for (i, value) in raw.iter().enumerate() {
        match serde_json::from_value::<OnlineEvaluatorConfig>(value.clone()) {
            Ok(config) => {
                let name = &config.evaluator.name;
                if !(0.0..=1.0).contains(&config.sample) {
                    problems.push(format!("online_evaluators[{i}] '{name}': sample is a share in 0..1"));
                }
                if config.evaluator.kind.needs_expected() {
                    problems.push(format!(
                        "online_evaluators[{i}] '{name}': this evaluator compares with an expected output, \
                         which live traffic does not have; use regex, contains (with value), json_valid, \
                         json_schema or llm_judge"
                    ));
                }
                match &config.evaluator.kind {
                    EvaluatorKind::Regex { pattern } => {
                        if let Err(e) = crate::metrics::compile_regex(pattern) {
                            problems.push(format!("online_evaluators[{i}] '{name}': {e}"));
                        }
                    }
                    EvaluatorKind::JsonSchema { schema } => {
                        if let Err(e) = crate::metrics::JsonSchemaValidator::new(schema) {
                            problems.push(format!("online_evaluators[{i}] '{name}': {e}"));
                        }
                    }
                    EvaluatorKind::LlmJudge { min, max, .. } if min >= max || min.is_nan() || max.is_nan() => {
                        problems.push(format!(
                            "online_evaluators[{i}] '{name}': the judge's min {min} must be below its max {max}"
                        ));
                    }
                    _ => {}
                }
                if configs.iter().any(|c: &OnlineEvaluatorConfig| &c.evaluator.name == name) {
                    problems.push(format!("online_evaluators[{i}]: the name '{name}' is used twice"));
                }
                configs.push(config);
            }
            Err(e) => problems.push(format!("online_evaluators[{i}]: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(configs)
    } else {
        Err(EvalError::InvalidOnlineEvaluators(problems.join("; ")))
    }
}

/// The evaluators, prepared once, and where the worker has read up to.
pub struct OnlineEvaluation {
    gateway: Arc<Gateway>,
    evaluators: Vec<(OnlineEvaluatorConfig, Scorers)>,
    checkpoint: DateTime<Utc>,
    /// Traces already scored at the checkpoint's exact time (the next read includes it).
    at_checkpoint: HashSet<TraceId>,
}

impl OnlineEvaluation {
    /// Prepares the evaluators (compiling patterns, resolving judge prompts); traffic from
    /// `since` on is scored.
    pub async fn new(
        gateway: Arc<Gateway>,
        configs: Vec<OnlineEvaluatorConfig>,
        since: DateTime<Utc>,
    ) -> Result<Self, EvalError> {
        let mut evaluators = Vec::with_capacity(configs.len());
        for config in configs {
            let scorers = Scorers::prepare(std::slice::from_ref(&config.evaluator), &gateway).await?;
            evaluators.push((config, scorers));
        }
        Ok(Self { gateway, evaluators, checkpoint: since, at_checkpoint: HashSet::new() })
    }

    /// Scores the traces finished since the last poll; returns how many scores it stored.
    pub async fn poll(&mut self, now: DateTime<Utc>) -> Result<usize, EvalError> {
        let until = now - SETTLE;
        if until <= self.checkpoint {
            return Ok(0);
        }
        let store = self.gateway.store().clone();
        let filter = TraceFilter {
            limit: Some(PAGE),
            status: Some(TraceStatus::Ok),
            since: Some(self.checkpoint),
            until: Some(until),
            ..TraceFilter::default()
        };
        let mut traces = store.list_traces(&filter).await?;
        let full_page = traces.len() == PAGE as usize;
        // Newest first from the store; score oldest first so the checkpoint only moves forward.
        traces.reverse();
        let mut stored = 0;
        for trace in &traces {
            if self.at_checkpoint.contains(&trace.id) {
                continue;
            }
            stored += self.score_trace(trace).await?;
            if trace.started_at > self.checkpoint {
                self.checkpoint = trace.started_at;
                self.at_checkpoint.clear();
            }
            self.at_checkpoint.insert(trace.id);
        }
        if !full_page {
            // Everything up to `until` has been seen; nothing older can arrive any more.
            self.checkpoint = until;
            self.at_checkpoint.clear();
        }
        Ok(stored)
    }

    async fn score_trace(&self, trace: &TraceRecord) -> Result<usize, EvalError> {
        let chosen: Vec<&(OnlineEvaluatorConfig, Scorers)> =
            self.evaluators.iter().filter(|(config, _)| config.selects(trace)).collect();
        if chosen.is_empty() {
            return Ok(0);
        }
        let Some(mut item) = item_from_trace(trace) else { return Ok(0) };
        // The trace's answer is what is scored; live traffic has no reference to compare with.
        let Some(output) = item.expected.take().map(|v| gantry_types::value_text(&v)) else { return Ok(0) };
        let mut stored = 0;
        for (config, scorers) in chosen {
            for (name, score) in scorers.score(&item, &output, Some(trace.id)).await {
                let Some(value) = score.value else {
                    // Said at warn: a judge that never answers in a readable form is otherwise
                    // invisible (no score, nothing else to see).
                    tracing::warn!(trace = %trace.id, evaluator = %name,
                        error = score.error.as_deref().unwrap_or("no score"), "online evaluator gave no score");
                    continue;
                };
                let feedback = Feedback {
                    id: uuid::Uuid::now_v7(),
                    trace_id: trace.id,
                    name,
                    value: FeedbackValue::Number(normalised(&config.evaluator.kind, value)),
                    comment: score.reason,
                    author: format!("{ONLINE_AUTHOR_PREFIX}{}", config.evaluator.name),
                    created_at: Utc::now(),
                };
                self.gateway.store().insert_feedback(&feedback).await?;
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// Polls every `interval` until the task is aborted.
    pub fn spawn(mut self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.poll(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(scores = n, "online evaluators scored live traces"),
                    Err(e) => tracing::warn!(error = %e, "online evaluation pass failed"),
                }
            }
        })
    }
}
