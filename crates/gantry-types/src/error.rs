//! The OpenAI error body and strict JSON parsing that names the offending field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `{"error": {...}}`, the body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

/// The fields OpenAI puts in an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

impl ApiErrorBody {
    /// Builds a body from its parts.
    pub fn new(message: impl Into<String>, kind: &str, param: Option<String>, code: &str) -> Self {
        Self {
            error: ApiErrorDetail {
                message: message.into(),
                kind: kind.to_string(),
                param,
                code: Some(code.to_string()),
            },
        }
    }
}

/// A request body that is not valid JSON or does not match the expected shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JsonParseError {
    pub message: String,
    /// The JSON path of the offending field (`messages[0].role`), when known.
    pub param: Option<String>,
    /// `invalid_json` for syntax errors, `invalid_request` for shape errors.
    pub code: &'static str,
}

/// Parses `bytes` as `T`, reporting the path of the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonParseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    if parsed.is_ok() {
        if let Err(trailing) = de.end() {
            return Err(JsonParseError {
                message: format!("We could not parse the JSON body of your request: {trailing}"),
                param: None,
                code: "invalid_json",
            });
        }
    }
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let syntax =
                matches!(inner.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof);
            if syntax {
                Err(JsonParseError {
                    message: format!("We could not parse the JSON body of your request: {inner}"),
                    param: None,
                    code: "invalid_json",
                })
            } else {
                let text = inner.to_string();
                // serde reports a missing field at its parent's path; name the field itself.
                if let Some(field) = text.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                    let param = if path == "." { field.to_string() } else { format!("{path}.{field}") };
                    return Err(JsonParseError {
                        message: format!("Missing required parameter: '{param}'."),
                        param: Some(param),
                        code: "missing_required_parameter",
                    });
                }
                let param = (path != ".").then_some(path);
                let message = match &param {
                    Some(p) => format!("Invalid value for '{p}': {inner}"),
                    None => format!("Invalid request body: {inner}"),
                };
                Err(JsonParseError { message, param, code: "invalid_request" })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChatCompletionRequest;

    #[test]
    fn syntax_errors_are_invalid_json() {
        let err = parse_json::<ChatCompletionRequest>(b"{\"model\": ").unwrap_err();
        assert_eq!(err.code, "invalid_json");
        assert_eq!(err.param, None);
    }

    #[test]
    fn shape_errors_name_the_field() {
        let body = br#"{"model":"m","messages":[{"role":"wizard","content":"hi"}]}"#;
        let err = parse_json::<ChatCompletionRequest>(body).unwrap_err();
        assert_eq!(err.code, "invalid_request");
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
        assert!(err.message.contains("wizard"), "{}", err.message);
    }

    #[test]
    fn missing_field_is_reported() {
        let err = parse_json::<ChatCompletionRequest>(br#"{"messages":[]}"#).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("model"));
        assert_eq!(err.code, "missing_required_parameter");
        let body = br#"{"model":"m","messages":[{"content":"hi"}]}"#;
        let err = parse_json::<ChatCompletionRequest>(body).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].role"), "{}", err.message);
    }
}
