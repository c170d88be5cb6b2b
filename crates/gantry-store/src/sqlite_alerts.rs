//! `AlertStore` on SQLite.

use crate::alerts::{AlertStore, TraceWindow};
use crate::sqlite::{from_micros, to_micros};
use crate::{RollupCell, SqliteStore, StoreError};
use async_trait::async_trait;
use futures::TryStreamExt;
use gantry_types::{
    AlertDelivery, AlertEvent, AlertEventKind, AlertRuleState, AlertState, DeliveryOutcome, TraceStatus,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;

fn optional_time(row: &SqliteRow, column: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?.map(from_micros).transpose()
}

fn row_to_state(row: &SqliteRow) -> Result<AlertRuleState, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(AlertRuleState {
        rule: row.try_get("rule")?,
        state: AlertState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("alert state '{state}'")))?,
        since: optional_time(row, "since_us")?,
        value: row.try_get("value")?,
        evaluated_at: optional_time(row, "evaluated_at_us")?,
    })
}

fn row_to_event(row: &SqliteRow) -> Result<AlertEvent, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(AlertEvent {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        kind: AlertEventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("alert event '{kind}'")))?,
        severity: row.try_get("severity")?,
        metric: row.try_get("metric")?,
        op: row.try_get("op")?,
        threshold: row.try_get("threshold")?,
        value: row.try_get("value")?,
        started_at: optional_time(row, "started_at_us")?,
        at: from_micros(row.try_get("at_us")?)?,
        deliveries: Vec::new(),
    })
}

fn row_to_delivery(row: &SqliteRow) -> Result<(i64, AlertDelivery), StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let status: Option<i64> = row.try_get("status")?;
    let attempt: i64 = row.try_get("attempt")?;
    Ok((
        row.try_get("event_id")?,
        AlertDelivery {
            webhook: row.try_get("webhook")?,
            attempt: u32::try_from(attempt).map_err(|_| StoreError::Corrupt(format!("delivery attempt {attempt}")))?,
            at: from_micros(row.try_get("at_us")?)?,
            status: status
                .map(|s| u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("delivery status {s}"))))
                .transpose()?,
            error: row.try_get("error")?,
            outcome: DeliveryOutcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("delivery outcome '{outcome}'")))?,
        },
    ))
}

async fn insert_event(
    executor: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    event: &AlertEvent,
) -> Result<i64, StoreError> {
    let id = sqlx::query(
        "INSERT INTO alert_events (rule, kind, severity, metric, op, threshold, value, started_at_us, at_us)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&event.rule)
    .bind(event.kind.as_str())
    .bind(&event.severity)
    .bind(&event.metric)
    .bind(&event.op)
    .bind(event.threshold)
    .bind(event.value)
    .bind(event.started_at.map(to_micros))
    .bind(to_micros(event.at))
    .execute(executor)
    .await?
    .last_insert_rowid();
    Ok(id)
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn alert_states(&self) -> Result<Vec<AlertRuleState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM alert_states ORDER BY rule").fetch_all(&self.pool).await?;
        rows.iter().map(row_to_state).collect()
    }

    async fn save_alert_state(
        &self,
        state: &AlertRuleState,
        event: Option<&AlertEvent>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO alert_states (rule, state, since_us, value, evaluated_at_us) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (rule) DO UPDATE SET state = excluded.state, since_us = excluded.since_us,
             value = excluded.value, evaluated_at_us = excluded.evaluated_at_us",
        )
        .bind(&state.rule)
        .bind(state.state.as_str())
        .bind(state.since.map(to_micros))
        .bind(state.value)
        .bind(state.evaluated_at.map(to_micros))
        .execute(&mut *tx)
        .await?;
        let id = match event {
            Some(event) => Some(insert_event(&mut *tx, event).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(id)
    }

    async fn record_alert_event(&self, event: &AlertEvent) -> Result<i64, StoreError> {
        insert_event(&self.pool, event).await
    }

    async fn record_alert_delivery(&self, event_id: i64, delivery: &AlertDelivery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_deliveries (event_id, webhook, attempt, at_us, status, error, outcome)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event_id)
        .bind(&delivery.webhook)
        .bind(i64::from(delivery.attempt))
        .bind(to_micros(delivery.at))
        .bind(delivery.status.map(i64::from))
        .bind(&delivery.error)
        .bind(delivery.outcome.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn alert_history(&self, rule: Option<&str>, limit: u32) -> Result<Vec<AlertEvent>, StoreError> {
        let mut q = QueryBuilder::new("SELECT * FROM alert_events");
        if let Some(rule) = rule {
            q.push(" WHERE rule = ").push_bind(rule.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut events: Vec<AlertEvent> = rows.iter().map(row_to_event).collect::<Result<_, _>>()?;
        if events.is_empty() {
            return Ok(events);
        }
        let mut d = QueryBuilder::new("SELECT * FROM alert_deliveries WHERE event_id IN (");
        let mut ids = d.separated(", ");
        for event in &events {
            ids.push_bind(event.id);
        }
        d.push(") ORDER BY id");
        let mut by_event: HashMap<i64, Vec<AlertDelivery>> = HashMap::new();
        for row in d.build().fetch_all(&self.pool).await? {
            let (event_id, delivery) = row_to_delivery(&row)?;
            by_event.entry(event_id).or_default().push(delivery);
        }
        for event in &mut events {
            event.deliveries = by_event.remove(&event.id).unwrap_or_default();
        }
        Ok(events)
    }

    async fn trace_window_totals(&self, window: &TraceWindow) -> Result<RollupCell, StoreError> {
        let mut q = QueryBuilder::new(
            "SELECT status, latency_ms, ttft_ms, cost_usd, prompt_tokens, completion_tokens FROM traces
             WHERE parent_id IS NULL AND started_at_us >= ",
        );
        q.push_bind(to_micros(window.since));
        q.push(" AND started_at_us < ").push_bind(to_micros(window.until));
        for (column, value) in [
            ("requested_model", &window.model),
            ("prompt_name", &window.prompt),
            ("api_key_id", &window.api_key_id),
            ("route", &window.route),
        ] {
            if let Some(value) = value {
                q.push(format!(" AND {column} = ")).push_bind(value.clone());
            }
        }
        if let Some(environment) = &window.environment {
            q.push(" AND deployment IS NOT NULL AND json_extract(deployment, '$.environment') = ")
                .push_bind(environment.clone());
        }
        let mut cell = RollupCell::default();
        let query = q.build();
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let status: String = row.try_get("status")?;
            cell.requests += 1;
            cell.errors += u64::from(status == TraceStatus::Error.as_str());
            cell.cancelled += u64::from(status == TraceStatus::Cancelled.as_str());
            let tokens = |column: &str| -> Result<u64, StoreError> {
                Ok(row.try_get::<Option<i64>, _>(column)?.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
            };
            cell.prompt_tokens += tokens("prompt_tokens")?;
            cell.completion_tokens += tokens("completion_tokens")?;
            cell.cost_usd += row.try_get::<Option<f64>, _>("cost_usd")?.unwrap_or(0.0);
            cell.latency.record(row.try_get("latency_ms")?);
            if let Some(ttft) = row.try_get::<Option<f64>, _>("ttft_ms")? {
                cell.ttft.record(ttft);
            }
        }
        Ok(cell)
    }
}
