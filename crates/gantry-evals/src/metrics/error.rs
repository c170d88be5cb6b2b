//! Why an evaluator could not produce a value, with a stable code and the HTTP status it maps to.

use gantry_core::ErrorInfo;

/// An evaluator that cannot produce a value from its inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The regular expression does not compile.
    #[error("invalid regular expression '{pattern}': {message}")]
    InvalidRegex { pattern: String, message: String },
    /// The JSON Schema is itself invalid.
    #[error("invalid JSON Schema: {message}")]
    InvalidJsonSchema { message: String },
    /// A metric over a set of items got none.
    #[error("{what} must not be empty")]
    EmptyInput { what: &'static str },
    /// Two lists that pair up item by item have different lengths.
    #[error("{left_name} has {left} item(s) but {right_name} has {right}; they must pair up one to one")]
    LengthMismatch { left_name: &'static str, left: usize, right_name: &'static str, right: usize },
    /// A prediction has no reference to be compared with.
    #[error("item {index} has no reference to compare with")]
    NoReferences { index: usize },
    /// Two vectors of different dimensions cannot be compared.
    #[error("the vectors have different dimensions: {left} and {right}")]
    VectorLengthMismatch { left: usize, right: usize },
    /// A vector with no length has no direction, so no cosine.
    #[error("the {which} vector is all zeros (or empty), so it has no direction to compare")]
    ZeroVector { which: &'static str },
    /// NaN or infinity inside a vector.
    #[error("the {which} vector holds a NaN or infinite value")]
    NonFiniteVector { which: &'static str },
    /// The judge's score range itself is unusable.
    #[error("invalid judge score range: min {min} must be a finite number not above max {max}")]
    InvalidScoreRange { min: f64, max: f64 },
    /// The judge's answer holds no score.
    #[error("the judge's answer holds no score: expected a JSON object {{\"score\": .., \"reason\": ..}} or a line 'Score: N'")]
    JudgeScoreMissing,
    /// The judge's score is not a number.
    #[error("the judge's score {value} is not a number")]
    JudgeScoreNotANumber { value: String },
    /// The judge's score lies outside the allowed range.
    #[error("the judge's score {score} is outside the allowed range [{min}, {max}]")]
    JudgeScoreOutOfRange { score: f64, min: f64, max: f64 },
}

/// The judge parser's error: the module's one error type, named for its signature.
pub type JudgeParseError = MetricError;

impl MetricError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            MetricError::InvalidRegex { .. } => "invalid_regex",
            MetricError::InvalidJsonSchema { .. } => "invalid_json_schema",
            MetricError::EmptyInput { .. } => "empty_input",
            MetricError::LengthMismatch { .. } => "length_mismatch",
            MetricError::NoReferences { .. } => "no_references",
            MetricError::VectorLengthMismatch { .. } => "vector_length_mismatch",
            MetricError::ZeroVector { .. } => "zero_vector",
            MetricError::NonFiniteVector { .. } => "non_finite_vector",
            MetricError::InvalidScoreRange { .. } => "invalid_score_range",
            MetricError::JudgeScoreMissing => "judge_score_missing",
            MetricError::JudgeScoreNotANumber { .. } => "judge_score_not_a_number",
            MetricError::JudgeScoreOutOfRange { .. } => "judge_score_out_of_range",
        }
    }

    /// The HTTP status a client gets: every evaluator error is caused by its inputs.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The input at fault, when one is.
    pub fn param(&self) -> Option<String> {
        let param = match self {
            MetricError::InvalidRegex { .. } => "pattern",
            MetricError::InvalidJsonSchema { .. } => "schema",
            MetricError::EmptyInput { what } => what,
            MetricError::LengthMismatch { right_name, .. } => right_name,
            MetricError::NoReferences { .. } => "references",
            MetricError::VectorLengthMismatch { .. } | MetricError::ZeroVector { .. } => "embedding",
            MetricError::NonFiniteVector { .. } => "embedding",
            MetricError::InvalidScoreRange { .. } => "score_range",
            MetricError::JudgeScoreMissing
            | MetricError::JudgeScoreNotANumber { .. }
            | MetricError::JudgeScoreOutOfRange { .. } => "judge_output",
        };
        Some(param.to_string())
    }
}

impl ErrorInfo for MetricError {
    fn code(&self) -> &'static str {
        MetricError::code(self)
    }
    fn http_status(&self) -> u16 {
        MetricError::http_status(self)
    }
    fn param(&self) -> Option<String> {
        MetricError::param(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_a_client_error_with_its_own_code() {
        let errors = [
            MetricError::InvalidRegex { pattern: "(".into(), message: "unclosed".into() },
            MetricError::InvalidJsonSchema { message: "bad".into() },
            MetricError::EmptyInput { what: "y_true" },
            MetricError::LengthMismatch { left_name: "y_true", left: 1, right_name: "y_pred", right: 2 },
            MetricError::NoReferences { index: 0 },
            MetricError::VectorLengthMismatch { left: 1, right: 2 },
            MetricError::ZeroVector { which: "first" },
            MetricError::NonFiniteVector { which: "first" },
            MetricError::InvalidScoreRange { min: 2.0, max: 1.0 },
            MetricError::JudgeScoreMissing,
            MetricError::JudgeScoreNotANumber { value: "\"high\"".into() },
            MetricError::JudgeScoreOutOfRange { score: 11.0, min: 1.0, max: 10.0 },
        ];
        let mut codes: Vec<&str> = errors.iter().map(|e| ErrorInfo::code(e)).collect();
        assert!(errors.iter().all(|e| ErrorInfo::http_status(e) == 400 && ErrorInfo::param(e).is_some()));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(
            MetricError::LengthMismatch { left_name: "y_true", left: 1, right_name: "y_pred", right: 2 }.param(),
            Some("y_pred".to_string())
        );
    }
}
