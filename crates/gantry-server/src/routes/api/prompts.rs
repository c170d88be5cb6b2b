//! `/api/prompts`: push versions, list, read by version or label, move labels, diff, render.

use super::{author_or_api, SetLabelBody};
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use gantry_core::prompts::{
    self, LabelChange, LabelView, PromptDetails, PromptDiff, PromptDraft, PromptError, PromptVersion, PushOutcome,
    RenderedPrompt,
};
use gantry_core::registry::{parse_selector, Selector};
use serde::Deserialize;
use serde_json::{json, Value};

fn api_error(e: PromptError) -> ApiError {
    ApiError::from_domain(e)
}

// The error becomes the response at once; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn version_number(text: &str, param: &str) -> Result<u32, ApiError> {
    match text.parse::<u32>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("{param} must be a version number (1, 2, ...), got '{text}'"),
            Some(param),
        )),
    }
}

/// Creates a version: 201 with it, or 200 with the newest version when the content is unchanged.
pub async fn create(
    State(state): State<AppState>,
    OpenAiJson(draft): OpenAiJson<PromptDraft>,
) -> Result<(StatusCode, Json<PushOutcome>), ApiError> {
    let message = draft.message.clone();
    let author = author_or_api(draft.author.clone());
    let outcome = prompts::push(state.gateway.store().as_ref(), draft, message, &author).await.map_err(api_error)?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(outcome)))
}

/// Every prompt: name, newest version, labels.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = prompts::list(state.gateway.store().as_ref()).await.map_err(api_error)?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// One prompt's versions, labels, label history and newest version.
pub async fn details(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<PromptDetails>, ApiError> {
    prompts::details(state.gateway.store().as_ref(), &name).await.map(Json).map_err(api_error)
}

/// One version in full.
pub async fn version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PromptVersion>, ApiError> {
    let number = version_number(&version, "version")?;
    prompts::get(state.gateway.store().as_ref(), &name, &number.to_string()).await.map(Json).map_err(api_error)
}

/// Where a label points, with that version in full.
pub async fn label(
    State(state): State<AppState>,
    Path((name, label)): Path<(String, String)>,
) -> Result<Json<LabelView>, ApiError> {
    prompts::get_label(state.gateway.store().as_ref(), &name, &label).await.map(Json).map_err(api_error)
}

/// Points a label at a version; the move is recorded.
pub async fn set_label(
    State(state): State<AppState>,
    Path((name, label)): Path<(String, String)>,
    OpenAiJson(body): OpenAiJson<SetLabelBody>,
) -> Result<Json<LabelChange>, ApiError> {
    let author = author_or_api(body.author);
    prompts::set_label(state.gateway.store().as_ref(), &name, &label, body.version, &author)
        .await
        .map(Json)
        .map_err(api_error)
}

#[allow(clippy::result_large_err)]
fn required(value: Option<String>, param: &str) -> Result<String, ApiError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "missing_required_parameter",
            format!("Missing required parameter: '{param}' (a version number or a label)."),
            Some(param),
        )
    })
}

/// `GET .../diff` query.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The difference between two versions or labels.
pub async fn diff(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Result<Json<PromptDiff>, ApiError> {
    let from = required(query.from, "from")?;
    let to = required(query.to, "to")?;
    prompts::diff(state.gateway.store().as_ref(), &name, &from, &to).await.map(Json).map_err(api_error)
}

/// `POST .../render` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderBody {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    variables: Value,
}

/// The messages a version renders to, without calling a model (default label `production`).
pub async fn render(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<RenderBody>,
) -> Result<Json<RenderedPrompt>, ApiError> {
    let selector = match (body.version, body.label) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "give either 'version' or 'label', not both",
                Some("version"),
            ))
        }
        (Some(v), None) => Some(Selector::Version(v)),
        (None, Some(label)) => Some(parse_selector(&label).map_err(|e| api_error(e.into()))?),
        (None, None) => None,
    };
    prompts::render_preview(state.gateway.store().as_ref(), &name, selector, &body.variables)
        .await
        .map(Json)
        .map_err(api_error)
}
