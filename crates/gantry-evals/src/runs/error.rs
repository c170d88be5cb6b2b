//! Why an eval run could not start, resume or be shown.

use gantry_core::ErrorInfo;
use gantry_store::StoreError;

/// An eval run failure, each variant with a stable machine code.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The suite file or body is not a valid suite.
    #[error("invalid eval suite {source_name}: {message}")]
    InvalidSuite { source_name: String, message: String },
    /// `[[online_evaluators]]` in the config are not valid; every problem, joined.
    #[error("invalid [[online_evaluators]]: {0}")]
    InvalidOnlineEvaluators(String),
    /// The dataset the suite names cannot be loaded.
    #[error("{0}")]
    Dataset(String),
    /// The suite's target cannot be prepared (unknown prompt or chain, no model).
    #[error("eval target {target}: {message}")]
    Target { target: String, message: String },
    /// No run with that id.
    #[error("no eval run with id '{0}'")]
    RunNotFound(String),
    /// A run asked to resume belongs to another suite or is already complete.
    #[error("cannot resume eval run {id}: {reason}")]
    CannotResume { id: String, reason: String },
    /// A request parameter is wrong.
    #[error("{message}")]
    InvalidParameter { param: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ErrorInfo for EvalError {
    fn code(&self) -> &'static str {
        match self {
            EvalError::InvalidSuite { .. } => "invalid_eval_suite",
            EvalError::InvalidOnlineEvaluators(_) => "invalid_config",
            EvalError::Dataset(_) => "dataset_unavailable",
            EvalError::Target { .. } => "invalid_eval_target",
            EvalError::RunNotFound(_) => "eval_run_not_found",
            EvalError::CannotResume { .. } => "eval_run_not_resumable",
            EvalError::InvalidParameter { .. } => "invalid_parameter",
            EvalError::Store(e) => e.code(),
        }
    }

    fn http_status(&self) -> u16 {
        match self {
            EvalError::InvalidSuite { .. }
            | EvalError::InvalidOnlineEvaluators(_)
            | EvalError::Target { .. }
            | EvalError::InvalidParameter { .. } => 400,
            EvalError::Dataset(_) => 400,
            EvalError::RunNotFound(_) => 404,
            EvalError::CannotResume { .. } => 409,
            EvalError::Store(_) => 500,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            EvalError::InvalidParameter { param, .. } => Some((*param).to_string()),
            _ => None,
        }
    }
}
