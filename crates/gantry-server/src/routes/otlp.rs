//! `POST /v1/traces`: OTLP/HTTP trace ingest (protobuf or JSON, optionally gzip). The answer
//! is an `ExportTraceServiceResponse` in the request's encoding; a body that cannot be read
//! is refused with an OpenAI-shaped error.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Stores the spans of one export request.
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "invalid_otlp" };
            return ApiError::new(status, "invalid_request_error", code, rejection.body_text(), None).into_response();
        }
    };
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    match state.telemetry.ingest.ingest(body, text(header::CONTENT_TYPE), text(header::CONTENT_ENCODING)).await {
        Ok((encoding, report)) => {
            ([(header::CONTENT_TYPE, encoding.content_type())], report.encode(encoding)).into_response()
        }
        Err(e) => ApiError::from_domain(e).into_response(),
    }
}
