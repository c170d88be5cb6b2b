//! `GuardStore` on SQLite.

use crate::guard::GuardStore;
use crate::sqlite::{from_micros, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use gantry_types::InjectionExample;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

fn row_to_example(row: &SqliteRow) -> Result<InjectionExample, StoreError> {
    Ok(InjectionExample {
        id: row.try_get("id")?,
        text: row.try_get("text")?,
        category: row.try_get("category")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
    })
}

#[async_trait]
impl GuardStore for SqliteStore {
    async fn add_injection_example(&self, text: &str, category: &str) -> Result<InjectionExample, StoreError> {
        let now = chrono::Utc::now();
        let row = sqlx::query(
            "INSERT INTO injection_examples (text, category, created_at_us) VALUES (?, ?, ?)
             RETURNING id, text, category, created_at_us",
        )
        .bind(text)
        .bind(category)
        .bind(to_micros(now))
        .fetch_one(&self.pool)
        .await?;
        row_to_example(&row)
    }

    async fn list_injection_examples(&self) -> Result<Vec<InjectionExample>, StoreError> {
        let rows = sqlx::query("SELECT id, text, category, created_at_us FROM injection_examples ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_example).collect()
    }

    async fn delete_injection_example(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM injection_examples WHERE id = ?").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}
