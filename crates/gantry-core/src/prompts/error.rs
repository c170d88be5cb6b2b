//! Why a prompt could not be pushed, found or rendered; each variant has a stable code, an
//! HTTP status and, where one is at fault, the parameter.

use crate::registry::RegistryError;
use gantry_store::StoreError;

/// A prompt failure.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Names, labels, references, not found, store failures.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A prompt file could not be read or parsed.
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// A field of the prompt is wrong.
    #[error("{field}: {message}")]
    InvalidPrompt { field: String, message: String },
    /// A variable declaration is wrong (name, type, default).
    #[error("variable '{variable}': {message}")]
    InvalidVariableDeclaration { variable: String, message: String },
    /// A template does not parse.
    #[error("messages[{message_index}].content: template syntax error{}: {detail}", at(*line, *column))]
    TemplateSyntax { message_index: usize, line: Option<usize>, column: Option<usize>, detail: String },
    /// A template uses a variable the prompt does not declare.
    #[error(
        "messages[{message_index}].content uses the variable '{name}', which is not declared (declared: {})",
        list(declared)
    )]
    UndeclaredVariable { message_index: usize, name: String, declared: Vec<String> },
    /// The output schema is not a valid JSON Schema.
    #[error("output_schema is not a valid JSON Schema: {message}")]
    InvalidOutputSchema { message: String },
    /// A chat parameter has the wrong type or value.
    #[error("{param}: {message}")]
    InvalidParameter { param: String, message: String },
    /// The variables are not a JSON object.
    #[error("variables must be a JSON object of name to value, not {found}")]
    VariablesNotObject { found: &'static str },
    /// A variable was given that the prompt does not declare.
    #[error("unknown variable '{name}': the prompt declares {}", list(declared))]
    UnknownVariable { name: String, declared: Vec<String> },
    /// A required variable was not given.
    #[error("missing required variable '{name}'")]
    MissingVariable { name: String },
    /// A variable's value has the wrong type.
    #[error("variable '{name}' must be {expected}, got {actual}")]
    VariableType { name: String, expected: &'static str, actual: &'static str },
    /// A template failed while rendering (e.g. an attribute that is not there).
    #[error("messages[{message_index}].content: rendering failed{}: {detail}", at(*line, *column))]
    Render { message_index: usize, line: Option<usize>, column: Option<usize>, detail: String },
    /// Neither the prompt nor the request names a model to call.
    #[error("prompt '{reference}' declares no model; add `model` to the prompt or send gantry.model")]
    ModelMissing { reference: String },
    /// The request's `gantry` field is malformed.
    #[error("{message}")]
    InvalidGantryField { param: String, message: String },
    /// A stored version could not be read back as a prompt.
    #[error("stored prompt {name} version {version} is unreadable: {message}")]
    Corrupt { name: String, version: u32, message: String },
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no variables".to_string()
    } else {
        names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
    }
}

impl From<StoreError> for PromptError {
    fn from(e: StoreError) -> Self {
        PromptError::Registry(RegistryError::Store(e))
    }
}

impl PromptError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            PromptError::Registry(e) => e.code(),
            PromptError::File { .. } => "invalid_prompt_file",
            PromptError::InvalidPrompt { .. } => "invalid_prompt",
            PromptError::InvalidVariableDeclaration { .. } => "invalid_variable_declaration",
            PromptError::TemplateSyntax { .. } => "template_syntax_error",
            PromptError::UndeclaredVariable { .. } => "undeclared_variable",
            PromptError::InvalidOutputSchema { .. } => "invalid_output_schema",
            PromptError::InvalidParameter { .. } => "invalid_parameter",
            PromptError::VariablesNotObject { .. } => "invalid_variables",
            PromptError::UnknownVariable { .. } => "unknown_variable",
            PromptError::MissingVariable { .. } => "missing_variable",
            PromptError::VariableType { .. } => "variable_type_mismatch",
            PromptError::Render { .. } => "template_render_error",
            PromptError::ModelMissing { .. } => "prompt_model_missing",
            PromptError::InvalidGantryField { .. } => "invalid_gantry_field",
            PromptError::Corrupt { .. } => "store_corrupt",
            PromptError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status a client gets for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            PromptError::Registry(e) => e.http_status(),
            PromptError::Corrupt { .. } | PromptError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The request parameter at fault, as a JSON path, when there is one.
    pub fn param(&self) -> Option<String> {
        match self {
            PromptError::Registry(e) => e.param().map(str::to_string),
            PromptError::InvalidPrompt { field, .. } => Some(field.clone()),
            PromptError::InvalidVariableDeclaration { variable, .. } => Some(format!("variables.{variable}")),
            PromptError::TemplateSyntax { message_index, .. }
            | PromptError::UndeclaredVariable { message_index, .. }
            | PromptError::Render { message_index, .. } => Some(format!("messages[{message_index}].content")),
            PromptError::InvalidOutputSchema { .. } => Some("output_schema".to_string()),
            PromptError::InvalidParameter { param, .. } | PromptError::InvalidGantryField { param, .. } => {
                Some(param.clone())
            }
            PromptError::VariablesNotObject { .. } => Some("variables".to_string()),
            PromptError::UnknownVariable { name, .. }
            | PromptError::MissingVariable { name }
            | PromptError::VariableType { name, .. } => Some(format!("variables.{name}")),
            PromptError::File { .. }
            | PromptError::ModelMissing { .. }
            | PromptError::Corrupt { .. }
            | PromptError::Internal(_) => None,
        }
    }
}
