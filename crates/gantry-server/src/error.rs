//! Maps every failure to an HTTP status and the OpenAI error body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gantry_core::{ErrorInfo, GatewayError};
use gantry_types::{ApiErrorBody, JsonParseError, TraceId};
use std::time::Duration;

/// An error response: status, OpenAI-shaped body, and the headers that go with it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ApiErrorBody,
    pub retry_after: Option<Duration>,
    pub trace_id: Option<TraceId>,
}

impl ApiError {
    /// An error with an explicit status, type and code.
    pub fn new(status: StatusCode, kind: &str, code: &str, message: impl Into<String>, param: Option<String>) -> Self {
        Self { status, body: ApiErrorBody::new(message, kind, param, code), retry_after: None, trace_id: None }
    }

    /// 400 invalid_request_error.
    pub fn bad_request(code: &str, message: impl Into<String>, param: Option<&str>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message, param.map(str::to_string))
    }

    /// 404 for a missing resource.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", code, message, None)
    }

    /// 500 for a failure inside Gantry (the details are logged, not sent).
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            "internal error; see the server log",
            None,
        )
    }

    /// The answer for a core error: 500s are logged and hidden, other server-side statuses
    /// (an upstream failing) keep their message, client errors say what to fix.
    pub fn from_domain(err: impl ErrorInfo) -> Self {
        let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return ApiError::internal(&err);
        }
        let kind = match status {
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "upstream_error",
            _ => "invalid_request_error",
        };
        ApiError::new(status, kind, err.code(), err.to_string(), err.param())
    }

    /// Attaches the trace id header.
    pub fn with_trace(mut self, id: TraceId) -> Self {
        self.trace_id = Some(id);
        self
    }
}

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = match &err {
            GatewayError::InvalidRequest { .. } | GatewayError::ModelNotFound(_) | GatewayError::WrongModelKind(_) => {
                "invalid_request_error"
            }
            GatewayError::RateLimited { .. } => "rate_limit_error",
            GatewayError::Upstream { .. } | GatewayError::Timeout(_) => "upstream_error",
            GatewayError::Internal(_) => "server_error",
            GatewayError::Rejected { status, .. } if *status >= 500 => "server_error",
            GatewayError::Rejected { .. } => "invalid_request_error",
        };
        let param = match &err {
            GatewayError::InvalidRequest { param, .. } => param.clone(),
            GatewayError::ModelNotFound(_) | GatewayError::WrongModelKind(_) => Some("model".to_string()),
            GatewayError::Rejected { param, .. } => param.clone(),
            _ => None,
        };
        let retry_after = match &err {
            GatewayError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        };
        let mut api = ApiError::new(status, kind, err.code(), err.to_string(), param);
        api.retry_after = retry_after;
        api
    }
}

impl From<JsonParseError> for ApiError {
    fn from(err: JsonParseError) -> Self {
        ApiError::bad_request(err.code, err.message, err.param.as_deref())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            // Round up: telling a client to come back early only earns it another 429.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert("retry-after", v);
            }
        }
        if let Some(id) = self.trace_id {
            if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                headers.insert(crate::routes::TRACE_HEADER, v);
            }
        }
        response
    }
}
