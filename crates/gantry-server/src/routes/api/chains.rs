//! `/api/chains`: push versions, list, read, move labels, and run a chain.

use super::{author_or_api, SetLabelBody};
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_core::chains::{self, ChainPush, ChainVersion};
use gantry_core::registry::DocumentHistory;
use gantry_types::ChainSpec;
use serde::Deserialize;
use serde_json::{json, Value};

/// Takes an optional text field out of a push body.
// The error becomes the response at once; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn text_field(body: &mut serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request("invalid_type", format!("{name} must be a string"), Some(name))),
    }
}

/// Creates a version from a chain spec (with optional `message` and `author` beside it): 201
/// with the new version, or 200 with the newest one when the content is unchanged.
pub async fn create(
    State(state): State<AppState>,
    OpenAiJson(mut body): OpenAiJson<serde_json::Map<String, Value>>,
) -> Result<(StatusCode, Json<ChainPush>), ApiError> {
    let message = text_field(&mut body, "message")?;
    let author = author_or_api(text_field(&mut body, "author")?);
    let spec: ChainSpec = serde_path_to_error::deserialize(Value::Object(body)).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request("invalid_chain", format!("{path}: {}", e.inner()), Some(&path))
    })?;
    let pushed = chains::push(state.chains.store(), spec, message, &author).await.map_err(ApiError::from_domain)?;
    let status = if pushed.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(pushed)))
}

/// Every chain: name, newest version, labels.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = chains::list(state.chains.store()).await.map_err(ApiError::from_domain)?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// One chain's versions, labels and label moves.
pub async fn details(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DocumentHistory>, ApiError> {
    chains::history(state.chains.store(), &name).await.map(Json).map_err(ApiError::from_domain)
}

/// One version (a number or a label) in full.
pub async fn version(
    State(state): State<AppState>,
    Path((name, selector)): Path<(String, String)>,
) -> Result<Json<ChainVersion>, ApiError> {
    chains::resolve(state.chains.store(), &format!("{name}@{selector}")).await.map(Json).map_err(ApiError::from_domain)
}

/// Points a label at a version.
pub async fn set_label(
    State(state): State<AppState>,
    Path((name, label)): Path<(String, String)>,
    OpenAiJson(body): OpenAiJson<SetLabelBody>,
) -> Result<Json<Value>, ApiError> {
    let author = author_or_api(body.author);
    let update = chains::set_label(state.chains.store(), &name, &label, body.version, &author)
        .await
        .map_err(ApiError::from_domain)?;
    Ok(Json(json!({"name": name, "label": label, "version": body.version, "update": update})))
}

/// Body of `POST /api/chains/{name}/run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    input: Value,
    /// A version number or label; default: the newest version.
    #[serde(default)]
    version: Option<Value>,
}

/// Runs the chain and returns its output with every step's result; the run's trace id is in
/// the `x-gantry-trace-id` header, also when a step failed.
pub async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<RunBody>,
) -> Response {
    let reference = match body.version {
        None | Some(Value::Null) => name,
        Some(Value::Number(n)) => format!("{name}@{n}"),
        Some(Value::String(s)) => format!("{name}@{s}"),
        Some(_) => {
            return ApiError::bad_request("invalid_type", "version must be a number or a label", Some("version"))
                .into_response()
        }
    };
    let input = if body.input.is_null() { json!({}) } else { body.input };
    match state.chains.run(&reference, input).await {
        Err(e) => ApiError::from_domain(e).into_response(),
        Ok(call) => match call.result {
            Ok(run) => (super::super::openai::trace_headers(call.trace_id), Json(run)).into_response(),
            Err(e) => ApiError::from_domain(e).with_trace(call.trace_id).into_response(),
        },
    }
}
