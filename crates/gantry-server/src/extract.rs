//! A JSON body extractor whose failures are OpenAI-shaped and name the offending field.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON request body parsed strictly.
pub struct OpenAiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OpenAiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    "invalid_request_error",
                    "request_too_large",
                    "the request body is too large",
                    None,
                )
            } else {
                ApiError::bad_request("invalid_body", format!("could not read the request body: {rejection}"), None)
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("invalid_json", "the request body is empty; send a JSON object", None));
        }
        Ok(OpenAiJson(gantry_types::parse_json(&bytes)?))
    }
}

/// A JSON body that may be left out (an empty body is `None`), parsed strictly when present.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            ApiError::bad_request("invalid_body", format!("could not read the request body: {rejection}"), None)
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        Ok(OptionalJson(Some(gantry_types::parse_json(&bytes)?)))
    }
}

/// Query parameters whose failures are OpenAI-shaped (axum's own answer is plain text).
pub struct OpenAiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for OpenAiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(OpenAiQuery)
            .map_err(|e| ApiError::bad_request("invalid_parameter", format!("invalid query string: {e}"), None))
    }
}
