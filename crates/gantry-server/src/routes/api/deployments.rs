//! `/api/deployments`: what each route runs in each environment, its history, promotions
//! (optionally as a canary), promoting a canary fully, stopping it, and rollback.

use crate::error::ApiError;
use crate::extract::{OpenAiJson, OpenAiQuery, OptionalJson};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use gantry_core::deploy::{
    self, Comparison, DeployError, DeploymentStatus, ExperimentRequest, PromoteOutcome, PromoteRequest, VariantSpec,
};
use gantry_core::Principal;
use gantry_types::{AdaptivePolicy, CanaryGuard, Deployment, ReleaseTarget, DEFAULT_ENVIRONMENT};
use serde::Deserialize;
use serde_json::{json, Value};

impl From<DeployError> for ApiError {
    fn from(err: DeployError) -> Self {
        ApiError::from_domain(err)
    }
}

/// `?route=` / `?environment=&limit=` filters.
#[derive(Debug, Deserialize)]
pub struct Filter {
    route: Option<String>,
    environment: Option<String>,
    limit: Option<u32>,
}

/// Every deployment (or one route's) with its current and canary releases.
pub async fn status(
    State(state): State<AppState>,
    OpenAiQuery(filter): OpenAiQuery<Filter>,
) -> Result<Json<Value>, ApiError> {
    let data: Vec<DeploymentStatus> =
        deploy::status(state.gateway.store().as_ref(), filter.route.as_deref().filter(|r| !r.is_empty())).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// A route's history, newest first.
pub async fn history(
    State(state): State<AppState>,
    Path(route): Path<String>,
    OpenAiQuery(filter): OpenAiQuery<Filter>,
) -> Result<Json<Value>, ApiError> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let environment = filter.environment.filter(|e| !e.is_empty());
    let events = state
        .gateway
        .store()
        .deployment_history(Some(&route), environment.as_deref(), limit)
        .await
        .map_err(DeployError::from)?;
    let releases = match &environment {
        Some(env) => state.gateway.store().list_releases(&route, env).await.map_err(DeployError::from)?,
        None => Vec::new(),
    };
    Ok(Json(json!({"object": "list", "data": events, "releases": releases})))
}

/// Body of `POST /api/deployments/{route}/promote`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    #[serde(default)]
    environment: Option<String>,
    target: String,
    #[serde(default)]
    model: Option<String>,
    /// Percent of the traffic for a canary; without it the release takes all of it.
    #[serde(default)]
    canary: Option<f64>,
    /// Bounds that stop the canary by themselves.
    #[serde(default)]
    guard: Option<CanaryGuard>,
    #[serde(default)]
    note: Option<String>,
}

fn environment_of(environment: Option<String>) -> String {
    environment.filter(|e| !e.is_empty()).unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string())
}

/// Creates a release and makes it current (or the canary): 201.
pub async fn promote(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OpenAiJson(body): OpenAiJson<PromoteBody>,
) -> Result<(StatusCode, Json<PromoteOutcome>), ApiError> {
    let target: ReleaseTarget = body.target.parse().map_err(|e: gantry_types::TargetParseError| {
        ApiError::bad_request("invalid_target", e.to_string(), Some("target"))
    })?;
    let models: Vec<String> = state.gateway.list_models().data.into_iter().map(|m| m.id).collect();
    let request = PromoteRequest {
        route,
        environment: environment_of(body.environment),
        target,
        model: body.model.filter(|m| !m.is_empty()),
        actor: principal.actor().to_string(),
        gate: None,
        canary_percent: body.canary,
        guard: body.guard,
        note: body.note,
    };
    let outcome = deploy::promote(state.gateway.store().as_ref(), request, &models).await?;
    state.gateway.deployments().invalidate();
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Body of the one-step changes: which environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentBody {
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// A one-step change of a route's deployment.
#[derive(Clone, Copy)]
enum Step {
    Rollback,
    PromoteFull,
    AbortCanary,
}

async fn step(
    state: AppState,
    principal: Principal,
    route: String,
    body: Option<EnvironmentBody>,
    step: Step,
) -> Result<Json<Deployment>, ApiError> {
    let body = body.unwrap_or_default();
    let env = environment_of(body.environment);
    let (store, actor) = (state.gateway.store().as_ref(), principal.actor());
    let deployment = match step {
        Step::Rollback => deploy::rollback(store, &route, &env, &actor).await?,
        Step::PromoteFull => deploy::promote_full(store, &route, &env, &actor).await?,
        Step::AbortCanary => deploy::abort_canary(store, &route, &env, &actor, body.reason).await?,
    };
    state.gateway.deployments().invalidate();
    Ok(Json(deployment))
}

/// Returns to the previous release.
pub async fn rollback(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OptionalJson(body): OptionalJson<EnvironmentBody>,
) -> Result<Json<Deployment>, ApiError> {
    step(state, principal, route, body, Step::Rollback).await
}

/// Makes the canary current.
pub async fn promote_full(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OptionalJson(body): OptionalJson<EnvironmentBody>,
) -> Result<Json<Deployment>, ApiError> {
    step(state, principal, route, body, Step::PromoteFull).await
}

/// Stops the canary.
pub async fn abort_canary(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OptionalJson(body): OptionalJson<EnvironmentBody>,
) -> Result<Json<Deployment>, ApiError> {
    step(state, principal, route, body, Step::AbortCanary).await
}

/// `?environment=&since=` of the comparison.
#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    environment: Option<String>,
    /// RFC 3339; default: since the experiment or canary began.
    since: Option<String>,
}

/// The route's arms side by side with intervals and tests against the baseline.
pub async fn compare(
    State(state): State<AppState>,
    Path(route): Path<String>,
    OpenAiQuery(query): OpenAiQuery<CompareQuery>,
) -> Result<Json<Comparison>, ApiError> {
    let since = match query.since.filter(|s| !s.is_empty()) {
        Some(text) => Some(chrono::DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()).map_err(|e| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("since '{text}' is not an RFC 3339 time: {e}"),
                Some("since"),
            )
        })?),
        None => None,
    };
    let env = environment_of(query.environment);
    Ok(Json(deploy::compare(state.gateway.store().as_ref(), &route, &env, since).await?))
}

/// One variant in `POST /api/deployments/{route}/experiment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantBody {
    name: String,
    /// `current`, `release:N` or a release target.
    target: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default = "one")]
    weight: f64,
}

fn one() -> f64 {
    1.0
}

/// Body of `POST /api/deployments/{route}/experiment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentBody {
    #[serde(default)]
    environment: Option<String>,
    variants: Vec<VariantBody>,
    #[serde(default)]
    adaptive: Option<AdaptivePolicy>,
}

/// Starts an A/B experiment: 201 with the deployment.
pub async fn start_experiment(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OpenAiJson(body): OpenAiJson<ExperimentBody>,
) -> Result<(StatusCode, Json<Deployment>), ApiError> {
    let mut variants = Vec::with_capacity(body.variants.len());
    for v in body.variants {
        let target =
            v.target.parse().map_err(|e: String| ApiError::bad_request("invalid_target", e, Some("variants")))?;
        variants.push(VariantSpec { name: v.name, weight: v.weight, target, model: v.model.filter(|m| !m.is_empty()) });
    }
    let request = ExperimentRequest {
        route,
        environment: environment_of(body.environment),
        variants,
        adaptive: body.adaptive,
        actor: principal.actor().to_string(),
    };
    let models: Vec<String> = state.gateway.list_models().data.into_iter().map(|m| m.id).collect();
    let deployment = deploy::start_experiment(state.gateway.store().as_ref(), request, &models).await?;
    state.gateway.deployments().invalidate();
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// Body of `POST /api/deployments/{route}/experiment/stop`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    #[serde(default)]
    environment: Option<String>,
    /// The variant whose release becomes current; none keeps the current release.
    #[serde(default)]
    winner: Option<String>,
}

/// Ends the experiment.
pub async fn stop_experiment(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(route): Path<String>,
    OptionalJson(body): OptionalJson<StopBody>,
) -> Result<Json<Deployment>, ApiError> {
    let body = body.unwrap_or_default();
    let env = environment_of(body.environment);
    let winner = body.winner.filter(|w| !w.is_empty());
    let deployment =
        deploy::stop_experiment(state.gateway.store().as_ref(), &route, &env, &principal.actor(), winner.as_deref())
            .await?;
    state.gateway.deployments().invalidate();
    Ok(Json(deployment))
}
