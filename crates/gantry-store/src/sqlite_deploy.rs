//! `DeploymentStore` on SQLite.

use crate::deploy::{DeploymentStore, NewRelease};
use crate::sqlite::{from_micros, json_text, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::Utc;
use gantry_types::{ArmTotals, Canary, Deployment, DeploymentAction, DeploymentEvent, MomentSums, Release};
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};
use std::collections::BTreeMap;

fn number(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    let v: i64 = row.try_get(column)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v}")))
}

fn optional_number(row: &SqliteRow, column: &str) -> Result<Option<u32>, StoreError> {
    let v: Option<i64> = row.try_get(column)?;
    v.map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v}")))).transpose()
}

fn row_to_release(row: &SqliteRow) -> Result<Release, StoreError> {
    let target: String = row.try_get("target")?;
    let gate: Option<String> = row.try_get("gate")?;
    Ok(Release {
        route: row.try_get("route")?,
        environment: row.try_get("environment")?,
        number: number(row, "number")?,
        target: target.parse().map_err(|e| StoreError::Corrupt(format!("release target: {e}")))?,
        model: row.try_get("model")?,
        promoted_by: row.try_get("promoted_by")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
        gate: gate
            .map(|g| serde_json::from_str(&g))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("release gate: {e}")))?,
        note: row.try_get("note")?,
    })
}

fn json_column<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn row_to_deployment(row: &SqliteRow) -> Result<Deployment, StoreError> {
    let canary = match (optional_number(row, "canary_release")?, row.try_get::<Option<f64>, _>("canary_percent")?) {
        (Some(release), Some(percent)) => Some(Canary { release, percent, guard: json_column(row, "canary_guard")? }),
        _ => None,
    };
    Ok(Deployment {
        route: row.try_get("route")?,
        environment: row.try_get("environment")?,
        current: number(row, "current_release")?,
        canary,
        experiment: json_column(row, "experiment")?,
        updated_by: row.try_get("updated_by")?,
        updated_at: from_micros(row.try_get("updated_at_us")?)?,
    })
}

fn row_to_event(row: &SqliteRow) -> Result<DeploymentEvent, StoreError> {
    let action: String = row.try_get("action")?;
    Ok(DeploymentEvent {
        route: row.try_get("route")?,
        environment: row.try_get("environment")?,
        action: DeploymentAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("deployment action '{action}'")))?,
        from_release: optional_number(row, "from_release")?,
        to_release: optional_number(row, "to_release")?,
        actor: row.try_get("actor")?,
        at: from_micros(row.try_get("at_us")?)?,
        reason: row.try_get("reason")?,
    })
}

async fn insert_event(
    executor: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    event: &DeploymentEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployment_events (route, environment, action, from_release, to_release, actor, at_us, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&event.route)
    .bind(&event.environment)
    .bind(event.action.as_str())
    .bind(event.from_release.map(i64::from))
    .bind(event.to_release.map(i64::from))
    .bind(&event.actor)
    .bind(to_micros(event.at))
    .bind(&event.reason)
    .execute(executor)
    .await?;
    Ok(())
}

#[async_trait]
impl DeploymentStore for SqliteStore {
    async fn create_release(&self, new: NewRelease<'_>) -> Result<Release, StoreError> {
        let mut tx = self.pool.begin().await?;
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE route = ? AND environment = ?")
                .bind(new.route)
                .bind(new.environment)
                .fetch_one(&mut *tx)
                .await?;
        let created_at = Utc::now();
        sqlx::query(
            "INSERT INTO releases (route, environment, number, target, model, promoted_by, created_at_us, gate, note)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.route)
        .bind(new.environment)
        .bind(next)
        .bind(new.target.to_string())
        .bind(new.model)
        .bind(new.promoted_by)
        .bind(to_micros(created_at))
        .bind(new.gate.map(json_text).transpose()?)
        .bind(new.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Release {
            route: new.route.to_string(),
            environment: new.environment.to_string(),
            number: u32::try_from(next).map_err(|_| StoreError::Corrupt(format!("release number {next}")))?,
            target: new.target.clone(),
            model: new.model.map(str::to_string),
            promoted_by: new.promoted_by.to_string(),
            created_at: from_micros(to_micros(created_at))?,
            gate: new.gate.cloned(),
            note: new.note.map(str::to_string),
        })
    }

    async fn get_release(&self, route: &str, environment: &str, number: u32) -> Result<Option<Release>, StoreError> {
        let row = sqlx::query("SELECT * FROM releases WHERE route = ? AND environment = ? AND number = ?")
            .bind(route)
            .bind(environment)
            .bind(i64::from(number))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_release).transpose()
    }

    async fn list_releases(&self, route: &str, environment: &str) -> Result<Vec<Release>, StoreError> {
        let rows = sqlx::query("SELECT * FROM releases WHERE route = ? AND environment = ? ORDER BY number")
            .bind(route)
            .bind(environment)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_release).collect()
    }

    async fn get_deployment(&self, route: &str, environment: &str) -> Result<Option<Deployment>, StoreError> {
        let row = sqlx::query("SELECT * FROM deployments WHERE route = ? AND environment = ?")
            .bind(route)
            .bind(environment)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_deployment).transpose()
    }

    async fn list_deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query("SELECT * FROM deployments ORDER BY route, environment").fetch_all(&self.pool).await?;
        rows.iter().map(row_to_deployment).collect()
    }

    async fn replace_deployment(
        &self,
        expected: Option<&Deployment>,
        next: &Deployment,
        event: &DeploymentEvent,
    ) -> Result<bool, StoreError> {
        let guard = next.canary.as_ref().and_then(|c| c.guard.as_ref()).map(json_text).transpose()?;
        let experiment = next.experiment.as_ref().map(json_text).transpose()?;
        let mut tx = self.pool.begin().await?;
        let changed = match expected {
            // The row must not exist yet: a concurrent first promotion loses on the primary key.
            None => sqlx::query(
                "INSERT OR IGNORE INTO deployments (route, environment, current_release, canary_release, canary_percent,
                 canary_guard, experiment, updated_by, updated_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&next.route)
            .bind(&next.environment)
            .bind(i64::from(next.current))
            .bind(next.canary.as_ref().map(|c| i64::from(c.release)))
            .bind(next.canary.as_ref().map(|c| c.percent))
            .bind(guard.clone())
            .bind(experiment.clone())
            .bind(&next.updated_by)
            .bind(to_micros(next.updated_at))
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Some(expected) => {
                let mut q = QueryBuilder::new("UPDATE deployments SET current_release = ");
                q.push_bind(i64::from(next.current));
                q.push(", canary_release = ").push_bind(next.canary.as_ref().map(|c| i64::from(c.release)));
                q.push(", canary_percent = ").push_bind(next.canary.as_ref().map(|c| c.percent));
                q.push(", canary_guard = ").push_bind(guard);
                q.push(", experiment = ").push_bind(experiment);
                q.push(", updated_by = ").push_bind(next.updated_by.clone());
                q.push(", updated_at_us = ").push_bind(to_micros(next.updated_at));
                q.push(" WHERE route = ").push_bind(expected.route.clone());
                q.push(" AND environment = ").push_bind(expected.environment.clone());
                q.push(" AND current_release = ").push_bind(i64::from(expected.current));
                q.push(" AND canary_release IS ").push_bind(expected.canary.as_ref().map(|c| i64::from(c.release)));
                q.push(" AND updated_at_us = ").push_bind(to_micros(expected.updated_at));
                q.build().execute(&mut *tx).await?.rows_affected()
            }
        };
        if changed == 0 {
            return Ok(false);
        }
        insert_event(&mut *tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_deployment_event(&self, event: &DeploymentEvent) -> Result<(), StoreError> {
        insert_event(&self.pool, event).await
    }

    async fn deployment_history(
        &self,
        route: Option<&str>,
        environment: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeploymentEvent>, StoreError> {
        let mut q = QueryBuilder::new("SELECT * FROM deployment_events WHERE 1 = 1");
        if let Some(route) = route {
            q.push(" AND route = ").push_bind(route.to_string());
        }
        if let Some(environment) = environment {
            q.push(" AND environment = ").push_bind(environment.to_string());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn arm_totals(
        &self,
        route: &str,
        environment: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<ArmTotals>, StoreError> {
        // Root traces only: a call's spans are not calls of their own.
        const ARMS: &str = "FROM traces t WHERE t.route = ? AND t.started_at_us >= ? AND t.parent_id IS NULL
             AND json_extract(t.deployment, '$.environment') = ?";
        let rows = sqlx::query(&format!(
            "SELECT json_extract(t.deployment, '$.release') AS release, json_extract(t.deployment, '$.variant') AS variant,
                    COUNT(*) AS requests, TOTAL(t.status = 'error') AS errors,
                    TOTAL(t.latency_ms) AS latency_sum, TOTAL(t.latency_ms * t.latency_ms) AS latency_sq,
                    COUNT(t.cost_usd) AS cost_n, TOTAL(t.cost_usd) AS cost_sum, TOTAL(t.cost_usd * t.cost_usd) AS cost_sq
             {ARMS} GROUP BY 1, 2 ORDER BY 1, 2"
        ))
        .bind(route)
        .bind(to_micros(since))
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        let mut arms = Vec::with_capacity(rows.len());
        for row in &rows {
            let count = |column: &str| -> Result<u64, StoreError> {
                let v: i64 = row.try_get(column)?;
                Ok(u64::try_from(v).unwrap_or(0))
            };
            let requests = count("requests")?;
            arms.push(ArmTotals {
                release: number(row, "release")?,
                variant: row.try_get::<Option<String>, _>("variant")?.unwrap_or_default(),
                requests,
                errors: row.try_get::<f64, _>("errors")? as u64,
                latency_ms: MomentSums {
                    n: requests,
                    sum: row.try_get("latency_sum")?,
                    sum_sq: row.try_get("latency_sq")?,
                },
                cost_usd: MomentSums {
                    n: count("cost_n")?,
                    sum: row.try_get("cost_sum")?,
                    sum_sq: row.try_get("cost_sq")?,
                },
                scores: BTreeMap::new(),
            });
        }
        let scores = sqlx::query(
            "SELECT json_extract(t.deployment, '$.release') AS release, json_extract(t.deployment, '$.variant') AS variant,
                    f.name AS name, COUNT(*) AS n, TOTAL(f.value_number) AS total, TOTAL(f.value_number * f.value_number) AS sq
             FROM feedback f JOIN traces t ON t.id = f.trace_id
             WHERE t.route = ? AND t.started_at_us >= ? AND t.parent_id IS NULL
               AND json_extract(t.deployment, '$.environment') = ? AND f.value_number IS NOT NULL
             GROUP BY 1, 2, 3",
        )
        .bind(route)
        .bind(to_micros(since))
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        for row in &scores {
            let release = number(row, "release")?;
            let variant = row.try_get::<Option<String>, _>("variant")?.unwrap_or_default();
            let n: i64 = row.try_get("n")?;
            let sums =
                MomentSums { n: u64::try_from(n).unwrap_or(0), sum: row.try_get("total")?, sum_sq: row.try_get("sq")? };
            if let Some(arm) = arms.iter_mut().find(|a| a.release == release && a.variant == variant) {
                arm.scores.insert(row.try_get("name")?, sums);
            }
        }
        Ok(arms)
    }
}
