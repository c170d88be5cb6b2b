//! `EvalStore` on SQLite: JSON columns for the suite, the scores and the aggregates.

use crate::evals::EvalStore;
use crate::sqlite::{from_micros, json_text, to_micros};
use crate::sqlite_collections::unsigned;
use crate::{SqliteStore, StoreError, MAX_LIST_LIMIT};
use async_trait::async_trait;
use gantry_types::{EvalItemResult, EvalRun, EvalRunStatus, TraceId};
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

const RUN_COLUMNS: &str = "r.id, r.suite, r.dataset, r.dataset_version, r.target, r.config, r.status, \
     r.created_at_us, r.finished_at_us, r.items_total, r.summaries, r.gate, r.baseline_run_id, \
     (SELECT COUNT(*) FROM eval_items i WHERE i.run_id = r.id) AS items_done, \
     (SELECT COUNT(*) FROM eval_items i WHERE i.run_id = r.id AND i.error IS NOT NULL) AS items_failed";

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn row_to_run(row: &SqliteRow) -> Result<EvalRun, StoreError> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let config: String = row.try_get("config")?;
    let summaries: String = row.try_get("summaries")?;
    let gate: Option<String> = row.try_get("gate")?;
    let finished: Option<i64> = row.try_get("finished_at_us")?;
    Ok(EvalRun {
        status: EvalRunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("eval run {id}: unknown status {status}")))?,
        suite: row.try_get("suite")?,
        dataset: row.try_get("dataset")?,
        dataset_version: unsigned(row, "dataset_version")?,
        target: row.try_get("target")?,
        config: from_json(&config, "eval run config")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
        finished_at: finished.map(from_micros).transpose()?,
        items_total: unsigned(row, "items_total")?,
        items_done: unsigned(row, "items_done")?,
        items_failed: unsigned(row, "items_failed")?,
        summaries: from_json(&summaries, "eval run summaries")?,
        gate: gate.map(|g| from_json(&g, "eval run gate")).transpose()?,
        baseline_run_id: row.try_get("baseline_run_id")?,
        id,
    })
}

fn row_to_item(row: &SqliteRow) -> Result<EvalItemResult, StoreError> {
    let scores: String = row.try_get("scores")?;
    let trace_id: Option<String> = row.try_get("trace_id")?;
    Ok(EvalItemResult {
        index: unsigned(row, "item_index")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        scores: from_json(&scores, "eval item scores")?,
        trace_id: trace_id
            .map(|t| t.parse::<TraceId>().map_err(|e| StoreError::Corrupt(format!("eval item trace id: {e}"))))
            .transpose()?,
        latency_ms: row.try_get("latency_ms")?,
    })
}

#[async_trait]
impl EvalStore for SqliteStore {
    async fn create_eval_run(&self, run: &EvalRun) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eval_runs (id, suite, dataset, dataset_version, target, config, status, created_at_us, \
             items_total, summaries, baseline_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&run.id)
        .bind(&run.suite)
        .bind(&run.dataset)
        .bind(i64::from(run.dataset_version))
        .bind(&run.target)
        .bind(json_text(&run.config)?)
        .bind(run.status.as_str())
        .bind(to_micros(run.created_at))
        .bind(i64::from(run.items_total))
        .bind(json_text(&run.summaries)?)
        .bind(&run.baseline_run_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_eval_item(&self, run_id: &str, item: &EvalItemResult) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO eval_items (run_id, item_index, output, error, scores, trace_id, latency_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run_id)
        .bind(i64::from(item.index))
        .bind(&item.output)
        .bind(&item.error)
        .bind(json_text(&item.scores)?)
        .bind(item.trace_id.map(|t| t.to_string()))
        .bind(item.latency_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_eval_run(&self, run: &EvalRun) -> Result<(), StoreError> {
        let gate = run.gate.as_ref().map(json_text).transpose()?;
        sqlx::query(
            "UPDATE eval_runs SET status = ?, finished_at_us = ?, summaries = ?, gate = ?, baseline_run_id = ? \
             WHERE id = ?",
        )
        .bind(run.status.as_str())
        .bind(run.finished_at.map(to_micros))
        .bind(json_text(&run.summaries)?)
        .bind(gate)
        .bind(&run.baseline_run_id)
        .bind(&run.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_eval_run(&self, id: &str) -> Result<Option<EvalRun>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM eval_runs r WHERE r.id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(row_to_run).transpose()
    }

    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM eval_runs r WHERE (?1 IS NULL OR r.suite = ?1) \
             ORDER BY r.created_at_us DESC, r.id DESC LIMIT ?2"
        );
        let rows =
            sqlx::query(&sql).bind(suite).bind(i64::from(limit.clamp(1, MAX_LIST_LIMIT))).fetch_all(&self.pool).await?;
        rows.iter().map(row_to_run).collect()
    }

    async fn eval_run_items(&self, id: &str) -> Result<Vec<EvalItemResult>, StoreError> {
        let rows = sqlx::query(
            "SELECT item_index, output, error, scores, trace_id, latency_ms FROM eval_items \
             WHERE run_id = ? ORDER BY item_index",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_item).collect()
    }
}
