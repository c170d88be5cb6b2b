//! Persistence of human review queues: queues with their rubric, items, claims and reviews.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use gantry_types::{NewReviewItem, Review, ReviewItem, ReviewQueue, ReviewQueueInfo, ReviewedItem};
use uuid::Uuid;

/// What became of a submitted review.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Stored; the item is done.
    Stored(Box<ReviewItem>),
    /// The queue holds no item with that id.
    NotFound,
    /// The item was reviewed already, by this reviewer.
    AlreadyReviewed { reviewer: String },
    /// Another reviewer holds the item until `until`.
    ClaimedByOther { reviewer: String, until: DateTime<Utc> },
}

/// Review queues, their items and reviews. Times are passed in so that claims and their
/// expiry follow one clock (and tests can move it).
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Creates a queue; `false` when one of that name exists (nothing is changed then).
    async fn create_review_queue(&self, queue: &ReviewQueue) -> Result<bool, StoreError>;
    /// One queue with its counts as of `now`.
    async fn get_review_queue(&self, name: &str, now: DateTime<Utc>) -> Result<Option<ReviewQueueInfo>, StoreError>;
    /// Every queue with its counts as of `now`, by name.
    async fn list_review_queues(&self, now: DateTime<Utc>) -> Result<Vec<ReviewQueueInfo>, StoreError>;
    /// Adds pending items in one transaction, in order; `None` when the queue does not exist.
    async fn add_review_items(
        &self,
        queue: &str,
        items: &[NewReviewItem],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<ReviewItem>>, StoreError>;
    /// Atomically hands `reviewer` an item until `now + lease`: the item they still hold
    /// (its claim renewed), else the oldest pending or expired one; `None` when none is free.
    /// Two callers never get the same item.
    async fn claim_review_item(
        &self,
        queue: &str,
        reviewer: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ReviewItem>, StoreError>;
    /// Stores `review` and marks its item done, unless the item is done or another reviewer
    /// holds a live claim on it.
    async fn submit_review(&self, review: &Review, now: DateTime<Utc>) -> Result<SubmitOutcome, StoreError>;
    /// One item of a queue.
    async fn get_review_item(
        &self,
        queue: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewItem>, StoreError>;
    /// A queue's reviewed items with their reviews, in the order they were reviewed.
    async fn list_reviews(&self, queue: &str) -> Result<Vec<ReviewedItem>, StoreError>;
}
