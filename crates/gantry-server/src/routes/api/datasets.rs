//! `/api/datasets`: versioned datasets. Create versions (items or JSONL), list, read items,
//! statistics, cleaning, versions from traces, export.

use super::author_or_api;
use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use gantry_evals::datasets::{
    self, CleanOutcome, CleanRequest, ColumnMapping, DatasetError, DatasetStats, ExportFormat, FeedbackCondition,
    FileFormat, FromTracesOutcome, TraceSelection,
};
use gantry_types::{DatasetItem, DatasetVersionInfo, TraceStatus};
use serde::Deserialize;
use serde_json::{json, Value};

impl From<DatasetError> for ApiError {
    fn from(err: DatasetError) -> Self {
        ApiError::from_domain(err)
    }
}

/// Body of `POST /api/datasets/{name}/versions` when it is an object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default)]
    items: Option<Vec<DatasetItem>>,
    /// A JSONL file's text, read like `gantry datasets import`.
    #[serde(default)]
    jsonl: Option<String>,
    #[serde(default)]
    input_columns: Vec<String>,
    #[serde(default)]
    messages_column: Option<String>,
    #[serde(default)]
    expected_column: Option<String>,
    #[serde(default)]
    metadata_columns: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    author: Option<String>,
}

/// Body of `POST /api/datasets/{name}/from-traces`: the selection's fields and an author.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromTracesBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    status: Option<TraceStatus>,
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    feedback: Option<FeedbackCondition>,
    #[serde(default)]
    author: Option<String>,
}

/// Query of the read endpoints, taken as text so each parameter gets its own error.
#[derive(Debug, Deserialize)]
pub struct ReadQuery {
    version: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
    label_key: Option<String>,
    format: Option<String>,
    prompt: Option<String>,
}

fn version_of(text: Option<&str>) -> Result<Option<u32>, DatasetError> {
    text.filter(|t| !t.is_empty()).map(datasets::parse_version).transpose()
}

fn number(text: Option<&str>, param: &'static str) -> Result<Option<u64>, DatasetError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse::<u64>().map(Some).map_err(|_| DatasetError::InvalidParameter {
            message: format!("{param} must be a whole number, got '{t}'"),
            param,
        }),
    }
}

/// Every dataset with its newest version.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let data = datasets::list(state.gateway.store().as_ref()).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Creates a version from an items array (the body, or its `items`) or from `jsonl` text.
pub async fn create_version(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<Value>,
) -> Result<(StatusCode, Json<DatasetVersionInfo>), ApiError> {
    let store = state.gateway.store().as_ref();
    let body: CreateBody = match body {
        Value::Array(items) => gantry_types::parse_json(json!({"items": items}).to_string().as_bytes())?,
        other => gantry_types::parse_json(other.to_string().as_bytes())?,
    };
    let mapping = ColumnMapping {
        input_columns: body.input_columns,
        messages_column: body.messages_column,
        expected_column: body.expected_column,
        metadata_columns: body.metadata_columns,
    };
    let author = author_or_api(body.author);
    let info = match (body.items, body.jsonl) {
        (Some(items), None) => {
            let source = body.source.unwrap_or_else(|| "api: items".into());
            datasets::create_version(store, &name, &items, &source, &author).await?
        }
        (None, Some(jsonl)) => {
            let source = body.source.unwrap_or_else(|| "api: jsonl".into());
            datasets::import(store, &name, jsonl.as_bytes(), FileFormat::Jsonl, &mapping, &source, &author).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send the items as an array, {\"items\": [...]}, or {\"jsonl\": \"...\"}",
                None,
            ))
        }
    };
    Ok((StatusCode::CREATED, Json(info)))
}

/// A dataset's versions, oldest first.
pub async fn details(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let versions = datasets::versions(state.gateway.store().as_ref(), &name).await?;
    Ok(Json(json!({"name": name, "versions": versions})))
}

/// One page of a version's items.
pub async fn items(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    let version = datasets::parse_version(&version)?;
    let offset = number(query.offset.as_deref(), "offset")?.unwrap_or(0);
    let limit = number(query.limit.as_deref(), "limit")?;
    let page = datasets::items_page(state.gateway.store().as_ref(), &name, Some(version), offset, limit).await?;
    Ok(Json(json!({
        "object": "list",
        "name": page.version.name,
        "version": page.version.version,
        "total": page.version.items,
        "offset": page.offset,
        "limit": page.limit,
        "data": page.items,
    })))
}

/// Statistics of a version (default the newest).
pub async fn stats(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<DatasetStats>, ApiError> {
    let version = version_of(query.version.as_deref())?;
    let label_key = query.label_key.as_deref().filter(|k| !k.is_empty());
    Ok(Json(datasets::stats(state.gateway.store().as_ref(), &name, version, label_key).await?))
}

/// Cleans a version into a new one; 201 with the new version and the report.
pub async fn clean(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(request): OpenAiJson<CleanRequest>,
) -> Result<(StatusCode, Json<CleanOutcome>), ApiError> {
    let author = author_or_api(request.author.clone());
    let outcome = datasets::clean(state.gateway.store().as_ref(), &name, &request, &author).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// A new version from recorded traces.
pub async fn from_traces(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<FromTracesBody>,
) -> Result<(StatusCode, Json<FromTracesOutcome>), ApiError> {
    let author = author_or_api(body.author);
    let selection = TraceSelection {
        model: body.model,
        prompt: body.prompt,
        status: body.status,
        since: body.since,
        until: body.until,
        limit: body.limit,
        feedback: body.feedback,
    };
    let outcome = datasets::from_traces(state.gateway.store().as_ref(), &name, &selection, &author).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Body of `POST /api/datasets/{name}/append-traces`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendTracesBody {
    trace_ids: Vec<String>,
    #[serde(default)]
    author: Option<String>,
}

/// A new version: the newest version's items and then the given chat traces as items.
pub async fn append_traces(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<AppendTracesBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let author = author_or_api(body.author);
    let version = datasets::append_traces(state.gateway.store().as_ref(), &name, &body.trace_ids, &author).await?;
    Ok((StatusCode::CREATED, Json(json!({"version": version}))))
}

/// A version as JSONL (`format=jsonl`, the default) or chat fine-tuning lines (`format=chat`);
/// the counts are in the `x-gantry-exported` and `x-gantry-skipped` headers.
pub async fn export(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    let version = version_of(query.version.as_deref())?;
    let format = ExportFormat::parse(query.format.as_deref().filter(|f| !f.is_empty()).unwrap_or("jsonl"))?;
    let prompt = query.prompt.as_deref().filter(|p| !p.is_empty());
    let export = datasets::export(state.gateway.store().as_ref(), &name, version, format, prompt).await?;
    let headers = [
        (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
        (HeaderName::from_static("x-gantry-exported"), export.exported.to_string()),
        (HeaderName::from_static("x-gantry-skipped"), export.skipped_without_expected.to_string()),
    ];
    Ok((headers, export.text).into_response())
}
