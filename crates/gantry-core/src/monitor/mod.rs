//! Monitoring of live traffic. Drift detection compares a route's recent calls with a baseline
//! (an earlier window, a release's first day, or a dataset version) on input embeddings,
//! input/output lengths, refusals, JSON validity, guardrail hits, errors and scores, and
//! reports one drift score with what moved most. Alerting calls [`drift_report`] as it is.

mod components;
mod drift;
mod embed;
pub mod features;
pub mod stats;
#[cfg(test)]
mod tests;

pub use components::{MIN_SAMPLES, SIGNIFICANT_CENTROID_DISTANCE};
pub use drift::{
    drift_report, drift_score, Baseline, BaselineInfo, DriftParams, DriftQuery, DriftTarget, DEFAULT_BASELINE_SPAN,
    DEFAULT_MAX_EMBEDDED, DEFAULT_MAX_TRACES, DEFAULT_RECENT_WINDOW, RELEASE_BASELINE_SPAN,
};
pub use embed::{EmbedError, GatewayEmbedder, LocalEmbedder, TextEmbedder};

use crate::analytics::AnalyticsError;
use chrono::{DateTime, Utc};
use gantry_store::StoreError;
use serde::{Deserialize, Serialize};

/// A contribution (or score) from which drift counts as moderate: PSI's usual 0.1.
pub const MODERATE_DRIFT: f64 = 0.1;
/// A contribution (or score) from which drift counts as significant: PSI's usual 0.25.
pub const SIGNIFICANT_DRIFT: f64 = 0.25;

/// How much a route's traffic has drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    None,
    Moderate,
    Significant,
}

impl DriftLevel {
    /// The level of a score or contribution, by PSI's conventions.
    pub fn of(score: f64) -> Self {
        if score >= SIGNIFICANT_DRIFT {
            DriftLevel::Significant
        } else if score >= MODERATE_DRIFT {
            DriftLevel::Moderate
        } else {
            DriftLevel::None
        }
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftLevel::None => "none",
            DriftLevel::Moderate => "moderate",
            DriftLevel::Significant => "significant",
        }
    }
}

/// One aspect of the traffic compared across the two windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftComponent {
    /// Stable key: `input_topics`, `input_centroid`, `input_length`, `output_length`,
    /// `refusal_rate`, `json_validity`, `guardrail_hit_rate`, `error_rate`, `score:NAME`.
    pub name: String,
    /// What it is, for people.
    pub label: String,
    /// The aspect's value in the baseline (a median, mean, rate or share; see `detail`);
    /// `None` for the centroid distance, which is measured between the windows.
    pub baseline: Option<f64>,
    /// The same value in the recent window.
    pub recent: Option<f64>,
    /// The raw statistic on the PSI scale (PSI itself, or a scaled centroid distance).
    pub statistic: f64,
    /// What the statistic reaches by chance alone (about 19 times in 20) for samples of these
    /// sizes from one distribution.
    pub chance: f64,
    /// `statistic - chance`, clamped to [0, 1].
    pub contribution: f64,
    pub level: DriftLevel,
    pub baseline_samples: u64,
    pub recent_samples: u64,
    /// One line with the numbers behind the contribution.
    pub detail: String,
}

/// An aspect that could not be compared, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedComponent {
    pub name: String,
    pub label: String,
    pub reason: String,
}

/// One compared window of calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Calls read (the newest, up to the query's cap).
    pub traces: u64,
    /// Whether the window held more calls than the cap.
    pub capped: bool,
}

/// The drift of a route's (or model's) recent calls from a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The route or model compared.
    pub target: String,
    /// `route` or `model`.
    pub target_kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub recent: WindowInfo,
    pub baseline: BaselineInfo,
    /// The largest component contribution, in [0, 1].
    pub score: f64,
    pub level: DriftLevel,
    /// The name of the component that moved most, when any moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_component: Option<String>,
    /// Compared aspects, the largest contribution first.
    pub components: Vec<DriftComponent>,
    /// Aspects without enough data in one of the windows.
    pub skipped: Vec<SkippedComponent>,
    /// The embedding model the inputs were compared with, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    pub generated_at: DateTime<Utc>,
}

/// Why a drift report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A parameter that does not read, or options that conflict.
    #[error("{message}")]
    InvalidParameter { message: String, param: &'static str },
    /// The route, model, release or dataset named does not exist.
    #[error("{message}")]
    NotFound { message: String, param: &'static str },
    /// One of the windows holds too few calls for any comparison to mean something.
    #[error(
        "not enough data to compare: the {window} holds {found} call(s) of '{target}', at least {needed} are needed"
    )]
    InsufficientData { target: String, window: &'static str, found: u64, needed: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DriftError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DriftError::InvalidParameter { param: "window", .. } => "invalid_window",
            DriftError::InvalidParameter { .. } => "invalid_parameter",
            DriftError::NotFound { param: "route" | "env", .. } => "route_not_found",
            DriftError::NotFound { param: "baseline_release", .. } => "release_not_found",
            DriftError::NotFound { param: "baseline_dataset", .. } => "dataset_not_found",
            DriftError::NotFound { .. } => "not_found",
            DriftError::InsufficientData { .. } => "insufficient_data",
            DriftError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            DriftError::InvalidParameter { .. } => 400,
            DriftError::NotFound { .. } => 404,
            // The request was fine; the store just cannot answer it yet.
            DriftError::InsufficientData { .. } => 422,
            DriftError::Store(_) => 500,
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            DriftError::InvalidParameter { param, .. } | DriftError::NotFound { param, .. } => Some(param),
            DriftError::InsufficientData { .. } | DriftError::Store(_) => None,
        }
    }

    pub(crate) fn window(e: AnalyticsError, param: &'static str) -> Self {
        DriftError::InvalidParameter { message: e.to_string(), param }
    }
}
