//! `AnalyticsStore` on SQLite: keeping `trace_rollups` up to date as traces are inserted, the
//! one-time backfill of traces stored before rollups existed, and the reads.

use crate::analytics::{AnalyticsStore, FeedbackMean, FeedbackScope, RollupCell, RollupGroup, RollupQuery};
use crate::histogram::Histogram;
use crate::sqlite::to_micros;
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{TraceRecord, TraceStatus};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

// The cuboids of migration 0010: which key columns a row uses.
const FULL: i64 = 0;
const TOTAL: i64 = 1;
const BY_MODEL: i64 = 2;
const BY_PROMPT: i64 = 3;
const BY_KEY: i64 = 4;
/// Traces read at a time by the backfill.
const BACKFILL_PAGE: i64 = 20_000;
/// Minutes or hours looked up in one statement when merging a batch into stored rows.
const READ_CHUNK: usize = 500;
/// Rollup rows written in one statement (15 values each, under SQLite's 32766 variables).
const WRITE_CHUNK: usize = 500;

/// The key of one rollup row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RollupKey {
    span_s: i64,
    cuboid: i64,
    start_s: i64,
    model: String,
    provider: String,
    prompt: String,
    api_key_id: String,
}

/// What one rollup row adds up.
#[derive(Debug, Clone, Default)]
struct RollupSums {
    requests: i64,
    errors: i64,
    cancelled: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_usd: f64,
    latency: Histogram,
    ttft: Histogram,
}

/// The fields of a root trace that rollups count.
pub(crate) struct Counted<'a> {
    pub started_at_us: i64,
    pub model: &'a str,
    pub provider: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    pub status: &'a str,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
}

impl<'a> Counted<'a> {
    /// The counted fields of a trace record.
    pub fn of(trace: &'a TraceRecord) -> Self {
        Self {
            started_at_us: to_micros(trace.started_at),
            model: &trace.requested_model,
            provider: trace.provider.as_deref(),
            prompt: trace.prompt.as_ref().map(|p| p.name.as_str()),
            api_key_id: trace.api_key_id.as_deref(),
            status: trace.status.as_str(),
            prompt_tokens: trace.prompt_tokens.map(i64::from),
            completion_tokens: trace.completion_tokens.map(i64::from),
            cost_usd: trace.cost_usd,
            latency_ms: trace.latency_ms,
            ttft_ms: trace.ttft_ms,
        }
    }
}

/// Rollup rows summed in memory for one batch, written with [`RollupBatch::write`].
#[derive(Debug, Default)]
pub(crate) struct RollupBatch {
    rows: HashMap<RollupKey, RollupSums>,
}

impl RollupBatch {
    /// Counts one root trace in its minute and its hour, in every cuboid.
    pub fn add(&mut self, trace: &Counted<'_>) {
        let second = trace.started_at_us.div_euclid(1_000_000);
        let model = trace.model;
        let provider = trace.provider.unwrap_or_default();
        let prompt = trace.prompt.unwrap_or_default();
        let key = trace.api_key_id.unwrap_or_default();
        let cuboids = [
            (FULL, model, provider, prompt, key),
            (TOTAL, "", "", "", ""),
            (BY_MODEL, model, "", "", ""),
            (BY_PROMPT, "", "", prompt, ""),
            (BY_KEY, "", "", "", key),
        ];
        for span_s in [MINUTE, HOUR] {
            for (cuboid, model, provider, prompt, api_key_id) in cuboids {
                let key = RollupKey {
                    span_s,
                    cuboid,
                    start_s: second - second.rem_euclid(span_s),
                    model: model.to_string(),
                    provider: provider.to_string(),
                    prompt: prompt.to_string(),
                    api_key_id: api_key_id.to_string(),
                };
                let sums = self.rows.entry(key).or_default();
                sums.requests += 1;
                sums.errors += i64::from(trace.status == TraceStatus::Error.as_str());
                sums.cancelled += i64::from(trace.status == TraceStatus::Cancelled.as_str());
                sums.prompt_tokens += trace.prompt_tokens.unwrap_or(0);
                sums.completion_tokens += trace.completion_tokens.unwrap_or(0);
                sums.cost_usd += trace.cost_usd.unwrap_or(0.0);
                sums.latency.record(trace.latency_ms);
                if let Some(ttft) = trace.ttft_ms {
                    sums.ttft.record(ttft);
                }
            }
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds the batch to the stored rows. Runs inside the caller's write transaction, so the
    /// read of the stored rows and the write of the merged ones cannot interleave with another
    /// writer. Both go in chunks of many rows: one statement a row would cost more than the
    /// traces themselves.
    pub async fn write(mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        // The minutes and hours the batch touches, by span and cuboid.
        let mut starts: BTreeMap<(i64, i64), BTreeSet<i64>> = BTreeMap::new();
        for key in self.rows.keys() {
            starts.entry((key.span_s, key.cuboid)).or_default().insert(key.start_s);
        }
        for ((span_s, cuboid), starts) in starts {
            let starts: Vec<i64> = starts.into_iter().collect();
            for chunk in starts.chunks(READ_CHUNK) {
                let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                    "SELECT start_s, model, provider, prompt_name, api_key_id, requests, errors, cancelled,
                     prompt_tokens, completion_tokens, cost_usd, latency_hist, ttft_hist
                     FROM trace_rollups WHERE span_s = ",
                );
                q.push_bind(span_s).push(" AND cuboid = ").push_bind(cuboid).push(" AND start_s IN (");
                let mut list = q.separated(", ");
                for start in chunk {
                    list.push_bind(*start);
                }
                q.push(")");
                for row in q.build().fetch_all(&mut *conn).await? {
                    let key = RollupKey {
                        span_s,
                        cuboid,
                        start_s: row.try_get(0)?,
                        model: row.try_get(1)?,
                        provider: row.try_get(2)?,
                        prompt: row.try_get(3)?,
                        api_key_id: row.try_get(4)?,
                    };
                    // Rows of the same minutes that this batch does not add to stay as they are.
                    let Some(sums) = self.rows.get_mut(&key) else { continue };
                    sums.requests += row.try_get::<i64, _>(5)?;
                    sums.errors += row.try_get::<i64, _>(6)?;
                    sums.cancelled += row.try_get::<i64, _>(7)?;
                    sums.prompt_tokens += row.try_get::<i64, _>(8)?;
                    sums.completion_tokens += row.try_get::<i64, _>(9)?;
                    sums.cost_usd += row.try_get::<f64, _>(10)?;
                    sums.latency.merge(&Histogram::decode(row.try_get(11)?)?);
                    sums.ttft.merge(&Histogram::decode(row.try_get(12)?)?);
                }
            }
        }
        let rows: Vec<(RollupKey, RollupSums)> = self.rows.into_iter().collect();
        for chunk in rows.chunks(WRITE_CHUNK) {
            let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "INSERT OR REPLACE INTO trace_rollups (span_s, cuboid, start_s, model, provider, prompt_name,
                 api_key_id, requests, errors, cancelled, prompt_tokens, completion_tokens, cost_usd, latency_hist,
                 ttft_hist) ",
            );
            q.push_values(chunk, |mut b, (key, sums)| {
                b.push_bind(key.span_s)
                    .push_bind(key.cuboid)
                    .push_bind(key.start_s)
                    .push_bind(key.model.clone())
                    .push_bind(key.provider.clone())
                    .push_bind(key.prompt.clone())
                    .push_bind(key.api_key_id.clone())
                    .push_bind(sums.requests)
                    .push_bind(sums.errors)
                    .push_bind(sums.cancelled)
                    .push_bind(sums.prompt_tokens)
                    .push_bind(sums.completion_tokens)
                    .push_bind(sums.cost_usd)
                    .push_bind(sums.latency.encode())
                    .push_bind(sums.ttft.encode());
            });
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Sums the traces stored before migration 0010 into the rollups, once. The flag is cleared in
/// the transaction that writes the sums, so a crash part way leaves it to be done again, and
/// a second process opening the store at the same time waits and then finds it done.
pub(crate) async fn backfill_rollups(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query("UPDATE trace_rollup_backfill SET done_at_us = ? WHERE id = 1 AND done_at_us IS NULL")
        .bind(to_micros(Utc::now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut after = 0i64;
    let mut total = 0u64;
    loop {
        let rows = sqlx::query(
            "SELECT rowid, started_at_us, requested_model, provider, prompt_name, api_key_id, status,
             prompt_tokens, completion_tokens, cost_usd, latency_ms, ttft_ms
             FROM traces WHERE rowid > ? AND parent_id IS NULL ORDER BY rowid LIMIT ?",
        )
        .bind(after)
        .bind(BACKFILL_PAGE)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("rowid")?;
        let mut batch = RollupBatch::default();
        for row in &rows {
            batch.add(&counted_row(row)?);
        }
        total += rows.len() as u64;
        batch.write(&mut tx).await?;
    }
    tx.commit().await?;
    if total > 0 {
        tracing::info!(traces = total, seconds = started.elapsed().as_secs_f64(), "trace rollups backfilled");
    }
    Ok(())
}

fn counted_row(row: &SqliteRow) -> Result<Counted<'_>, StoreError> {
    Ok(Counted {
        started_at_us: row.try_get("started_at_us")?,
        model: row.try_get("requested_model")?,
        provider: row.try_get("provider")?,
        prompt: row.try_get("prompt_name")?,
        api_key_id: row.try_get("api_key_id")?,
        status: row.try_get("status")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        cost_usd: row.try_get("cost_usd")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
    })
}

/// Which stored rows answer a query: hours that lie wholly inside one bucket are read from the
/// hourly rows; every other minute (the window's edges, hours a bucket boundary cuts) from the
/// minute rows. Ranges are `[start, end)` in Unix seconds, adjacent ones joined.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ReadPlan {
    pub hours: Vec<(i64, i64)>,
    pub minutes: Vec<(i64, i64)>,
}

fn push_range(ranges: &mut Vec<(i64, i64)>, start: i64, end: i64) {
    if start >= end {
        return;
    }
    match ranges.last_mut() {
        Some(last) if last.1 == start => last.1 = end,
        _ => ranges.push((start, end)),
    }
}

pub(crate) fn read_plan(start: i64, bucket_seconds: i64, buckets: i64) -> ReadPlan {
    let end = start + bucket_seconds * buckets;
    let first_hour = start + (HOUR - start.rem_euclid(HOUR)) % HOUR;
    let last_hour = end - end.rem_euclid(HOUR);
    let mut plan = ReadPlan::default();
    if first_hour >= last_hour {
        push_range(&mut plan.minutes, start, end);
        return plan;
    }
    push_range(&mut plan.minutes, start, first_hour);
    let bucket = |t: i64| (t - start).div_euclid(bucket_seconds);
    let mut hour = first_hour;
    while hour < last_hour {
        if bucket(hour) == bucket(hour + HOUR - MINUTE) {
            push_range(&mut plan.hours, hour, hour + HOUR);
        } else {
            push_range(&mut plan.minutes, hour, hour + HOUR);
        }
        hour += HOUR;
    }
    push_range(&mut plan.minutes, last_hour, end);
    plan
}

/// The smallest cuboid that holds every column `query` filters or groups by.
fn cuboid_for(query: &RollupQuery) -> i64 {
    let model = query.model.is_some() || matches!(query.group, RollupGroup::Model);
    let prompt = query.prompt.is_some() || matches!(query.group, RollupGroup::Prompt);
    let key = query.api_key_id.is_some() || matches!(query.group, RollupGroup::ApiKey);
    match (query.group, model, prompt, key) {
        (RollupGroup::Full, ..) => FULL,
        (_, false, false, false) => TOTAL,
        (_, true, false, false) => BY_MODEL,
        (_, false, true, false) => BY_PROMPT,
        (_, false, false, true) => BY_KEY,
        _ => FULL,
    }
}

type CellKey = (u32, Option<String>, Option<String>, Option<String>, Option<String>);

fn none_if_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// The key of a row's cell: the columns the query groups by.
fn cell_key(group: RollupGroup, bucket: u32, row: &SqliteRow) -> Result<CellKey, StoreError> {
    let text = |i: usize| -> Result<&str, StoreError> { Ok(row.try_get::<&str, _>(i)?) };
    Ok(match group {
        RollupGroup::Total => (bucket, None, None, None, None),
        RollupGroup::Model => (bucket, Some(text(1)?.to_string()), None, None, None),
        RollupGroup::Prompt => (bucket, None, None, none_if_empty(text(3)?), None),
        RollupGroup::ApiKey => (bucket, None, None, None, none_if_empty(text(4)?)),
        RollupGroup::Full => (
            bucket,
            Some(text(1)?.to_string()),
            none_if_empty(text(2)?),
            none_if_empty(text(3)?),
            none_if_empty(text(4)?),
        ),
    })
}

fn count_at(row: &SqliteRow, column: usize) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("rollup count {value} is negative")))
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("rollup {column} = {value}")))
}

#[async_trait]
impl AnalyticsStore for SqliteStore {
    async fn rollups(&self, query: &RollupQuery) -> Result<Vec<RollupCell>, StoreError> {
        let start = query.start.timestamp();
        let bucket_seconds = i64::try_from(query.bucket_seconds).unwrap_or(0);
        if query.start.timestamp_subsec_nanos() != 0 || start.rem_euclid(MINUTE) != 0 {
            return Err(StoreError::InvalidQuery("a rollup query starts on a whole minute".into()));
        }
        if bucket_seconds <= 0 || bucket_seconds % MINUTE != 0 || query.buckets == 0 {
            return Err(StoreError::InvalidQuery("rollup buckets are whole minutes, at least one".into()));
        }
        let cuboid = cuboid_for(query);
        let plan = read_plan(start, bucket_seconds, i64::from(query.buckets));
        let reads = plan.hours.iter().map(|r| (HOUR, r)).chain(plan.minutes.iter().map(|r| (MINUTE, r)));
        let mut cells: HashMap<CellKey, RollupCell> = HashMap::new();
        // One read transaction: every range sees the same committed state.
        let mut tx = self.pool.begin().await?;
        for (span_s, &(from, to)) in reads {
            let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "SELECT start_s, model, provider, prompt_name, api_key_id, requests, errors, cancelled,
                 prompt_tokens, completion_tokens, cost_usd, latency_hist, ttft_hist
                 FROM trace_rollups WHERE span_s = ",
            );
            q.push_bind(span_s).push(" AND cuboid = ").push_bind(cuboid);
            q.push(" AND start_s >= ").push_bind(from).push(" AND start_s < ").push_bind(to);
            if let Some(model) = &query.model {
                q.push(" AND model = ").push_bind(model.clone());
            }
            if let Some(prompt) = &query.prompt {
                q.push(" AND prompt_name = ").push_bind(prompt.clone());
            }
            if let Some(key) = &query.api_key_id {
                q.push(" AND api_key_id = ").push_bind(key.clone());
            }
            for row in q.build().fetch_all(&mut *tx).await? {
                let row_start: i64 = row.try_get(0)?;
                let bucket = u32::try_from((row_start - start).div_euclid(bucket_seconds))
                    .map_err(|_| StoreError::Corrupt(format!("rollup at {row_start} outside the query")))?;
                let cell = cells.entry(cell_key(query.group, bucket, &row)?).or_default();
                cell.requests += count_at(&row, 5)?;
                cell.errors += count_at(&row, 6)?;
                cell.cancelled += count_at(&row, 7)?;
                cell.prompt_tokens += count_at(&row, 8)?;
                cell.completion_tokens += count_at(&row, 9)?;
                cell.cost_usd += row.try_get::<f64, _>(10)?;
                cell.latency.merge(&Histogram::decode(row.try_get(11)?)?);
                cell.ttft.merge(&Histogram::decode(row.try_get(12)?)?);
            }
        }
        tx.commit().await?;
        let mut out: Vec<RollupCell> = cells
            .into_iter()
            .map(|((bucket, model, provider, prompt, api_key_id), cell)| RollupCell {
                bucket,
                model,
                provider,
                prompt,
                api_key_id,
                ..cell
            })
            .collect();
        out.sort_by(|a, b| {
            (a.bucket, &a.model, &a.provider, &a.prompt, &a.api_key_id).cmp(&(
                b.bucket,
                &b.model,
                &b.provider,
                &b.prompt,
                &b.api_key_id,
            ))
        });
        Ok(out)
    }

    async fn feedback_mean(
        &self,
        name: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        scope: &FeedbackScope,
    ) -> Result<FeedbackMean, StoreError> {
        let scoped = scope.model.is_some() || scope.prompt.is_some() || scope.api_key_id.is_some();
        // Unscoped, feedback counts even when its trace has been pruned.
        let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(if scoped {
            "SELECT COUNT(f.value_number) AS n, AVG(f.value_number) AS mean FROM feedback f
             JOIN traces t ON t.id = f.trace_id WHERE f.name = "
        } else {
            "SELECT COUNT(f.value_number) AS n, AVG(f.value_number) AS mean FROM feedback f WHERE f.name = "
        });
        q.push_bind(name.to_string());
        q.push(" AND f.created_at_us >= ").push_bind(to_micros(since));
        q.push(" AND f.created_at_us < ").push_bind(to_micros(until));
        if let Some(model) = &scope.model {
            q.push(" AND t.requested_model = ").push_bind(model.clone());
        }
        if let Some(prompt) = &scope.prompt {
            q.push(" AND t.prompt_name = ").push_bind(prompt.clone());
        }
        if let Some(key) = &scope.api_key_id {
            q.push(" AND t.api_key_id = ").push_bind(key.clone());
        }
        let row = q.build().fetch_one(&self.pool).await?;
        Ok(FeedbackMean { count: count(&row, "n")?, mean: row.try_get("mean")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_windows_read_hours_and_only_the_cut_minutes() {
        // Two 90-minute buckets from 00:30: the minutes before 01:00 and after 03:00, the
        // hours between (02:00 is a bucket boundary and an hour boundary alike).
        let plan = read_plan(1800, 5400, 2);
        assert_eq!(plan.minutes, vec![(1800, 3600), (10_800, 12_600)]);
        assert_eq!(plan.hours, vec![(3600, 10_800)]);
        // 24-minute buckets cut nearly every hour: minutes throughout.
        let plan = read_plan(0, 1440, 60);
        assert!(plan.hours.is_empty());
        assert_eq!(plan.minutes, vec![(0, 86_400)]);
        // A window shorter than an hour.
        assert_eq!(read_plan(600, 60, 10), ReadPlan { hours: vec![], minutes: vec![(600, 1200)] });
        // 12-hour buckets from 00:37: the boundary at 12:37 cuts the hour from 12:00.
        let start = 37 * 60;
        let plan = read_plan(start, 12 * 3600, 2);
        assert_eq!(plan.minutes, vec![(start, 3600), (12 * 3600, 13 * 3600), (24 * 3600, start + 24 * 3600)]);
        assert_eq!(plan.hours, vec![(3600, 12 * 3600), (13 * 3600, 24 * 3600)]);
    }
}
