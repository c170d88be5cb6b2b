//! `/api/collections`: RAG collections. List, inspect and delete them, ingest documents, query.

use crate::error::ApiError;
use crate::extract::OpenAiJson;
use crate::routes::openai::trace_headers;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_core::rag::{validate_top_k, IngestRequest, DEFAULT_TOP_K};
use gantry_core::RagError;
use gantry_types::CollectionInfo;
use serde::Deserialize;
use serde_json::{json, Value};

impl From<RagError> for ApiError {
    fn from(err: RagError) -> Self {
        ApiError::from_domain(err)
    }
}

/// `POST /api/collections/{name}/query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    query: String,
    #[serde(default)]
    top_k: Option<i64>,
}

/// Every collection with its settings and counts.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let collections = state.collections.list().await?;
    Ok(Json(json!({"object": "list", "data": collections})))
}

/// One collection: settings, document and chunk counts.
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<CollectionInfo>, ApiError> {
    Ok(Json(state.collections.get(&name).await?))
}

/// Deletes a collection with its documents and chunks.
pub async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    state.collections.delete(&name).await?;
    Ok(Json(json!({"name": name, "deleted": true})))
}

/// The documents of a collection, by source.
pub async fn documents(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let documents = state.collections.documents(&name).await?;
    Ok(Json(json!({"object": "list", "data": documents})))
}

/// Ingests documents, creating the collection on first use (201) or adding to it (200).
pub async fn ingest(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(request): OpenAiJson<IngestRequest>,
) -> Result<Response, ApiError> {
    let report = state.collections.ingest(&name, request).await?;
    let status = if report.created { StatusCode::CREATED } else { StatusCode::OK };
    let headers = report.trace_id.map(trace_headers).unwrap_or_default();
    Ok((status, headers, Json(report)).into_response())
}

/// The chunks most similar to a query, best first.
pub async fn query(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OpenAiJson(body): OpenAiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let top_k = match body.top_k {
        Some(k) => validate_top_k(k)?,
        None => DEFAULT_TOP_K,
    };
    let retrieval = state.collections.query_traced(&name, &body.query, top_k, None).await;
    match retrieval.result {
        Ok(hits) => {
            Ok((trace_headers(retrieval.trace_id), Json(json!({"object": "list", "data": hits}))).into_response())
        }
        Err(e) => Err(ApiError::from(e).with_trace(retrieval.trace_id)),
    }
}
