//! Running a suite: the dataset version's items through the target, concurrently, each
//! result stored as it finishes (so a stopped run resumes where it stopped), then the
//! aggregates, the baseline and the gate.

use super::error::EvalError;
use super::gate::{self, MetricDelta};
use super::scoring::Scorers;
use super::suite::Suite;
use super::target::Target;
use crate::datasets::load_items;
use futures::StreamExt;
use gantry_core::{Chains, Gateway};
use gantry_types::{EvalItemResult, EvalRun, EvalRunStatus, StoredItem};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

/// Which earlier run the new one is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Baseline {
    /// The suite's last completed run, if any.
    #[default]
    Previous,
    /// A named run.
    Run(String),
    /// No comparison.
    None,
}

/// Told about a run's progress (the CLI draws a progress bar with it).
pub trait RunProgress: Send + Sync {
    /// `total` items, of which `done` were finished by an earlier attempt.
    fn started(&self, _total: u64, _done: u64) {}
    /// One more item finished; `failed` when its call failed.
    fn item_finished(&self, _failed: bool) {}
}

/// Progress nobody watches.
pub struct NoProgress;
impl RunProgress for NoProgress {}

/// A finished run with its comparison to the baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub run: EvalRun,
    pub deltas: Vec<MetricDelta>,
}

/// Runs suites on a gateway (models and prompts) and its chains.
pub struct Evaluation {
    gateway: Arc<Gateway>,
    chains: Arc<Chains>,
}

/// Splits `NAME@VERSION` (or `NAME`) into its parts.
pub fn parse_dataset_reference(reference: &str) -> Result<(&str, Option<u32>), EvalError> {
    let bad = |message: String| EvalError::InvalidSuite { source_name: "dataset".into(), message };
    match reference.rsplit_once('@') {
        None => Ok((reference, None)),
        Some((name, version)) => {
            let version = version
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| bad(format!("'{reference}': the version after @ must be a number ≥ 1")))?;
            Ok((name, Some(version)))
        }
    }
}

impl Evaluation {
    /// Evaluations over `gateway` and `chains`.
    pub fn new(gateway: Arc<Gateway>, chains: Arc<Chains>) -> Self {
        Self { gateway, chains }
    }

    /// The store runs are kept in.
    pub fn store(&self) -> &Arc<dyn gantry_store::Store> {
        self.gateway.store()
    }

    /// The configured model names.
    pub fn model_names(&self) -> Vec<String> {
        self.gateway.list_models().data.into_iter().map(|m| m.id).collect()
    }

    /// Runs `suite` (or resumes run `resume`), stores everything and returns the finished
    /// run with its gate verdict.
    pub async fn run(
        &self,
        suite: &Suite,
        baseline: Baseline,
        resume: Option<&str>,
        progress: &dyn RunProgress,
    ) -> Result<RunReport, EvalError> {
        let store = self.gateway.store().clone();
        let (dataset, version) = parse_dataset_reference(&suite.dataset)?;
        let (info, mut items) =
            load_items(store.as_ref(), dataset, version).await.map_err(|e| EvalError::Dataset(e.to_string()))?;
        if let Some(limit) = suite.limit {
            items.truncate(limit as usize);
        }
        let target = Target::resolve(&suite.target, &self.gateway).await?;
        for stored in &items {
            target.accepts(&stored.item.input).map_err(|message| EvalError::Target {
                target: target.describe(),
                message: format!("dataset {}@{} item {}: {message}", info.name, info.version, stored.index),
            })?;
        }
        let scorers = Scorers::prepare(&suite.evaluators, &self.gateway).await?;

        let mut run = match resume {
            Some(id) => self.resumable_run(id, suite, &info.name, info.version).await?,
            None => {
                let run = EvalRun {
                    id: uuid::Uuid::now_v7().to_string(),
                    suite: suite.name.clone(),
                    dataset: info.name.clone(),
                    dataset_version: info.version,
                    target: target.describe(),
                    config: serde_json::to_value(suite).unwrap_or_default(),
                    status: EvalRunStatus::Running,
                    created_at: chrono::Utc::now(),
                    finished_at: None,
                    items_total: u32::try_from(items.len()).unwrap_or(u32::MAX),
                    items_done: 0,
                    items_failed: 0,
                    summaries: Vec::new(),
                    gate: None,
                    baseline_run_id: None,
                };
                store.create_eval_run(&run).await?;
                run
            }
        };

        // A resumed run keeps the items that succeeded and retries the ones that failed.
        let finished: HashSet<u32> =
            store.eval_run_items(&run.id).await?.into_iter().filter(|r| r.error.is_none()).map(|r| r.index).collect();
        let pending: Vec<&StoredItem> = items.iter().filter(|s| !finished.contains(&s.index)).collect();
        progress.started(items.len() as u64, finished.len() as u64);
        tracing::info!(run = %run.id, suite = %suite.name, items = pending.len(), "eval run started");

        let mut results = futures::stream::iter(pending)
            .map(|stored| {
                let target = &target;
                let scorers = &scorers;
                async move {
                    let answer = target.call(&self.gateway, &self.chains, &stored.item.input).await;
                    let (output, error, scores) = match answer.output {
                        Ok(text) => {
                            let scores = scorers.score(&stored.item, &text, answer.trace_id).await;
                            (Some(text), None, scores)
                        }
                        Err(reason) => (None, Some(reason), Default::default()),
                    };
                    EvalItemResult {
                        index: stored.index,
                        output,
                        error,
                        scores,
                        trace_id: answer.trace_id,
                        latency_ms: answer.latency_ms,
                    }
                }
            })
            .buffer_unordered(suite.concurrency);
        while let Some(result) = results.next().await {
            store.record_eval_item(&run.id, &result).await?;
            progress.item_finished(result.error.is_some());
        }
        drop(results);

        let results = store.eval_run_items(&run.id).await?;
        run.summaries = scorers.summarize(&items, &results);
        run.items_done = u32::try_from(results.len()).unwrap_or(u32::MAX);
        run.items_failed = u32::try_from(results.iter().filter(|r| r.error.is_some()).count()).unwrap_or(u32::MAX);
        let baseline_run = self.baseline(&baseline, &run).await?;
        run.baseline_run_id = baseline_run.as_ref().map(|b| b.id.clone());
        run.gate = Some(gate::check(suite, &run.summaries, baseline_run.as_ref(), run.items_failed));
        run.status = EvalRunStatus::Completed;
        run.finished_at = Some(chrono::Utc::now());
        store.finish_eval_run(&run).await?;
        tracing::info!(run = %run.id, passed = run.gate.as_ref().is_some_and(|g| g.passed), "eval run finished");
        let deltas = gate::deltas(&run.summaries, baseline_run.as_ref());
        Ok(RunReport { run, deltas })
    }

    async fn resumable_run(&self, id: &str, suite: &Suite, dataset: &str, version: u32) -> Result<EvalRun, EvalError> {
        let run = self.gateway.store().get_eval_run(id).await?.ok_or_else(|| EvalError::RunNotFound(id.into()))?;
        let refuse = |reason: String| EvalError::CannotResume { id: id.to_string(), reason };
        if run.status == EvalRunStatus::Completed {
            return Err(refuse("it is already complete".into()));
        }
        if run.suite != suite.name {
            return Err(refuse(format!("it belongs to suite '{}', not '{}'", run.suite, suite.name)));
        }
        if run.dataset != dataset || run.dataset_version != version {
            return Err(refuse(format!(
                "it ran dataset {}@{}, the suite now names {dataset}@{version}",
                run.dataset, run.dataset_version
            )));
        }
        Ok(run)
    }

    async fn baseline(&self, baseline: &Baseline, run: &EvalRun) -> Result<Option<EvalRun>, EvalError> {
        let store = self.gateway.store();
        match baseline {
            Baseline::None => Ok(None),
            Baseline::Run(id) => {
                Ok(Some(store.get_eval_run(id).await?.ok_or_else(|| EvalError::RunNotFound(id.clone()))?))
            }
            Baseline::Previous => Ok(store
                .list_eval_runs(Some(&run.suite), 50)
                .await?
                .into_iter()
                .find(|r| r.id != run.id && r.status == EvalRunStatus::Completed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_dataset_reference;

    #[test]
    fn dataset_references_parse() {
        assert_eq!(parse_dataset_reference("gsm8k").unwrap(), ("gsm8k", None));
        assert_eq!(parse_dataset_reference("gsm8k@3").unwrap(), ("gsm8k", Some(3)));
        assert!(parse_dataset_reference("gsm8k@x").is_err());
        assert!(parse_dataset_reference("gsm8k@0").is_err());
    }
}
