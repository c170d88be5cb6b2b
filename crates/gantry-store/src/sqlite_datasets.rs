//! `DatasetStore` on SQLite: items as JSON text, one row each.

use crate::datasets::{DatasetStore, NewDatasetVersion};
use crate::sqlite::{from_micros, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::Utc;
use gantry_types::{DatasetSummary, DatasetVersionInfo, StoredItem};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};

/// Items per INSERT statement: 4 parameters each stays far below SQLite's variable limit.
const INSERT_BATCH: usize = 500;

const VERSION_COLUMNS: &str = "name, version, item_count, source, parent_version, author, created_at_us";

fn unsigned<T: TryFrom<i64>>(row: &SqliteRow, column: &str) -> Result<T, StoreError> {
    let value: i64 = row.try_get(column)?;
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value} is out of range")))
}

fn row_to_version(row: &SqliteRow) -> Result<DatasetVersionInfo, StoreError> {
    let parent: Option<i64> = row.try_get("parent_version")?;
    Ok(DatasetVersionInfo {
        name: row.try_get("name")?,
        version: unsigned(row, "version")?,
        items: unsigned(row, "item_count")?,
        source: row.try_get("source")?,
        parent_version: parent
            .map(|p| u32::try_from(p).map_err(|_| StoreError::Corrupt(format!("parent_version {p}"))))
            .transpose()?,
        author: row.try_get("author")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
    })
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} = {value} is too large")))
}

#[async_trait]
impl DatasetStore for SqliteStore {
    async fn create_dataset_version(&self, new: NewDatasetVersion<'_>) -> Result<DatasetVersionInfo, StoreError> {
        let created_at = from_micros(to_micros(Utc::now()))?;
        let mut tx = self.pool.begin().await?;
        // The version number is taken by a write, so the transaction holds the write lock
        // before anything else happens and concurrent writers get distinct numbers.
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO datasets (name, latest_version, created_at_us) VALUES (?, 1, ?)
             ON CONFLICT (name) DO UPDATE SET latest_version = latest_version + 1
             RETURNING latest_version",
        )
        .bind(new.name)
        .bind(to_micros(created_at))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO dataset_versions (name, version, item_count, source, parent_version, author, created_at_us)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.name)
        .bind(version)
        .bind(to_i64(new.items.len() as u64, "items")?)
        .bind(new.source)
        .bind(new.parent_version.map(i64::from))
        .bind(new.author)
        .bind(to_micros(created_at))
        .execute(&mut *tx)
        .await?;
        for (batch_no, batch) in new.items.chunks(INSERT_BATCH).enumerate() {
            let texts = batch
                .iter()
                .map(|item| serde_json::to_string(item).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let first = batch_no * INSERT_BATCH;
            let mut q = QueryBuilder::new("INSERT INTO dataset_items (name, version, position, item) ");
            q.push_values(texts.iter().enumerate(), |mut row, (i, text)| {
                row.push_bind(new.name)
                    .push_bind(version)
                    .push_bind(i64::try_from(first + i).unwrap_or(i64::MAX))
                    .push_bind(text.as_str());
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(DatasetVersionInfo {
            name: new.name.to_string(),
            version: u32::try_from(version).map_err(|_| StoreError::Corrupt(format!("version {version}")))?,
            items: new.items.len() as u64,
            source: new.source.to_string(),
            parent_version: new.parent_version,
            author: new.author.to_string(),
            created_at,
        })
    }

    async fn get_dataset_version(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<DatasetVersionInfo>, StoreError> {
        let row = match version {
            Some(v) => {
                sqlx::query(&format!("SELECT {VERSION_COLUMNS} FROM dataset_versions WHERE name = ? AND version = ?"))
                    .bind(name)
                    .bind(i64::from(v))
                    .fetch_optional(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {VERSION_COLUMNS} FROM dataset_versions WHERE name = ? ORDER BY version DESC LIMIT 1"
                ))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(row_to_version).transpose()
    }

    async fn list_dataset_versions(&self, name: &str) -> Result<Vec<DatasetVersionInfo>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {VERSION_COLUMNS} FROM dataset_versions WHERE name = ? ORDER BY version"))
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(row_to_version).collect()
    }

    async fn list_datasets(&self) -> Result<Vec<DatasetSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.name, d.latest_version, v.item_count, v.created_at_us,
                (SELECT COUNT(*) FROM dataset_versions c WHERE c.name = d.name) AS versions
             FROM datasets d JOIN dataset_versions v ON v.name = d.name AND v.version = d.latest_version
             ORDER BY d.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DatasetSummary {
                    name: row.try_get("name")?,
                    latest_version: unsigned(row, "latest_version")?,
                    items: unsigned(row, "item_count")?,
                    versions: unsigned(row, "versions")?,
                    updated_at: from_micros(row.try_get("created_at_us")?)?,
                })
            })
            .collect()
    }

    async fn dataset_items(
        &self,
        name: &str,
        version: u32,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        // LIMIT -1 is SQLite's "no limit".
        let limit = limit.map(|l| to_i64(l, "limit")).transpose()?.unwrap_or(-1);
        let rows = sqlx::query(
            "SELECT position, item FROM dataset_items WHERE name = ? AND version = ?
             ORDER BY position LIMIT ? OFFSET ?",
        )
        .bind(name)
        .bind(i64::from(version))
        .bind(limit)
        .bind(to_i64(offset, "offset")?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let index: u32 = unsigned(row, "position")?;
                let text: String = row.try_get("item")?;
                let item = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("item {index} of {name}@{version}: {e}")))?;
                Ok(StoredItem { index, item })
            })
            .collect()
    }
}
