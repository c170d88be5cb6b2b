//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every route. A test checks it
//! against the route table, so the two cannot drift apart.

use axum::http::header;
use axum::response::IntoResponse;

const DOCUMENT: &str = include_str!("../../openapi.json");

/// The OpenAPI document.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
