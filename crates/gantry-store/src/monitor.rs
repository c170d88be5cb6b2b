//! Reads for monitoring: a capped sample of a route's (or a model's) recent root traces, and
//! the numeric feedback given on a set of traces, for drift detection.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{TraceId, TraceRecord};

/// Which calls a sample covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficSource {
    /// Calls to a deployed route, optionally in one environment and answered by one release.
    Route { route: String, environment: Option<String>, release: Option<u32> },
    /// Calls that asked for this model name directly.
    Model(String),
}

/// A sample of root traces: the newest `limit` of `source` started in `[since, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSample {
    pub source: TrafficSource,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: u32,
}

/// One numeric (or boolean, as 0/1) feedback value given on a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceScore {
    pub trace_id: TraceId,
    /// The feedback name, e.g. "thumbs" or an online evaluator's name.
    pub name: String,
    pub value: f64,
}

/// Reads for drift detection and other monitors.
#[async_trait]
pub trait MonitorStore: Send + Sync {
    /// Root traces (never spans such as judge calls) of `sample`, newest first.
    async fn sample_traffic(&self, sample: &TrafficSample) -> Result<Vec<TraceRecord>, StoreError>;
    /// The numeric and boolean feedback on `traces`; category feedback is left out.
    async fn trace_scores(&self, traces: &[TraceId]) -> Result<Vec<TraceScore>, StoreError>;
}
