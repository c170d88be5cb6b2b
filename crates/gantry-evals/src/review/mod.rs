//! User feedback on traces and human review queues: feedback with aggregates by prompt
//! version or model; queues with a rubric, atomic claims with a lease, validated reviews, and
//! an export in the dataset item format so reviewed items become the next dataset.

mod error;
mod export;
mod feedback;
mod from_eval;
mod queues;
mod rubric;

pub use error::ReviewError;
pub use export::{export_items, export_jsonl, reviewed_to_dataset_item};
pub use feedback::{add_feedback, feedback_summary, list_feedback, parse_group_by, MAX_COMMENT_BYTES, MAX_NAME_CHARS};
pub use from_eval::EvalRunItems;
pub use queues::{
    add_items, create_queue, get_queue, item_from_trace, list_queues, next_item, next_item_at, submit_review,
    AddItemsRequest, DEFAULT_LEASE_SECONDS, MAX_ITEMS_PER_CALL,
};
pub use rubric::{read_rubric_file, validate_rubric, validate_scores, RubricFile};

use gantry_types::{FeedbackValue, TraceId};

/// Reads a value typed on a command line: `true`/`false`, a number, else a category.
pub fn parse_value_text(text: &str) -> FeedbackValue {
    match text {
        "true" => FeedbackValue::Bool(true),
        "false" => FeedbackValue::Bool(false),
        _ => match text.parse::<f64>() {
            // "nan" and "inf" parse as floats but are no one's rating: keep them as words.
            Ok(n) if n.is_finite() => FeedbackValue::Number(n),
            _ => FeedbackValue::Category(text.to_string()),
        },
    }
}

/// Parses a trace id sent as `param`.
pub fn parse_trace_id(text: &str, param: &str) -> Result<TraceId, ReviewError> {
    text.parse().map_err(|_| ReviewError::InvalidParameter {
        message: format!("'{text}' is not a trace id (a UUID)"),
        param: param.to_string(),
    })
}

/// Checks a short label (a feedback name, a reviewer, an author): 1 to `max` characters,
/// no control characters, no surrounding spaces. Returns the problem, if any.
pub(crate) fn label_problem(text: &str, what: &str, max: usize) -> Option<String> {
    let chars = text.chars().count();
    if chars == 0 || text.trim().is_empty() {
        Some(format!("{what} must not be empty"))
    } else if chars > max {
        Some(format!("{what} must be at most {max} characters, got {chars}"))
    } else if text.trim() != text {
        Some(format!("{what} must not start or end with spaces"))
    } else if text.chars().any(char::is_control) {
        Some(format!("{what} must not contain control characters"))
    } else {
        None
    }
}

/// Checks an optional free text against a byte limit. Returns the problem, if any.
pub(crate) fn text_problem(text: Option<&str>, what: &str, max_bytes: usize) -> Option<String> {
    let len = text.map_or(0, str::len);
    (len > max_bytes).then(|| format!("{what} must be at most {max_bytes} bytes, got {len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values() {
        assert_eq!(parse_value_text("true"), FeedbackValue::Bool(true));
        assert_eq!(parse_value_text("4"), FeedbackValue::Number(4.0));
        assert_eq!(parse_value_text("-0.5"), FeedbackValue::Number(-0.5));
        assert_eq!(parse_value_text("billing"), FeedbackValue::Category("billing".into()));
        assert_eq!(parse_value_text("NaN"), FeedbackValue::Category("NaN".into()));
        assert_eq!(parse_value_text("True"), FeedbackValue::Category("True".into()));
    }

    #[test]
    fn labels() {
        assert_eq!(label_problem("thumbs", "name", 64), None);
        assert_eq!(label_problem("", "name", 64).as_deref(), Some("name must not be empty"));
        assert_eq!(label_problem(" x", "name", 64).as_deref(), Some("name must not start or end with spaces"));
        assert_eq!(
            label_problem(&"é".repeat(65), "name", 64).as_deref(),
            Some("name must be at most 64 characters, got 65")
        );
        assert!(label_problem("a\nb", "name", 64).is_some());
        assert_eq!(
            text_problem(Some(&"x".repeat(4097)), "comment", 4096).as_deref(),
            Some("comment must be at most 4096 bytes, got 4097")
        );
    }
}
