//! Analytics over recorded calls: the dashboard (summary, time series, top models, prompts and
//! keys) and the objectives declared in `gantry.toml`, read from the store's rollups so a window
//! over millions of traces costs thousands of rows.
//!
//! Time is counted in whole minutes: a window ends at the end of the minute holding `until`, and
//! its series points are whole numbers of minutes long. Percentiles come from log-spaced
//! histograms whose relative error is below [`gantry_store::histogram::MAX_RELATIVE_ERROR`]
//! (4.43%).

pub mod objectives;
#[cfg(test)]
mod tests;

pub use objectives::{objective_statuses, Objective, ObjectiveMetric, ObjectiveStatus, RawObjective, Trend};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gantry_store::histogram::HistogramSum;
use gantry_store::{RollupCell, RollupGroup, RollupQuery, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Series points a dashboard shows unless asked otherwise.
pub const DEFAULT_BUCKETS: u32 = 60;
/// The most series points one dashboard may ask for.
pub const MAX_BUCKETS: u32 = 1440;
/// Entries in each top list.
pub const TOP_ENTRIES: usize = 10;
/// The longest window: a little over a year.
pub const MAX_WINDOW: Duration = Duration::from_secs(400 * 86_400);

/// Why an analytics query failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A window that is not a whole number of minutes, hours, days or weeks.
    #[error("'{text}' is not a window like 15m, 1h, 24h, 7d or 30d: {reason}")]
    InvalidWindow { text: String, reason: String },
    /// A query parameter out of range.
    #[error("{message}")]
    InvalidQuery { message: String, param: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AnalyticsError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            AnalyticsError::InvalidWindow { .. } => "invalid_window",
            AnalyticsError::InvalidQuery { .. } => "invalid_parameter",
            AnalyticsError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            AnalyticsError::InvalidWindow { .. } | AnalyticsError::InvalidQuery { .. } => 400,
            AnalyticsError::Store(_) => 500,
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            AnalyticsError::InvalidWindow { .. } => Some("window"),
            AnalyticsError::InvalidQuery { param, .. } => Some(param),
            AnalyticsError::Store(_) => None,
        }
    }
}

/// Parses a window such as `15m`, `1h`, `24h`, `7d`, `30d` or `2w`.
pub fn parse_window(s: &str) -> Result<Duration, AnalyticsError> {
    let text = s.trim();
    let invalid = |reason: &str| AnalyticsError::InvalidWindow { text: s.to_string(), reason: reason.to_string() };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let count: u64 = number.parse().map_err(|_| invalid("it must start with a whole number"))?;
    let unit_seconds = match unit {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "s" => return Err(invalid("windows are whole minutes; use m, h, d or w")),
        "" => return Err(invalid("the unit is missing (m, h, d or w)")),
        _ => return Err(invalid("the unit must be m, h, d or w")),
    };
    if count == 0 {
        return Err(invalid("it must be at least 1m"));
    }
    let seconds = count.checked_mul(unit_seconds).ok_or_else(|| invalid("it is too long"))?;
    let window = Duration::from_secs(seconds);
    if window > MAX_WINDOW {
        return Err(invalid("it may be 400d at most"));
    }
    Ok(window)
}

/// Writes a window back: whole days from two days up, else hours, else minutes.
pub fn format_window(window: Duration) -> String {
    let seconds = window.as_secs();
    if seconds >= 2 * 86_400 && seconds.is_multiple_of(86_400) {
        format!("{}d", seconds / 86_400)
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// What a dashboard covers.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only calls that asked for this model.
    pub model: Option<String>,
    /// Only calls made through this registered prompt.
    pub prompt: Option<String>,
    /// Only calls made with this API key.
    pub api_key_id: Option<String>,
    /// The number of points in the series, e.g. 60.
    pub buckets: u32,
}

impl AnalyticsQuery {
    /// The window that ends now, in 60 points, unfiltered.
    pub fn last(window: Duration) -> Self {
        let until = Utc::now();
        let since = until - ChronoDuration::from_std(window).unwrap_or(ChronoDuration::days(1));
        Self { since, until, model: None, prompt: None, api_key_id: None, buckets: DEFAULT_BUCKETS }
    }
}

/// The totals of a window.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    /// errors / requests; 0 without requests.
    pub error_rate: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// Over streamed calls only.
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// One point of the series: the calls started in `[start, start + bucket_seconds)`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    pub requests: u64,
    pub errors: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    /// Prompt and completion tokens.
    pub tokens: u64,
    pub cost_usd: f64,
}

/// One model, prompt or key among the busiest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TopEntry {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub cost_usd: f64,
    pub latency_p95_ms: Option<f64>,
}

/// Everything the dashboard page shows.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Dashboard {
    /// The start of the first series point (the window, rounded out to whole points).
    pub since: DateTime<Utc>,
    /// The end of the last series point.
    pub until: DateTime<Utc>,
    pub bucket_seconds: u64,
    pub summary: Summary,
    pub series: Vec<SeriesPoint>,
    /// The busiest models, prompts and keys, most requests first.
    pub top_models: Vec<TopEntry>,
    pub top_prompts: Vec<TopEntry>,
    pub top_keys: Vec<TopEntry>,
    pub objectives: Vec<ObjectiveStatus>,
}

/// Sums of rollup cells.
#[derive(Debug, Clone, Default)]
pub(crate) struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency: HistogramSum,
    pub ttft: HistogramSum,
}

impl Totals {
    pub fn add(&mut self, cell: &RollupCell) {
        self.requests += cell.requests;
        self.errors += cell.errors;
        self.prompt_tokens += cell.prompt_tokens;
        self.completion_tokens += cell.completion_tokens;
        self.cost_usd += cell.cost_usd;
        self.latency.add(&cell.latency);
        self.ttft.add(&cell.ttft);
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    fn summary(&self) -> Summary {
        Summary {
            requests: self.requests,
            errors: self.errors,
            error_rate: self.error_rate().unwrap_or(0.0),
            latency_p50_ms: self.latency.quantile(0.5),
            latency_p95_ms: self.latency.quantile(0.95),
            latency_p99_ms: self.latency.quantile(0.99),
            ttft_p50_ms: self.ttft.quantile(0.5),
            ttft_p95_ms: self.ttft.quantile(0.95),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_usd: self.cost_usd,
        }
    }

    fn top_entry(&self, name: String) -> TopEntry {
        TopEntry {
            name,
            requests: self.requests,
            errors: self.errors,
            cost_usd: self.cost_usd,
            latency_p95_ms: self.latency.quantile(0.95),
        }
    }
}

/// The series grid of a window: `buckets` points of whole minutes ending with the minute that
/// holds `until`, together at least as long as the window.
pub(crate) fn grid(since: DateTime<Utc>, until: DateTime<Utc>, buckets: u32) -> (DateTime<Utc>, u64) {
    let end = ceil_minute(until);
    let window = (until - since).num_seconds().max(1).unsigned_abs();
    let per_bucket = window.div_ceil(u64::from(buckets.max(1)));
    let bucket_seconds = per_bucket.div_ceil(60).max(1) * 60;
    let span = i64::try_from(bucket_seconds * u64::from(buckets)).unwrap_or(i64::MAX / 2);
    (end - ChronoDuration::seconds(span), bucket_seconds)
}

/// The end of the minute holding `t` (`t` itself when it is a whole minute).
pub(crate) fn ceil_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = t.timestamp();
    let whole = t.timestamp_subsec_nanos() == 0 && seconds.rem_euclid(60) == 0;
    let floor = seconds - seconds.rem_euclid(60);
    let minute = if whole { floor } else { floor + 60 };
    DateTime::from_timestamp(minute, 0).unwrap_or(t)
}

/// The busiest of `cells` (one window-long bucket, grouped by the dimension `name` reads),
/// most requests first; cells without a name (calls without a prompt or key) are left out.
fn top(cells: &[RollupCell], name: impl Fn(&RollupCell) -> Option<&String>) -> Vec<TopEntry> {
    let mut groups: HashMap<&String, Totals> = HashMap::new();
    for cell in cells {
        if let Some(n) = name(cell) {
            groups.entry(n).or_default().add(cell);
        }
    }
    let mut entries: Vec<TopEntry> = groups.into_iter().map(|(n, totals)| totals.top_entry(n.clone())).collect();
    entries.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.name.cmp(&b.name)));
    entries.truncate(TOP_ENTRIES);
    entries
}

fn check(query: &AnalyticsQuery) -> Result<(), AnalyticsError> {
    if !(1..=MAX_BUCKETS).contains(&query.buckets) {
        return Err(AnalyticsError::InvalidQuery {
            message: format!("buckets must be from 1 to {MAX_BUCKETS}, got {}", query.buckets),
            param: "buckets",
        });
    }
    if query.since >= query.until {
        return Err(AnalyticsError::InvalidQuery {
            message: "the window must end after it starts".into(),
            param: "window",
        });
    }
    if (query.until - query.since).to_std().map_or(true, |w| w > MAX_WINDOW) {
        return Err(AnalyticsError::InvalidQuery { message: "the window may be 400d at most".into(), param: "window" });
    }
    Ok(())
}

/// The dashboard of `query`, with the status of every objective as of `query.until`.
pub async fn dashboard(
    store: &dyn Store,
    objectives: &[Objective],
    query: &AnalyticsQuery,
) -> Result<Dashboard, AnalyticsError> {
    check(query)?;
    let (start, bucket_seconds) = grid(query.since, query.until, query.buckets);
    let series_query = RollupQuery {
        start,
        bucket_seconds,
        buckets: query.buckets,
        model: query.model.clone(),
        prompt: query.prompt.clone(),
        api_key_id: query.api_key_id.clone(),
        group: RollupGroup::Total,
    };
    // The top lists need the whole window only: one bucket each, mostly hourly rows.
    let whole = |group| RollupQuery {
        bucket_seconds: bucket_seconds * u64::from(query.buckets),
        buckets: 1,
        group,
        ..series_query.clone()
    };
    let (by_model, by_prompt, by_key) =
        (whole(RollupGroup::Model), whole(RollupGroup::Prompt), whole(RollupGroup::ApiKey));
    // Independent reads, each on its own pooled connection.
    let (cells, models, prompts, keys) = futures::try_join!(
        store.rollups(&series_query),
        store.rollups(&by_model),
        store.rollups(&by_prompt),
        store.rollups(&by_key),
    )?;

    let mut total = Totals::default();
    let mut points = vec![Totals::default(); query.buckets as usize];
    for cell in &cells {
        total.add(cell);
        if let Some(point) = points.get_mut(cell.bucket as usize) {
            point.add(cell);
        }
    }
    let step = ChronoDuration::seconds(i64::try_from(bucket_seconds).unwrap_or(60));
    let series = points
        .iter()
        .zip(0i32..)
        .map(|(p, i)| SeriesPoint {
            start: start + step * i,
            requests: p.requests,
            errors: p.errors,
            latency_p50_ms: p.latency.quantile(0.5),
            latency_p95_ms: p.latency.quantile(0.95),
            latency_p99_ms: p.latency.quantile(0.99),
            ttft_p50_ms: p.ttft.quantile(0.5),
            tokens: p.prompt_tokens + p.completion_tokens,
            cost_usd: p.cost_usd,
        })
        .collect();
    Ok(Dashboard {
        since: start,
        until: series_query.end(),
        bucket_seconds,
        summary: total.summary(),
        series,
        top_models: top(&models, |c| c.model.as_ref()),
        top_prompts: top(&prompts, |c| c.prompt.as_ref()),
        top_keys: top(&keys, |c| c.api_key_id.as_ref()),
        objectives: objective_statuses(store, objectives, query.until).await?,
    })
}
