//! `/api/evals`: eval runs (list, one run with its items) and two runs compared.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use gantry_evals::runs::{self, Comparison, EvalError, RunDetails};
use gantry_store::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use serde::Deserialize;
use serde_json::{json, Value};

impl From<EvalError> for ApiError {
    fn from(err: EvalError) -> Self {
        ApiError::from_domain(err)
    }
}

/// `GET /api/evals/runs` parameters, taken as text so each gets its own error message.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    suite: Option<String>,
    limit: Option<String>,
}

/// `GET /api/evals/compare` parameters.
#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
}

fn parse_limit(text: Option<String>) -> Result<u32, EvalError> {
    match text {
        None => Ok(DEFAULT_LIST_LIMIT),
        Some(text) => text.parse::<u32>().ok().filter(|n| (1..=MAX_LIST_LIMIT).contains(n)).ok_or_else(|| {
            EvalError::InvalidParameter {
                param: "limit",
                message: format!("limit must be a whole number from 1 to {MAX_LIST_LIMIT}, got '{text}'"),
            }
        }),
    }
}

/// Runs newest first, of one suite with `?suite=`.
pub async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(query.limit)?;
    let list = runs::list_runs(state.gateway.store().as_ref(), query.suite.as_deref(), limit).await?;
    Ok(Json(json!({"object": "list", "data": list})))
}

/// One run: aggregates, gate, and every item's output, scores and trace id.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunDetails>, ApiError> {
    Ok(Json(runs::run_details(state.gateway.store().as_ref(), &id).await?))
}

/// Run `b` next to run `a`: metric deltas (b - a) and every item side by side.
pub async fn compare(
    State(state): State<AppState>,
    Query(query): Query<CompareQuery>,
) -> Result<Json<Comparison>, ApiError> {
    let missing = |param: &'static str| EvalError::InvalidParameter {
        param,
        message: format!("'{param}' is required: the id of a run to compare"),
    };
    let a = query.a.ok_or_else(|| missing("a"))?;
    let b = query.b.ok_or_else(|| missing("b"))?;
    Ok(Json(runs::compare(state.gateway.store().as_ref(), &a, &b).await?))
}
