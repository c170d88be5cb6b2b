//! Why a dataset operation failed, with a stable code and the HTTP status it maps to.

use gantry_core::prompts::PromptError;
use gantry_core::ErrorInfo;
use gantry_store::StoreError;

/// A failed dataset operation.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A dataset name that cannot be used (it appears in URLs and `NAME@VERSION` references).
    #[error("'{0}' is not a valid dataset name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    InvalidName(String),
    /// No dataset of that name.
    #[error("no dataset named '{0}'")]
    NotFound(String),
    /// The dataset exists but not that version.
    #[error("dataset '{name}' has no version {version}")]
    VersionNotFound { name: String, version: u32 },
    /// A line or row of an imported file cannot be read.
    #[error("line {line}: {message}")]
    InvalidFile { line: u64, message: String },
    /// A line or row lacks a column the mapping names.
    #[error("line {line}: column '{column}' is missing")]
    MissingColumn { line: u64, column: String },
    /// The file is not UTF-8.
    #[error("line {line}: the file is not valid UTF-8 text; convert it to UTF-8 first")]
    InvalidEncoding { line: u64 },
    /// The column flags contradict each other.
    #[error("{0}")]
    InvalidMapping(String),
    /// A version would have no items.
    #[error("{0}")]
    Empty(String),
    /// A request parameter is out of range or malformed.
    #[error("{message}")]
    InvalidParameter { message: String, param: &'static str },
    /// Exporting variables as chat needs a prompt to render them with.
    #[error("item {index} has variables as input: name a prompt to render them into messages (--prompt / prompt=)")]
    PromptRequired { index: u32 },
    /// Rendering an item with the prompt failed.
    #[error("item {index}: {source}")]
    Render { index: u32, source: PromptError },
    /// Looking up the prompt failed.
    #[error(transparent)]
    Prompt(PromptError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
}

impl DatasetError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DatasetError::InvalidName(_) => "invalid_dataset_name",
            DatasetError::NotFound(_) => "dataset_not_found",
            DatasetError::VersionNotFound { .. } => "dataset_version_not_found",
            DatasetError::InvalidFile { .. } => "invalid_dataset_file",
            DatasetError::MissingColumn { .. } => "missing_column",
            DatasetError::InvalidEncoding { .. } => "invalid_encoding",
            DatasetError::InvalidMapping(_) => "invalid_column_mapping",
            DatasetError::Empty(_) => "empty_dataset",
            DatasetError::InvalidParameter { .. } => "invalid_parameter",
            DatasetError::PromptRequired { .. } => "prompt_required",
            DatasetError::Render { .. } => "render_failed",
            DatasetError::Prompt(e) => e.code(),
            DatasetError::Store(e) => e.code(),
            DatasetError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            DatasetError::NotFound(_) | DatasetError::VersionNotFound { .. } => 404,
            DatasetError::Prompt(e) => e.http_status(),
            DatasetError::Store(_) | DatasetError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The request parameter at fault, when one is.
    pub fn param(&self) -> Option<String> {
        match self {
            DatasetError::InvalidName(_) | DatasetError::NotFound(_) => Some("name".into()),
            DatasetError::VersionNotFound { .. } => Some("version".into()),
            DatasetError::InvalidParameter { param, .. } => Some(param.to_string()),
            DatasetError::PromptRequired { .. } | DatasetError::Render { .. } => Some("prompt".into()),
            DatasetError::Prompt(e) => e.param(),
            _ => None,
        }
    }

    pub(crate) fn parameter(message: impl Into<String>, param: &'static str) -> Self {
        DatasetError::InvalidParameter { message: message.into(), param }
    }
}

impl ErrorInfo for DatasetError {
    fn code(&self) -> &'static str {
        DatasetError::code(self)
    }
    fn http_status(&self) -> u16 {
        DatasetError::http_status(self)
    }
    fn param(&self) -> Option<String> {
        DatasetError::param(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_messages() {
        let e = DatasetError::InvalidFile { line: 3, message: "expected value".into() };
        assert_eq!(
            (e.code(), e.http_status(), e.to_string().as_str()),
            ("invalid_dataset_file", 400, "line 3: expected value")
        );
        let e = DatasetError::VersionNotFound { name: "qa".into(), version: 4 };
        assert_eq!((e.code(), e.http_status(), e.param()), ("dataset_version_not_found", 404, Some("version".into())));
        assert_eq!(DatasetError::NotFound("x".into()).http_status(), 404);
        assert_eq!(DatasetError::Store(StoreError::Corrupt("x".into())).http_status(), 500);
    }
}
