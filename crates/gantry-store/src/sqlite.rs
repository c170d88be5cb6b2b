//! The embedded SQLite store (WAL mode, one file under the data directory).

use crate::sqlite_analytics::{Counted, RollupBatch};
use crate::{Store, StoreError, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{TraceError, TraceFilter, TraceId, TraceKind, TraceRecord, TraceStatus};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `gantry.db` under `data_dir`.
    pub async fn open_in_dir(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::DataDir { path: data_dir.to_path_buf(), reason: e.to_string() })?;
        let probe = data_dir.join(".gantry-write-test");
        std::fs::write(&probe, b"ok")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| StoreError::DataDir { path: data_dir.to_path_buf(), reason: e.to_string() })?;
        let options = SqliteConnectOptions::new().filename(data_dir.join("gantry.db"));
        Self::open_with(options).await
    }

    /// Opens a `sqlite:` URL.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Open(e.to_string()))?;
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Open(format!("migration failed: {e}")))?;
        crate::sqlite_analytics::backfill_rollups(&pool)
            .await
            .map_err(|e| StoreError::Open(format!("backfilling the trace rollups failed: {e}")))?;
        Ok(Self { pool })
    }
}

pub(crate) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

/// `text` with LIKE's wildcards escaped, so a search for `50%` finds the literal text.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn json_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn row_to_trace(row: &SqliteRow) -> Result<TraceRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let request: String = row.try_get("request")?;
    let response: Option<String> = row.try_get("response")?;
    let attempts: String = row.try_get("attempts")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    let error_message: Option<String> = row.try_get("error_message")?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("trace {id}: {what}: {e}"));
    let parse_u32 = |name: &str| -> Result<Option<u32>, StoreError> {
        let v: Option<i64> = row.try_get(name)?;
        v.map(|n| u32::try_from(n).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))).transpose()
    };
    let http_status: i64 = row.try_get("http_status")?;
    let parent_id: Option<String> = row.try_get("parent_id")?;
    let prompt: Option<String> = row.try_get("prompt")?;
    let output_check: Option<String> = row.try_get("output_check")?;
    let guardrails: Option<String> = row.try_get("guardrails")?;
    let deployment: Option<String> = row.try_get("deployment")?;
    Ok(TraceRecord {
        id: id.parse().map_err(|e| corrupt("id", &e))?,
        parent_id: parent_id.map(|p| p.parse()).transpose().map_err(|e| corrupt("parent_id", &e))?,
        name: row.try_get("span_name")?,
        started_at: from_micros(row.try_get("started_at_us")?)?,
        kind: TraceKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        requested_model: row.try_get("requested_model")?,
        provider: row.try_get("provider")?,
        upstream_model: row.try_get("upstream_model")?,
        attempts: serde_json::from_str(&attempts).map_err(|e| corrupt("attempts", &e))?,
        status: TraceStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        http_status: u16::try_from(http_status).map_err(|e| corrupt("http_status", &e))?,
        error: match (error_code, error_message) {
            (Some(code), message) => Some(TraceError { code, message: message.unwrap_or_default() }),
            _ => None,
        },
        stream: row.try_get::<i64, _>("stream")? != 0,
        request: serde_json::from_str(&request).map_err(|e| corrupt("request", &e))?,
        response: response.map(|r| serde_json::from_str(&r)).transpose().map_err(|e| corrupt("response", &e))?,
        finish_reason: row.try_get("finish_reason")?,
        prompt_tokens: parse_u32("prompt_tokens")?,
        completion_tokens: parse_u32("completion_tokens")?,
        total_tokens: parse_u32("total_tokens")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        cost_usd: row.try_get("cost_usd")?,
        prompt: prompt.map(|p| serde_json::from_str(&p)).transpose().map_err(|e| corrupt("prompt", &e))?,
        output_check: output_check
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| corrupt("output_check", &e))?,
        api_key_id: row.try_get("api_key_id")?,
        guardrails: guardrails
            .map(|g| serde_json::from_str(&g))
            .transpose()
            .map_err(|e| corrupt("guardrails", &e))?
            .unwrap_or_default(),
        deployment: deployment.map(|d| serde_json::from_str(&d)).transpose().map_err(|e| corrupt("deployment", &e))?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_traces(&self, traces: &[TraceRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut rollups = RollupBatch::default();
        for t in traces {
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO traces (id, started_at_us, kind, requested_model, provider, upstream_model,
                 status, http_status, error_code, error_message, stream, request, response, attempts,
                 finish_reason, prompt_tokens, completion_tokens, total_tokens, latency_ms, ttft_ms, cost_usd,
                 parent_id, span_name, prompt_name, prompt, output_check, api_key_id, guardrails, route, deployment)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(t.id.to_string())
            .bind(to_micros(t.started_at))
            .bind(t.kind.as_str())
            .bind(&t.requested_model)
            .bind(&t.provider)
            .bind(&t.upstream_model)
            .bind(t.status.as_str())
            .bind(i64::from(t.http_status))
            .bind(t.error.as_ref().map(|e| e.code.clone()))
            .bind(t.error.as_ref().map(|e| e.message.clone()))
            .bind(i64::from(t.stream))
            .bind(json_text(&t.request)?)
            .bind(t.response.as_ref().map(json_text).transpose()?)
            .bind(json_text(&t.attempts)?)
            .bind(&t.finish_reason)
            .bind(t.prompt_tokens.map(i64::from))
            .bind(t.completion_tokens.map(i64::from))
            .bind(t.total_tokens.map(i64::from))
            .bind(t.latency_ms)
            .bind(t.ttft_ms)
            .bind(t.cost_usd)
            .bind(t.parent_id.map(|p| p.to_string()))
            .bind(&t.name)
            .bind(t.prompt.as_ref().map(|p| p.name.clone()))
            .bind(t.prompt.as_ref().map(json_text).transpose()?)
            .bind(t.output_check.as_ref().map(json_text).transpose()?)
            .bind(&t.api_key_id)
            .bind(if t.guardrails.is_empty() { None } else { Some(json_text(&t.guardrails)?) })
            .bind(t.deployment.as_ref().map(|d| d.route.clone()))
            .bind(t.deployment.as_ref().map(json_text).transpose()?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Only a trace stored now is counted: an id already stored was counted before.
            if inserted == 1 && t.parent_id.is_none() {
                rollups.add(&Counted::of(t));
            }
        }
        if !rollups.is_empty() {
            rollups.write(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_trace(&self, id: TraceId) -> Result<Option<TraceRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM traces WHERE id = ?").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.as_ref().map(row_to_trace).transpose()
    }

    async fn list_traces(&self, filter: &TraceFilter) -> Result<Vec<TraceRecord>, StoreError> {
        let mut q = QueryBuilder::new("SELECT * FROM traces WHERE ");
        match filter.parent {
            Some(parent) => q.push("parent_id = ").push_bind(parent.to_string()),
            None => q.push("parent_id IS NULL"),
        };
        if let Some(model) = &filter.model {
            q.push(" AND requested_model = ").push_bind(model.clone());
        }
        if let Some(prompt) = &filter.prompt {
            q.push(" AND prompt_name = ").push_bind(prompt.clone());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(since) = filter.since {
            q.push(" AND started_at_us >= ").push_bind(to_micros(since));
        }
        if let Some(until) = filter.until {
            q.push(" AND started_at_us < ").push_bind(to_micros(until));
        }
        if let Some(cursor) = filter.before {
            // Row-value comparison keeps the page boundary exact when two traces share a microsecond.
            q.push(" AND (started_at_us, id) < (").push_bind(to_micros(cursor.started_at));
            q.push(", ").push_bind(cursor.id.to_string()).push(")");
        }
        if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", like_escape(text));
            q.push(" AND (request LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
            q.push(" OR response LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
        }
        let limit = filter.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT);
        // Spans read as a timeline, oldest first; root traces newest first.
        let order = if filter.parent.is_some() { "ASC" } else { "DESC" };
        q.push(format!(" ORDER BY started_at_us {order}, id {order} LIMIT ")).push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(row_to_trace).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
