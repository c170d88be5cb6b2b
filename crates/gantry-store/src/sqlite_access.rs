//! `KeyStore` and `AuditStore` on SQLite.

use crate::access::{AuditStore, KeyStore};
use crate::sqlite::{from_micros, json_text, to_micros};
use crate::{SqliteStore, StoreError, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{ApiKey, AuditEntry, AuditFilter, Budget, BudgetPeriod, KeyRole};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};

fn optional_u32(row: &SqliteRow, column: &str) -> Result<Option<u32>, StoreError> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v}")))).transpose()
}

fn row_to_key(row: &SqliteRow) -> Result<ApiKey, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str, value: &dyn std::fmt::Display| StoreError::Corrupt(format!("key {id}: {what}: {value}"));
    let role: String = row.try_get("role")?;
    let models: String = row.try_get("models")?;
    let budget_usd: Option<f64> = row.try_get("budget_usd")?;
    let budget_period: Option<String> = row.try_get("budget_period")?;
    let budget = match (budget_usd, budget_period) {
        (Some(usd), Some(period)) => {
            Some(Budget { usd, period: BudgetPeriod::parse(&period).ok_or_else(|| corrupt("budget_period", &period))? })
        }
        _ => None,
    };
    let revoked: Option<i64> = row.try_get("revoked_at_us")?;
    Ok(ApiKey {
        name: row.try_get("name")?,
        role: KeyRole::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        prefix: row.try_get("prefix")?,
        models: serde_json::from_str(&models).map_err(|e| corrupt("models", &e))?,
        rpm: optional_u32(row, "rpm")?,
        tpm: optional_u32(row, "tpm")?,
        budget,
        environment: row.try_get("environment")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
        revoked_at: revoked.map(from_micros).transpose()?,
        id,
    })
}

fn row_to_audit(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
    let id: String = row.try_get("id")?;
    let status: i64 = row.try_get("status")?;
    let resource_ids: String = row.try_get("resource_ids")?;
    Ok(AuditEntry {
        at: from_micros(row.try_get("at_us")?)?,
        actor: row.try_get("actor")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(status).map_err(|_| StoreError::Corrupt(format!("audit {id}: status {status}")))?,
        resource_ids: serde_json::from_str(&resource_ids)
            .map_err(|e| StoreError::Corrupt(format!("audit {id}: resource_ids: {e}")))?,
        id,
    })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &ApiKey, secret_sha256: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, prefix, secret_sha256, models, rpm, tpm, budget_usd,
             budget_period, environment, created_at_us, revoked_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.prefix)
        .bind(secret_sha256)
        .bind(json_text(&key.models)?)
        .bind(key.rpm.map(i64::from))
        .bind(key.tpm.map(i64::from))
        .bind(key.budget.map(|b| b.usd))
        .bind(key.budget.map(|b| b.period.as_str()))
        .bind(&key.environment)
        .bind(to_micros(key.created_at))
        .bind(key.revoked_at.map(to_micros))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_key_by_hash(&self, secret_sha256: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE secret_sha256 = ?")
            .bind(secret_sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_key).transpose()
    }

    async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = ?").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(row_to_key).transpose()
    }

    async fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY created_at_us, id").fetch_all(&self.pool).await?;
        rows.iter().map(row_to_key).collect()
    }

    async fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query("UPDATE api_keys SET revoked_at_us = ? WHERE id = ? AND revoked_at_us IS NULL")
            .bind(to_micros(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.get_key(id).await
    }

    async fn count_active_keys(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at_us IS NULL")
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt(format!("key count {count}")))
    }

    async fn key_spend_since(&self, key_id: &str, since: DateTime<Utc>) -> Result<f64, StoreError> {
        let spend: Option<f64> = sqlx::query_scalar(
            "SELECT SUM(cost_usd) FROM traces WHERE api_key_id = ? AND started_at_us >= ? AND cost_usd IS NOT NULL",
        )
        .bind(key_id)
        .bind(to_micros(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(spend.unwrap_or(0.0))
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, at_us, actor, method, path, status, resource_ids)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&entry.id)
        .bind(to_micros(entry.at))
        .bind(&entry.actor)
        .bind(&entry.method)
        .bind(&entry.path)
        .bind(i64::from(entry.status))
        .bind(json_text(&entry.resource_ids)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut q = QueryBuilder::new("SELECT * FROM audit_log WHERE 1 = 1");
        if let Some(since) = filter.since {
            q.push(" AND at_us >= ").push_bind(to_micros(since));
        }
        if let Some(actor) = &filter.actor {
            q.push(" AND actor = ").push_bind(actor.clone());
        }
        let limit = filter.limit.unwrap_or(DEFAULT_LIST_LIMIT).min(MAX_LIST_LIMIT);
        q.push(" ORDER BY at_us DESC, id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(row_to_audit).collect()
    }
}
