//! Persistence of user feedback on traces, and its aggregates.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{Feedback, FeedbackAggregate, FeedbackGroupBy, TraceId};

/// Feedback records.
#[async_trait]
pub trait FeedbackStore: Send + Sync {
    /// Stores one piece of feedback (the caller checked that the trace exists).
    async fn insert_feedback(&self, feedback: &Feedback) -> Result<(), StoreError>;
    /// A trace's feedback, oldest first.
    async fn list_feedback(&self, trace_id: TraceId) -> Result<Vec<Feedback>, StoreError>;
    /// Count, mean of numeric and boolean values, and category counts per group and feedback
    /// name (only `name` when given), ordered by group (no group last) then name.
    async fn feedback_summary(
        &self,
        group_by: FeedbackGroupBy,
        name: Option<&str>,
    ) -> Result<Vec<FeedbackAggregate>, StoreError>;
}
