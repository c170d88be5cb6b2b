//! Unknown paths and methods get OpenAI-shaped errors too.

use crate::error::ApiError;
use axum::http::{Method, StatusCode, Uri};

/// 404 for an unknown path.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_url",
        format!("Unrecognized request URL ({method}: {}).", uri.path()),
        None,
    )
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!("{method} is not allowed on {}.", uri.path()),
        None,
    )
}
