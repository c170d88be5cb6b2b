//! Analytics over stored traces: per-minute and per-hour rollups of root traces (requests),
//! and feedback averages over a time window.

use crate::histogram::Histogram;
use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What the cells of a rollup read are keyed by, besides their bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RollupGroup {
    /// One cell a bucket: every request together.
    #[default]
    Total,
    /// One cell a bucket and requested model.
    Model,
    /// One cell a bucket and registered prompt (calls without one together).
    Prompt,
    /// One cell a bucket and API key (calls without one together).
    ApiKey,
    /// One cell a bucket and (model, provider, prompt, key).
    Full,
}

/// What a rollup read covers: `buckets` consecutive buckets of `bucket_seconds` from `start`,
/// narrowed by the optional filters (all of them must match), in cells keyed by `group`.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupQuery {
    /// A whole minute.
    pub start: DateTime<Utc>,
    /// A whole number of minutes.
    pub bucket_seconds: u64,
    pub buckets: u32,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The registered prompt the calls were made through.
    pub prompt: Option<String>,
    pub api_key_id: Option<String>,
    pub group: RollupGroup,
}

impl RollupQuery {
    /// The end of the last bucket.
    pub fn end(&self) -> DateTime<Utc> {
        let seconds = self.bucket_seconds.saturating_mul(u64::from(self.buckets));
        self.start + chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1_000_000))
    }
}

/// The requests of one bucket that share the query's group key. The fields the query groups by
/// are set (`None` for calls without a prompt or key); the others are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollupCell {
    /// The bucket's index from the query's start.
    pub bucket: u32,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The provider that answered (or was tried last).
    pub provider: Option<String>,
    pub prompt: Option<String>,
    pub api_key_id: Option<String>,
    pub requests: u64,
    /// Requests that ended with status `error`.
    pub errors: u64,
    /// Requests the client gave up on.
    pub cancelled: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Latency of every request, in ms.
    pub latency: Histogram,
    /// Time to first token of the streamed requests, in ms.
    pub ttft: Histogram,
}

/// Which traces a feedback average covers; every field set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackScope {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub api_key_id: Option<String>,
}

/// The numeric values (true = 1) of one feedback name in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedbackMean {
    pub count: u64,
    /// `None` when there were none.
    pub mean: Option<f64>,
}

/// Reads over the rollups and feedback for dashboards and objectives.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// The rollups of `query`, one cell per bucket and group key that had requests, ordered by
    /// bucket then key. Time is counted in whole minutes.
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<RollupCell>, StoreError>;
    /// The mean of feedback `name` given in `[since, until)` on traces in `scope`.
    async fn feedback_mean(
        &self,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        scope: &FeedbackScope,
    ) -> Result<FeedbackMean, StoreError>;
}
