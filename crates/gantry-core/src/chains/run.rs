//! Running a chain version: one root trace for the run, one span per step under it (an `llm`
//! step's span is its chat call; a `retrieve` step's span holds its embedding call).

use super::parse::extract_json;
use super::plan::{Plan, PlannedStep};
use super::schedule::{run_plan, ExecuteStep};
use super::templates::{render, Binding};
use super::{ChainError, ChainVersion};
use crate::gateway::Gateway;
use crate::prompts;
use crate::rag::Collections;
use crate::recorder::Outcome;
use crate::registry::{Reference, DEFAULT_LABEL};
use futures::future::BoxFuture;
use gantry_types::{
    ChainRun, RegistryKind, StepAction, StepResult, StepStatus, TraceId, TraceKind, TraceStatus, Usage,
};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// How many chunks a `retrieve` step returns when it names no `top_k`.
pub const DEFAULT_TOP_K: u32 = 4;

/// A run's outcome with the id of its root trace, which exists whether the run succeeded or not.
pub struct RunCall {
    pub trace_id: TraceId,
    pub result: Result<ChainRun, ChainError>,
}

/// What one step produced, before it becomes a `StepResult`.
struct StepDone {
    span_id: TraceId,
    output: Result<Value, StepFailure>,
    usage: Option<Usage>,
    cost_usd: Option<f64>,
}

/// Why a step failed, with the status the failure would have on its own.
struct StepFailure {
    message: String,
    http_status: u16,
}

impl StepFailure {
    fn new(message: impl Into<String>, http_status: u16) -> Self {
        Self { message: message.into(), http_status }
    }

    /// The failed step's span outcome.
    fn outcome(&self) -> Outcome {
        Outcome::failed_with("chain_step_failed", &self.message, self.http_status)
    }
}

/// Executes steps against the gateway, the prompt registry and the RAG collections.
struct Executor<'a> {
    gateway: &'a Gateway,
    collections: &'a Collections,
    run_id: TraceId,
}

impl Executor<'_> {
    /// Records a span for a step that failed before it could make its call.
    fn failed_span(
        &self,
        step: &PlannedStep,
        kind: TraceKind,
        label: &str,
        request: Value,
        failure: &StepFailure,
    ) -> TraceId {
        let mut span = self.gateway.start_span(kind, label, request, false);
        span.set_parent(self.run_id, &step.spec.name);
        let id = span.id;
        span.finish(failure.outcome());
        id
    }

    /// Records a span for a step that runs inside Gantry (a template, JSON parsing).
    fn local_span(
        &self,
        step: &PlannedStep,
        kind: TraceKind,
        request: Value,
        output: &Result<Value, StepFailure>,
    ) -> TraceId {
        let mut span = self.gateway.start_span(kind, step.spec.action.type_name(), request, false);
        span.set_parent(self.run_id, &step.spec.name);
        let id = span.id;
        let outcome = match output {
            Ok(value) => Outcome {
                status: TraceStatus::Ok,
                http_status: 200,
                error: None,
                response: Some(value.clone()),
                finish_reason: None,
                usage: None,
                ttft_ms: None,
            },
            Err(failure) => failure.outcome(),
        };
        span.finish(outcome);
        id
    }

    async fn llm(
        &self,
        step: &PlannedStep,
        context: &Value,
        prompt: &str,
        variables: &std::collections::BTreeMap<String, String>,
        model: Option<&str>,
    ) -> StepDone {
        let label = format!("prompt:{prompt}");
        let fail_early = |failure: StepFailure| StepDone {
            span_id: self.failed_span(step, TraceKind::Chat, &label, json!({"prompt": prompt}), &failure),
            output: Err(failure),
            usage: None,
            cost_usd: None,
        };
        let mut values = Map::new();
        for (name, source) in variables {
            match render(&Binding::classify(source), context) {
                Ok(value) => {
                    values.insert(name.clone(), value);
                }
                Err(e) => return fail_early(StepFailure::new(format!("variables.{name}: {e}"), 400)),
            }
        }
        let reference = match Reference::parse(RegistryKind::Prompt, prompt, DEFAULT_LABEL) {
            Ok(r) => r,
            Err(e) => return fail_early(StepFailure::new(e.to_string(), e.http_status())),
        };
        let version = match prompts::resolve_reference(self.gateway.store().as_ref(), &reference).await {
            Ok(v) => v,
            Err(e) => return fail_early(StepFailure::new(e.to_string(), e.http_status())),
        };
        let call = match prompts::build_call_with_messages(&version, reference.label(), &Value::Object(values), vec![])
        {
            Ok(c) => c,
            Err(e) => return fail_early(StepFailure::new(e.to_string(), e.http_status())),
        };
        let (mut request, call_context) = call.into_parts(Some((self.run_id, step.spec.name.clone())));
        if let Some(model) = model {
            request.model = model.to_string();
        }
        let requested = request.model.clone();
        let call = self.gateway.chat_with(request, call_context).await;
        match call.result {
            Ok(completion) => {
                let text = completion.choices.first().map(|c| c.message.text_content()).unwrap_or_default();
                StepDone {
                    span_id: call.trace_id,
                    output: Ok(Value::String(text)),
                    usage: completion.usage,
                    cost_usd: self.gateway.cost_usd(&[completion.model.as_str(), requested.as_str()], completion.usage),
                }
            }
            Err(e) => StepDone {
                span_id: call.trace_id,
                output: Err(StepFailure::new(e.to_string(), e.http_status())),
                usage: None,
                cost_usd: None,
            },
        }
    }

    async fn retrieve(
        &self,
        step: &PlannedStep,
        context: &Value,
        collection: &str,
        query: &str,
        top_k: u32,
    ) -> StepDone {
        let text = match render(&Binding::classify(query), context) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => {
                let failure = StepFailure::new(format!("query: {e}"), 400);
                let request = json!({"collection": collection, "query": query});
                return StepDone {
                    span_id: self.failed_span(
                        step,
                        TraceKind::Retrieve,
                        &format!("collection:{collection}"),
                        request,
                        &failure,
                    ),
                    output: Err(failure),
                    usage: None,
                    cost_usd: None,
                };
            }
        };
        let retrieval = self
            .collections
            .query_traced(collection, &text, top_k as usize, Some((self.run_id, step.spec.name.clone())))
            .await;
        let output = retrieval
            .result
            .map_err(|e| StepFailure::new(e.to_string(), e.http_status()))
            .and_then(|hits| serde_json::to_value(hits).map_err(|e| StepFailure::new(e.to_string(), 500)));
        StepDone { span_id: retrieval.trace_id, output, usage: None, cost_usd: None }
    }

    fn template(&self, step: &PlannedStep, context: &Value, template: &str) -> StepDone {
        let output =
            render(&Binding::Text(template), context).map_err(|e| StepFailure::new(format!("template: {e}"), 400));
        let span_id = self.local_span(step, TraceKind::Template, json!({"template": template}), &output);
        StepDone { span_id, output, usage: None, cost_usd: None }
    }

    fn parse_json(&self, step: &PlannedStep, context: &Value, from: &str) -> StepDone {
        let output = match render(&Binding::classify(from), context) {
            Ok(Value::String(text)) => extract_json(&text).map_err(|e| StepFailure::new(e, 422)),
            // Already structured (e.g. `{{ input.payload }}`): nothing to parse.
            Ok(value) => Ok(value),
            Err(e) => Err(StepFailure::new(format!("from: {e}"), 400)),
        };
        let span_id = self.local_span(step, TraceKind::ParseJson, json!({"from": from}), &output);
        StepDone { span_id, output, usage: None, cost_usd: None }
    }
}

impl ExecuteStep for Executor<'_> {
    fn execute<'a>(&'a self, step: &'a PlannedStep, context: Value) -> BoxFuture<'a, StepResult> {
        Box::pin(async move {
            let started = Instant::now();
            let done = match &step.spec.action {
                StepAction::Llm { prompt, variables, model } => {
                    self.llm(step, &context, prompt, variables, model.as_deref()).await
                }
                StepAction::Retrieve { collection, query, top_k } => {
                    self.retrieve(step, &context, collection, query, top_k.unwrap_or(DEFAULT_TOP_K)).await
                }
                StepAction::Template { template } => self.template(step, &context, template),
                StepAction::ParseJson { from } => self.parse_json(step, &context, from),
            };
            let (status, output, error) = match done.output {
                Ok(value) => (StepStatus::Ok, Some(value), None),
                Err(failure) => (StepStatus::Error, None, Some((failure.message, failure.http_status))),
            };
            StepResult {
                name: step.spec.name.clone(),
                step_type: step.spec.action.type_name().to_string(),
                span_id: done.span_id,
                status,
                output,
                error: error.as_ref().map(|(m, _)| m.clone()),
                error_status: error.map(|(_, s)| s),
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                prompt_tokens: done.usage.map(|u| u.prompt_tokens),
                completion_tokens: done.usage.map(|u| u.completion_tokens),
                cost_usd: done.cost_usd,
            }
        })
    }
}

/// Runs `version` with `input`: the run's trace is recorded whatever happens.
pub async fn run(gateway: &Gateway, collections: &Collections, version: &ChainVersion, input: Value) -> RunCall {
    let run_span = gateway.start_span(
        TraceKind::Chain,
        &format!("chain:{}@{}", version.name, version.version),
        json!({"input": input, "chain": version.name, "version": version.version}),
        false,
    );
    let run_id = run_span.id;
    let result = run_checked(gateway, collections, version, input, run_id).await;
    let outcome = match &result {
        Ok(run) => {
            let (prompt, completion) = run
                .steps
                .iter()
                .fold((0, 0), |(p, c), s| (p + s.prompt_tokens.unwrap_or(0), c + s.completion_tokens.unwrap_or(0)));
            Outcome {
                status: TraceStatus::Ok,
                http_status: 200,
                error: None,
                response: Some(json!({"output": run.output})),
                finish_reason: None,
                usage: Some(Usage::new(prompt, completion)),
                ttft_ms: None,
            }
        }
        Err(e) => Outcome::failed_with(e.code(), &e.to_string(), e.http_status()),
    };
    run_span.finish(outcome);
    RunCall {
        trace_id: run_id,
        result: result.map(|mut run| {
            run.trace_id = run_id;
            run
        }),
    }
}

async fn run_checked(
    gateway: &Gateway,
    collections: &Collections,
    version: &ChainVersion,
    input: Value,
    run_id: TraceId,
) -> Result<ChainRun, ChainError> {
    let started = Instant::now();
    let plan: Plan = super::plan::plan(&version.spec)?;
    let Value::Object(fields) = &input else {
        return Err(ChainError::InvalidInput(format!(
            "the input must be a JSON object, got {}",
            prompts::json_type_name(&input)
        )));
    };
    let missing: Vec<&str> =
        version.spec.inputs.iter().filter(|f| !fields.contains_key(f.as_str())).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(ChainError::InvalidInput(format!(
            "chain '{}' needs the input field(s) {}",
            version.name,
            missing.join(", ")
        )));
    }
    let executor = Executor { gateway, collections, run_id };
    let scheduled = run_plan(&plan, input, &executor).await;
    if let Some(failed) = scheduled.failed {
        let step = scheduled.results.iter().find(|r| r.name == plan.steps[failed].spec.name);
        return Err(ChainError::StepFailed {
            step: plan.steps[failed].spec.name.clone(),
            step_type: plan.steps[failed].spec.action.type_name(),
            message: step.and_then(|s| s.error.clone()).unwrap_or_default(),
            http_status: step.and_then(|s| s.error_status).unwrap_or(500),
            steps: scheduled.results,
        });
    }
    let output_name = &plan.steps[plan.output].spec.name;
    let output = scheduled.outputs.get(output_name).cloned().unwrap_or(Value::Null);
    Ok(ChainRun {
        chain: version.name.clone(),
        version: version.version,
        trace_id: run_id,
        output,
        steps: scheduled.results,
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
