//! String evaluators: exact match, containment, regular expressions, JSON and JSON Schema validity.

use super::normalize::{normalize_text, NormalizeOptions};
use super::MetricError;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;

/// Whether `prediction` equals `reference` after the chosen normalisation steps.
pub fn exact_match(prediction: &str, reference: &str, options: NormalizeOptions) -> bool {
    normalize_text(prediction, options) == normalize_text(reference, options)
}

/// Whether `output` contains `expected`; case-insensitive compares Unicode-lowercased texts.
pub fn contains(output: &str, expected: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        output.contains(expected)
    } else {
        output.to_lowercase().contains(&expected.to_lowercase())
    }
}

/// Compiles a pattern once for many [`regex_is_match`] calls; a bad pattern is a typed error.
pub fn compile_regex(pattern: &str) -> Result<Regex, MetricError> {
    Regex::new(pattern).map_err(|e| MetricError::InvalidRegex { pattern: pattern.to_string(), message: e.to_string() })
}

/// Whether the pattern matches anywhere in `text` (anchor it with `^...$` for a full match).
pub fn regex_match(pattern: &str, text: &str) -> Result<bool, MetricError> {
    Ok(regex_is_match(&compile_regex(pattern)?, text))
}

/// Whether a compiled pattern matches anywhere in `text`.
pub fn regex_is_match(regex: &Regex, text: &str) -> bool {
    regex.is_match(text)
}

/// Whether `text` is one well-formed JSON value (RFC 8259; surrounding whitespace allowed).
pub fn is_valid_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The result of checking a text against a JSON Schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaCheck {
    /// Whether the text is JSON and satisfies the schema.
    pub valid: bool,
    /// Why not: the parse error, or the first validation error (with its location).
    pub error: Option<String>,
}

/// A compiled JSON Schema, for checking many outputs against one schema.
pub struct JsonSchemaValidator {
    validator: jsonschema::Validator,
}

impl JsonSchemaValidator {
    /// Compiles `schema` (draft detected from `$schema`); an invalid schema is a typed error.
    pub fn new(schema: &Value) -> Result<Self, MetricError> {
        let validator =
            jsonschema::validator_for(schema).map_err(|e| MetricError::InvalidJsonSchema { message: e.to_string() })?;
        Ok(JsonSchemaValidator { validator })
    }

    /// Parses `text` as JSON and validates it, reporting the first error.
    pub fn check(&self, text: &str) -> SchemaCheck {
        let instance: Value = match serde_json::from_str(text) {
            Ok(instance) => instance,
            Err(e) => return SchemaCheck { valid: false, error: Some(format!("not valid JSON: {e}")) },
        };
        match self.validator.validate(&instance) {
            Ok(()) => SchemaCheck { valid: true, error: None },
            Err(e) => {
                let at = e.instance_path().to_string();
                let message = if at.is_empty() { e.to_string() } else { format!("{e} (at {at})") };
                SchemaCheck { valid: false, error: Some(message) }
            }
        }
    }
}

/// Checks `text` against `schema` in one call (compile with [`JsonSchemaValidator`] for many texts).
pub fn json_schema_check(text: &str, schema: &Value) -> Result<SchemaCheck, MetricError> {
    Ok(JsonSchemaValidator::new(schema)?.check(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bad_pattern_is_a_typed_error() {
        let error = regex_match("(unclosed", "text").unwrap_err();
        assert_eq!(error.code(), "invalid_regex");
        assert!(error.to_string().contains("(unclosed"));
        assert_eq!(regex_match(r"^\d{3}$", "123"), Ok(true));
        assert_eq!(regex_match(r"^\d{3}$", "1234"), Ok(false));
    }

    #[test]
    fn a_bad_schema_is_a_typed_error() {
        let error = json_schema_check("{}", &json!({"type": "no-such-type"})).unwrap_err();
        assert_eq!(error.code(), "invalid_json_schema");
    }

    #[test]
    fn schema_check_reports_the_first_error_and_its_location() {
        let schema = json!({"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]});
        assert_eq!(json_schema_check(r#"{"age": 3}"#, &schema), Ok(SchemaCheck { valid: true, error: None }));
        let wrong_type = json_schema_check(r#"{"age": "three"}"#, &schema).unwrap();
        assert!(!wrong_type.valid);
        assert!(wrong_type.error.unwrap().contains("/age"));
        let not_json = json_schema_check("{age: 3}", &schema).unwrap();
        assert!(not_json.error.unwrap().starts_with("not valid JSON"));
    }

    #[test]
    fn json_validity_and_containment() {
        assert!(is_valid_json(" {\"a\": [1, 2.5, null]} "));
        assert!(!is_valid_json("{\"a\": 1,}"));
        assert!(!is_valid_json(""));
        assert!(!is_valid_json("{} {}"));
        assert!(contains("Hello World", "world", false));
        assert!(!contains("Hello World", "world", true));
        assert!(exact_match(" The Answer! ", "answer", NormalizeOptions::SQUAD));
        assert!(!exact_match(" The Answer! ", "answer", NormalizeOptions::NONE));
    }
}
