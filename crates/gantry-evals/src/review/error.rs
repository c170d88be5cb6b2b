//! Why a feedback or review operation failed, with a stable code and the HTTP status it maps to.

use chrono::{DateTime, Utc};
use gantry_store::StoreError;
use gantry_types::TraceId;
use uuid::Uuid;

/// A failed feedback or review operation.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The trace named does not exist (or is not written yet: traces are stored in batches).
    #[error("no trace with id {id}")]
    TraceNotFound { id: TraceId, param: Option<String> },
    /// Feedback that cannot be stored as sent.
    #[error("{message}")]
    InvalidFeedback { message: String, param: String },
    /// A query parameter out of its domain.
    #[error("{message}")]
    InvalidParameter { message: String, param: String },
    /// A queue name that cannot be used (it appears in URLs).
    #[error("'{0}' is not a valid review queue name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    InvalidQueueName(String),
    /// A rubric without criteria, with duplicate names or with an impossible scale.
    #[error("{message}")]
    InvalidRubric { message: String, param: String },
    /// A rubric file that cannot be read or parsed.
    #[error("{path}: {message}")]
    RubricFile { path: String, message: String },
    /// A queue of that name exists.
    #[error("a review queue named '{0}' already exists")]
    QueueExists(String),
    /// No queue of that name.
    #[error("no review queue named '{0}'")]
    QueueNotFound(String),
    /// Items that cannot be added as sent.
    #[error("{message}")]
    InvalidItems { message: String, param: String },
    /// The eval run items were asked from does not exist.
    #[error("no eval run with id '{0}'")]
    EvalRunNotFound(String),
    /// The queue holds no item with that id.
    #[error("review queue '{queue}' has no item {id}")]
    ItemNotFound { queue: String, id: String },
    /// The item was reviewed already.
    #[error("item {id} was already reviewed by {reviewer}")]
    AlreadyReviewed { id: Uuid, reviewer: String },
    /// Another reviewer holds the item.
    #[error("item {id} is claimed by {reviewer} until {}", .until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))]
    ClaimedByOther { id: Uuid, reviewer: String, until: DateTime<Utc> },
    /// Scores that do not fit the rubric; `criterion` names the first one at fault.
    #[error("{message}")]
    InvalidScores { message: String, criterion: String },
    /// A review (or a claim) that cannot be accepted as sent: reviewer, correction, comment.
    #[error("{message}")]
    InvalidReview { message: String, param: String },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
}

impl ReviewError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ReviewError::TraceNotFound { .. } => "trace_not_found",
            ReviewError::InvalidFeedback { .. } => "invalid_feedback",
            ReviewError::InvalidParameter { .. } => "invalid_parameter",
            ReviewError::InvalidQueueName(_) => "invalid_queue_name",
            ReviewError::InvalidRubric { .. } => "invalid_rubric",
            ReviewError::RubricFile { .. } => "invalid_rubric_file",
            ReviewError::QueueExists(_) => "review_queue_exists",
            ReviewError::QueueNotFound(_) => "review_queue_not_found",
            ReviewError::InvalidItems { .. } => "invalid_review_items",
            ReviewError::ItemNotFound { .. } => "review_item_not_found",
            ReviewError::EvalRunNotFound(_) => "eval_run_not_found",
            ReviewError::AlreadyReviewed { .. } => "item_already_reviewed",
            ReviewError::ClaimedByOther { .. } => "item_claimed",
            ReviewError::InvalidScores { .. } => "invalid_scores",
            ReviewError::InvalidReview { .. } => "invalid_review",
            ReviewError::Store(e) => e.code(),
            ReviewError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status a client gets for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            ReviewError::TraceNotFound { .. }
            | ReviewError::QueueNotFound(_)
            | ReviewError::ItemNotFound { .. }
            | ReviewError::EvalRunNotFound(_) => 404,
            ReviewError::InvalidFeedback { .. }
            | ReviewError::InvalidParameter { .. }
            | ReviewError::InvalidQueueName(_)
            | ReviewError::InvalidRubric { .. }
            | ReviewError::RubricFile { .. }
            | ReviewError::InvalidItems { .. }
            | ReviewError::InvalidScores { .. }
            | ReviewError::InvalidReview { .. } => 400,
            ReviewError::QueueExists(_) | ReviewError::AlreadyReviewed { .. } | ReviewError::ClaimedByOther { .. } => {
                409
            }
            ReviewError::Store(_) | ReviewError::Internal(_) => 500,
        }
    }

    /// The request parameter at fault, when one is.
    pub fn param(&self) -> Option<String> {
        match self {
            ReviewError::TraceNotFound { param, .. } => param.clone(),
            ReviewError::InvalidFeedback { param, .. }
            | ReviewError::InvalidParameter { param, .. }
            | ReviewError::InvalidRubric { param, .. }
            | ReviewError::InvalidItems { param, .. }
            | ReviewError::InvalidReview { param, .. } => Some(param.clone()),
            ReviewError::InvalidQueueName(_) | ReviewError::QueueNotFound(_) | ReviewError::QueueExists(_) => {
                Some("name".to_string())
            }
            ReviewError::InvalidScores { criterion, .. } => Some(format!("scores.{criterion}")),
            ReviewError::EvalRunNotFound(_) => Some("eval_run.run_id".to_string()),
            _ => None,
        }
    }
}

impl gantry_core::ErrorInfo for ReviewError {
    fn code(&self) -> &'static str {
        ReviewError::code(self)
    }
    fn http_status(&self) -> u16 {
        ReviewError::http_status(self)
    }
    fn param(&self) -> Option<String> {
        ReviewError::param(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_codes_and_params() {
        let err = ReviewError::InvalidScores { message: "x".into(), criterion: "helpful".into() };
        assert_eq!(
            (err.http_status(), err.code(), err.param().as_deref()),
            (400, "invalid_scores", Some("scores.helpful"))
        );
        let err = ReviewError::QueueExists("q".into());
        assert_eq!((err.http_status(), err.code()), (409, "review_queue_exists"));
        let err = ReviewError::TraceNotFound { id: TraceId::new(), param: None };
        assert_eq!((err.http_status(), err.code(), err.param()), (404, "trace_not_found", None));
        let until = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let err = ReviewError::ClaimedByOther { id: Uuid::nil(), reviewer: "ana".into(), until };
        assert_eq!(err.http_status(), 409);
        assert_eq!(
            err.to_string(),
            "item 00000000-0000-0000-0000-000000000000 is claimed by ana until 2027-01-15T08:00:00Z"
        );
    }
}
