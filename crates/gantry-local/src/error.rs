//! The crate's error type.

use std::path::PathBuf;

/// Why loading, resolving or writing a local model failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A configured model path does not exist.
    #[error("model not found: {path} does not exist")]
    NotFound {
        /// The path that was looked for.
        path: PathBuf,
    },
    /// The file exists but is not a usable model (wrong format, truncated, missing parts).
    #[error("invalid model {path}: {reason}")]
    InvalidModel {
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The engine (llama.cpp or candle) refused to load a model that looked valid.
    #[error("could not load model {path}: {reason}")]
    Load {
        /// The model file or directory.
        path: PathBuf,
        /// The engine's explanation.
        reason: String,
    },
    /// The inference engine itself failed (backend initialisation, worker thread).
    #[error("local inference engine failure: {0}")]
    Engine(String),
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No source could provide a model; `message` lists every source and why it failed.
    #[error("{message}")]
    Unavailable {
        /// Which model was wanted, every source tried, and the fix.
        message: String,
    },
    /// Writing a generated test model failed.
    #[error("could not write test model: {0}")]
    Write(String),
}

impl LocalError {
    /// Stable machine code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            LocalError::NotFound { .. } => "local_model_not_found",
            LocalError::InvalidModel { .. } => "local_model_invalid",
            LocalError::Load { .. } => "local_model_load_failed",
            LocalError::Engine(_) => "local_engine_failure",
            LocalError::Io { .. } => "local_io_error",
            LocalError::Unavailable { .. } => "local_model_unavailable",
            LocalError::Write(_) => "local_test_model_write_failed",
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LocalError::Io { action, path: path.into(), source }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        LocalError::InvalidModel { path: path.into(), reason: reason.into() }
    }
}
