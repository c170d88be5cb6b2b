//! Human review queues: a rubric of criteria, items waiting for a reviewer, and reviews.

use crate::dataset::ItemInput;
use crate::feedback::FeedbackValue;
use crate::ids::TraceId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The values a criterion takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scale {
    /// A number from `min` to `max` (both included) in steps of `step` from `min`; without
    /// a step, whole numbers.
    Numeric {
        min: f64,
        max: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<f64>,
    },
    /// Yes or no.
    Boolean,
    /// One of the named categories.
    Categories { categories: Vec<String> },
}

/// One thing a reviewer scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub scale: Scale,
}

/// The criteria of a queue; a review scores every one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    pub criteria: Vec<Criterion>,
}

/// A queue as a client creates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReviewQueue {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub rubric: Rubric,
    /// What reviewers are told before they start.
    #[serde(default)]
    pub instructions: Option<String>,
}

/// A stored review queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewQueue {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub rubric: Rubric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How many items of a queue are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCounts {
    pub pending: u64,
    /// Held by a reviewer whose claim has not expired.
    pub claimed: u64,
    pub done: u64,
}

/// A queue with its item counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewQueueInfo {
    #[serde(flatten)]
    pub queue: ReviewQueue,
    pub counts: ReviewCounts,
}

/// Where an item of a queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting for a reviewer (also an item whose claim expired).
    Pending,
    /// Held by a reviewer until the claim expires.
    Claimed,
    /// Reviewed.
    Done,
}

impl ReviewStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Claimed => "claimed",
            ReviewStatus::Done => "done",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ReviewStatus::Pending),
            "claimed" => Some(ReviewStatus::Claimed),
            "done" => Some(ReviewStatus::Done),
            _ => None,
        }
    }
}

/// What a review item was made from: a trace, an eval run's item, or neither (a raw item).
// No `deny_unknown_fields`: the struct is flattened into items, which carry other fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_run_id: Option<String>,
    /// The item's index in that eval run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_item_index: Option<u32>,
}

/// An item to add to a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReviewItem {
    #[serde(flatten)]
    pub source: ReviewSource,
    pub input: ItemInput,
    /// The output the reviewer judges.
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
}

/// One item of a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub id: Uuid,
    pub queue: String,
    #[serde(flatten)]
    pub source: ReviewSource,
    pub input: ItemInput,
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    pub status: ReviewStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// When the claim lapses and the item goes back to pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A review as a reviewer submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    pub reviewer: String,
    /// A value for every criterion of the queue's rubric.
    pub scores: BTreeMap<String, FeedbackValue>,
    /// The output as it should have been.
    #[serde(default)]
    pub correction: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A stored review of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub item_id: Uuid,
    pub queue: String,
    pub reviewer: String,
    pub scores: BTreeMap<String, FeedbackValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A done item with its review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedItem {
    pub item: ReviewItem,
    pub review: Review,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scales_read_as_tagged_objects() {
        let rubric: Rubric = serde_json::from_value(json!({"criteria": [
            {"name": "helpful", "scale": {"type": "numeric", "min": 1, "max": 5}},
            {"name": "correct", "scale": {"type": "boolean"}},
            {"name": "tone", "description": "how it sounds",
             "scale": {"type": "categories", "categories": ["friendly", "rude"]}}
        ]}))
        .unwrap();
        assert_eq!(rubric.criteria[0].scale, Scale::Numeric { min: 1.0, max: 5.0, step: None });
        assert_eq!(rubric.criteria[1].scale, Scale::Boolean);
        assert_eq!(rubric.criteria[2].scale, Scale::Categories { categories: vec!["friendly".into(), "rude".into()] });
        let err = serde_json::from_value::<Scale>(json!({"type": "stars"})).unwrap_err().to_string();
        assert!(err.contains("unknown variant `stars`"), "{err}");
    }

    #[test]
    fn items_flatten_their_source() {
        let item: NewReviewItem = serde_json::from_value(json!({
            "eval_run_id": "run-1", "eval_item_index": 3,
            "input": {"question": "2+2?"}, "output": "4"
        }))
        .unwrap();
        assert_eq!(item.source.eval_item_index, Some(3));
        assert_eq!(item.source.trace_id, None);
        assert!(matches!(item.input, ItemInput::Variables(_)));
    }
}
