//! Feedback on traces: add, list, aggregate.

use super::{label_problem, text_problem, ReviewError};
use chrono::Utc;
use gantry_store::Store;
use gantry_types::{Feedback, FeedbackAggregate, FeedbackGroupBy, FeedbackValue, NewFeedback, TraceId};
use uuid::Uuid;

/// Longest feedback name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest comment, in bytes.
pub const MAX_COMMENT_BYTES: usize = 4096;
/// Longest category value, in characters.
const MAX_CATEGORY_CHARS: usize = 128;
/// Longest author name, in characters.
const MAX_AUTHOR_CHARS: usize = 128;
/// Recorded when feedback names no author.
const ANONYMOUS: &str = "anonymous";

fn invalid(message: String, param: &str) -> ReviewError {
    ReviewError::InvalidFeedback { message, param: param.to_string() }
}

fn check_value(value: &FeedbackValue) -> Result<(), ReviewError> {
    match value {
        FeedbackValue::Number(n) if !n.is_finite() => {
            Err(invalid(format!("value must be a finite number, got {n}"), "value"))
        }
        FeedbackValue::Category(c) => match label_problem(c, "a category value", MAX_CATEGORY_CHARS) {
            Some(problem) => Err(invalid(problem, "value")),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

async fn require_trace(store: &dyn Store, trace_id: TraceId) -> Result<(), ReviewError> {
    match store.get_trace(trace_id).await? {
        Some(_) => Ok(()),
        None => Err(ReviewError::TraceNotFound { id: trace_id, param: None }),
    }
}

/// Records feedback on a trace; the trace must exist.
pub async fn add_feedback(
    store: &dyn Store,
    trace_id: TraceId,
    feedback: NewFeedback,
) -> Result<Feedback, ReviewError> {
    if let Some(problem) = label_problem(&feedback.name, "name", MAX_NAME_CHARS) {
        return Err(invalid(problem, "name"));
    }
    check_value(&feedback.value)?;
    if let Some(problem) = text_problem(feedback.comment.as_deref(), "comment", MAX_COMMENT_BYTES) {
        return Err(invalid(problem, "comment"));
    }
    let author = feedback.author.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    if let Some(problem) = author.as_deref().and_then(|a| label_problem(a, "author", MAX_AUTHOR_CHARS)) {
        return Err(invalid(problem, "author"));
    }
    require_trace(store, trace_id).await?;
    let stored = Feedback {
        id: Uuid::now_v7(),
        trace_id,
        name: feedback.name,
        value: feedback.value,
        comment: feedback.comment.filter(|c| !c.trim().is_empty()),
        author: author.unwrap_or_else(|| ANONYMOUS.to_string()),
        // Stored to the microsecond; truncate now so the answer equals what reads back.
        created_at: chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now),
    };
    store.insert_feedback(&stored).await?;
    tracing::debug!(trace = %trace_id, name = %stored.name, "feedback recorded");
    Ok(stored)
}

/// A trace's feedback, oldest first; the trace must exist.
pub async fn list_feedback(store: &dyn Store, trace_id: TraceId) -> Result<Vec<Feedback>, ReviewError> {
    require_trace(store, trace_id).await?;
    Ok(store.list_feedback(trace_id).await?)
}

/// Parses `prompt` or `model` (the `group_by` parameter).
pub fn parse_group_by(text: &str) -> Result<FeedbackGroupBy, ReviewError> {
    FeedbackGroupBy::parse(text).ok_or_else(|| ReviewError::InvalidParameter {
        message: format!("group_by must be prompt or model, got '{text}'"),
        param: "group_by".to_string(),
    })
}

/// Aggregates per group (prompt version or model) and feedback name: count, mean of the
/// numeric and boolean values (true = 1), category counts. `name` narrows to one feedback name.
pub async fn feedback_summary(
    store: &dyn Store,
    group_by: FeedbackGroupBy,
    name: Option<&str>,
) -> Result<Vec<FeedbackAggregate>, ReviewError> {
    let name = name.filter(|n| !n.is_empty());
    if let Some(problem) = name.and_then(|n| label_problem(n, "name", MAX_NAME_CHARS)) {
        return Err(ReviewError::InvalidParameter { message: problem, param: "name".to_string() });
    }
    Ok(store.feedback_summary(group_by, name).await?)
}
