//! The gateway's error: what the client is told when a call fails.

use gantry_providers::ProviderError;
use std::time::Duration;

/// Why a gateway call failed. The server maps each variant to an HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed or asks for something impossible.
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<String> },
    /// No model of that name is configured.
    #[error("The model '{0}' does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// The model exists but cannot serve this kind of call (e.g. chat on an embedding model).
    #[error("{0}")]
    WrongModelKind(String),
    /// Every target refused with 429 after retries.
    #[error("{message}")]
    RateLimited { message: String, retry_after: Option<Duration> },
    /// Every target failed.
    #[error("{message}")]
    Upstream { message: String, code: &'static str },
    /// The call ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
    /// A request refused by a Gantry feature (a prompt that is not found, bad variables),
    /// with that feature's status, code and parameter.
    #[error("{message}")]
    Rejected { status: u16, code: &'static str, message: String, param: Option<String> },
}

impl GatewayError {
    /// Stable machine code, sent as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::ModelNotFound(_) => "model_not_found",
            GatewayError::WrongModelKind(_) => "wrong_model_kind",
            GatewayError::RateLimited { .. } => "rate_limit_exceeded",
            GatewayError::Upstream { code, .. } => code,
            GatewayError::Timeout(_) => "timeout",
            GatewayError::Internal(_) => "internal_error",
            GatewayError::Rejected { code, .. } => code,
        }
    }

    /// A bad request with the offending parameter.
    pub fn invalid(message: impl Into<String>, param: &str) -> Self {
        GatewayError::InvalidRequest { message: message.into(), param: Some(param.to_string()) }
    }

    /// The error the client sees after `err` was the last failure of every target.
    pub fn from_provider(err: &ProviderError, target: &str) -> Self {
        match err {
            ProviderError::Upstream { status: 429, message, retry_after } => GatewayError::RateLimited {
                message: format!("{target} is rate limited: {message}"),
                retry_after: *retry_after,
            },
            ProviderError::Timeout(m) => GatewayError::Timeout(format!("{target} timed out: {m}")),
            ProviderError::InvalidRequest(m) | ProviderError::Unsupported(m) => {
                GatewayError::InvalidRequest { message: format!("{target}: {m}"), param: None }
            }
            other => GatewayError::Upstream { message: format!("{target} failed: {other}"), code: other.code() },
        }
    }
}

/// What the server needs to answer with a core error: a stable code, an HTTP status and the
/// parameter at fault. Every core error type implements it, so one mapping serves them all.
pub trait ErrorInfo: std::fmt::Display {
    /// Stable machine code, sent as `error.code`.
    fn code(&self) -> &'static str;
    /// The HTTP status a client gets.
    fn http_status(&self) -> u16;
    /// The request parameter at fault, when there is one.
    fn param(&self) -> Option<String>;
}

/// Implements [`ErrorInfo`] with the error type's own `code`, `http_status` and `param`.
macro_rules! error_info {
    ($($error:ty),* $(,)?) => {$(
        impl ErrorInfo for $error {
            fn code(&self) -> &'static str {
                <$error>::code(self)
            }
            fn http_status(&self) -> u16 {
                <$error>::http_status(self)
            }
            fn param(&self) -> Option<String> {
                <$error>::param(self).map(|p| p.to_string())
            }
        }
    )*};
}

error_info!(
    crate::alerts::AlertError,
    crate::analytics::AnalyticsError,
    crate::prompts::PromptError,
    crate::rag::RagError,
    crate::registry::RegistryError,
    crate::chains::ChainError,
    crate::deploy::DeployError,
    crate::otel::OtelError,
    crate::monitor::DriftError,
);
