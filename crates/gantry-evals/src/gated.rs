//! Promotion behind an eval gate: the suite runs against the candidate release, compared with
//! a run of the release it would replace, and the promotion goes ahead only when every
//! threshold holds and no metric falls further below the current release than the suite
//! allows. A refusal is recorded in the route's history with the failing checks.

use crate::runs::{Baseline, EvalError, Evaluation, NoProgress, RunProgress, Suite, TargetSpec};
use gantry_core::deploy::{self, DeployError, PromoteOutcome, PromoteRequest};
use gantry_core::ErrorInfo;
use gantry_types::{EvalRun, GateReport, Release, ReleaseGate, ReleaseTarget};
use serde::Serialize;

/// Why a gated promotion did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The gate ran and failed; the candidate's run says why.
    #[error("the eval gate refused {target}: {reasons}")]
    Refused { target: String, reasons: String, run: Box<EvalRun> },
}

impl ErrorInfo for PromoteError {
    fn code(&self) -> &'static str {
        match self {
            PromoteError::Deploy(e) => e.code(),
            PromoteError::Eval(e) => e.code(),
            PromoteError::Refused { .. } => "gate_failed",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            PromoteError::Deploy(e) => e.http_status(),
            PromoteError::Eval(e) => e.http_status(),
            PromoteError::Refused { .. } => 422,
        }
    }
    fn param(&self) -> Option<String> {
        match self {
            PromoteError::Deploy(e) => e.param().map(str::to_string),
            PromoteError::Eval(e) => e.param(),
            PromoteError::Refused { .. } => None,
        }
    }
}

/// A promotion that passed its gate, with the runs that decided it.
#[derive(Debug, Clone, Serialize)]
pub struct GatedPromotion {
    #[serde(flatten)]
    pub outcome: PromoteOutcome,
    pub candidate_run: EvalRun,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_run: Option<EvalRun>,
}

/// The suite's target with the release's prompt, chain or model in its place; the suite's
/// sampling settings stay.
fn target_spec(suite: &TargetSpec, target: &ReleaseTarget, model: Option<&str>) -> TargetSpec {
    let mut spec = TargetSpec { model: None, prompt: None, chain: None, ..suite.clone() };
    match target {
        ReleaseTarget::Prompt { name, version } => {
            spec.prompt = Some(format!("{name}@{version}"));
            spec.model = model.map(str::to_string);
        }
        ReleaseTarget::Chain { name, version } => spec.chain = Some(format!("{name}@{version}")),
        ReleaseTarget::Model { model } => spec.model = Some(model.clone()),
    }
    spec
}

fn with_target(suite: &Suite, target: &ReleaseTarget, model: Option<&str>) -> Suite {
    Suite { target: target_spec(&suite.target, target, model), ..suite.clone() }
}

/// The failed checks in words.
fn reasons(report: &GateReport) -> String {
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| match &c.reason {
            Some(reason) => format!("{}.{}: {reason}", c.evaluator, c.metric),
            None => format!("{}.{} = {:.4}", c.evaluator, c.metric, c.value),
        })
        .collect();
    if failed.is_empty() {
        "too many items failed".to_string()
    } else {
        failed.join("; ")
    }
}

/// Runs `suite` on the release that is current now, unless its own gate already ran this
/// suite (then that run is the baseline).
async fn baseline_for(
    evaluation: &Evaluation,
    suite: &Suite,
    current: Option<&Release>,
    progress: &dyn RunProgress,
) -> Result<(Option<String>, Option<EvalRun>), EvalError> {
    let Some(current) = current else { return Ok((None, None)) };
    if let Some(gate) = current.gate.as_ref().filter(|g| g.suite == suite.name) {
        return Ok((Some(gate.run_id.clone()), None));
    }
    let report = evaluation
        .run(&with_target(suite, &current.target, current.model.as_deref()), Baseline::None, None, progress)
        .await?;
    Ok((Some(report.run.id.clone()), Some(report.run)))
}

/// Promotes `request` if `suite` passes on it; `models` are the configured model names.
pub async fn promote_gated(
    evaluation: &Evaluation,
    suite: &Suite,
    mut request: PromoteRequest,
    models: &[String],
    progress: &dyn RunProgress,
) -> Result<GatedPromotion, PromoteError> {
    let store = evaluation.store();
    deploy::check_target(store.as_ref(), &request.target, request.model.as_deref(), models).await?;
    let current = match store.get_deployment(&request.route, &request.environment).await.map_err(DeployError::from)? {
        Some(d) => store.get_release(&d.route, &d.environment, d.current).await.map_err(DeployError::from)?,
        None => None,
    };
    let (baseline_id, baseline_run) = baseline_for(evaluation, suite, current.as_ref(), progress).await?;
    let baseline = baseline_id.clone().map_or(Baseline::None, Baseline::Run);
    let candidate = with_target(suite, &request.target, request.model.as_deref());
    let report = evaluation.run(&candidate, baseline, None, progress).await?;
    let gate = report.run.gate.clone().unwrap_or(GateReport { passed: true, checks: Vec::new() });
    if !gate.passed {
        let why = reasons(&gate);
        deploy::record_refusal(store.as_ref(), &request, why.clone()).await?;
        return Err(PromoteError::Refused {
            target: request.target.to_string(),
            reasons: why,
            run: Box::new(report.run),
        });
    }
    request.gate = Some(ReleaseGate {
        suite: suite.name.clone(),
        run_id: report.run.id.clone(),
        baseline_run_id: baseline_id,
        report: gate,
    });
    let outcome = deploy::promote(store.as_ref(), request, models).await?;
    Ok(GatedPromotion { outcome, candidate_run: report.run, baseline_run })
}

/// [`promote_gated`] without progress reports.
pub async fn promote_gated_quietly(
    evaluation: &Evaluation,
    suite: &Suite,
    request: PromoteRequest,
    models: &[String],
) -> Result<GatedPromotion, PromoteError> {
    promote_gated(evaluation, suite, request, models, &NoProgress).await
}
