//! Runs a plan's steps as soon as the steps they read have finished, so independent steps
//! run concurrently. The first failure stops the run; steps still running are cancelled.

use super::plan::{Plan, PlannedStep, INPUT};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use gantry_types::StepResult;
use serde_json::{Map, Value};

/// Executes one step against the run's context and reports how it went.
pub trait ExecuteStep: Send + Sync {
    /// Runs `step`; `context` holds `input` and the outputs of every finished step.
    fn execute<'a>(&'a self, step: &'a PlannedStep, context: Value) -> BoxFuture<'a, StepResult>;
}

/// How a run ended: every step's result in finishing order, and the failed step, if any.
pub struct Scheduled {
    pub results: Vec<StepResult>,
    pub failed: Option<usize>,
    /// The outputs by step name (and `input`).
    pub outputs: Map<String, Value>,
}

/// Runs `plan` with `input`, each step through `executor`.
pub async fn run_plan(plan: &Plan, input: Value, executor: &dyn ExecuteStep) -> Scheduled {
    let mut outputs = Map::new();
    outputs.insert(INPUT.to_string(), input);
    let mut done = vec![false; plan.steps.len()];
    let mut started = vec![false; plan.steps.len()];
    let mut running = FuturesUnordered::new();
    let mut results = Vec::with_capacity(plan.steps.len());
    loop {
        for (i, step) in plan.steps.iter().enumerate() {
            if !started[i] && step.depends_on.iter().all(|&d| done[d]) {
                started[i] = true;
                let context = Value::Object(outputs.clone());
                running.push(async move { (i, executor.execute(step, context).await) });
            }
        }
        let Some((i, result)) = running.next().await else { break };
        done[i] = true;
        let failed = result.error.is_some();
        if let Some(output) = &result.output {
            outputs.insert(plan.steps[i].spec.name.clone(), output.clone());
        }
        results.push(result);
        if failed {
            return Scheduled { results, failed: Some(i), outputs };
        }
    }
    Scheduled { results, failed: None, outputs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::plan::plan;
    use crate::chains::templates::{render, Binding};
    use gantry_types::{ChainSpec, StepAction, StepStatus, TraceId};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Renders template steps after a delay, tracking how many run at once.
    #[derive(Default)]
    struct Recorder {
        running: AtomicUsize,
        most_at_once: AtomicUsize,
        order: Mutex<Vec<String>>,
    }

    impl ExecuteStep for Recorder {
        fn execute<'a>(&'a self, step: &'a PlannedStep, context: Value) -> BoxFuture<'a, StepResult> {
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_at_once.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.order.lock().unwrap().push(step.spec.name.clone());
                let StepAction::Template { template } = &step.spec.action else { unreachable!() };
                let rendered = render(&Binding::classify(template), &context);
                StepResult {
                    name: step.spec.name.clone(),
                    step_type: "template".into(),
                    span_id: TraceId::new(),
                    status: if rendered.is_ok() { StepStatus::Ok } else { StepStatus::Error },
                    output: rendered.as_ref().ok().cloned(),
                    error: rendered.err(),
                    error_status: None,
                    latency_ms: 50.0,
                    prompt_tokens: None,
                    completion_tokens: None,
                    cost_usd: None,
                }
            })
        }
    }

    fn chain(steps: &[(&str, &str)], output: &str) -> ChainSpec {
        ChainSpec {
            name: "t".into(),
            description: None,
            inputs: vec![],
            steps: steps
                .iter()
                .map(|(name, template)| gantry_types::StepSpec {
                    name: name.to_string(),
                    action: StepAction::Template { template: template.to_string() },
                })
                .collect(),
            output: output.into(),
        }
    }

    #[tokio::test]
    async fn independent_steps_run_together_and_dependants_wait() {
        let spec = chain(&[("a", "A{{ input.x }}"), ("b", "B"), ("c", "{{ a }}+{{ b }}")], "c");
        let plan = plan(&spec).unwrap();
        let recorder = Recorder::default();
        let run = run_plan(&plan, serde_json::json!({"x": 1}), &recorder).await;
        assert!(run.failed.is_none());
        assert_eq!(run.outputs["c"], "A1+B");
        assert_eq!(recorder.most_at_once.load(Ordering::SeqCst), 2, "a and b ran at the same time");
        assert_eq!(recorder.order.lock().unwrap().last().unwrap(), "c");
    }

    #[tokio::test]
    async fn the_first_failure_stops_the_run() {
        let spec = chain(&[("a", "{{ input.missing.x }}"), ("b", "{{ a }}")], "b");
        let plan = plan(&spec).unwrap();
        let run = run_plan(&plan, serde_json::json!({}), &Recorder::default()).await;
        assert_eq!(run.failed, Some(0));
        assert_eq!(run.results.len(), 1, "b never started");
        assert!(run.results[0].error.as_ref().unwrap().contains("undefined"));
    }
}
