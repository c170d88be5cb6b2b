//! The registry on SQLite. Writes take the database lock up front (`BEGIN IMMEDIATE`), so two
//! concurrent pushes of one name are serialised and cannot pick the same version number; the
//! primary key would refuse a duplicate anyway.

use crate::sqlite::{from_micros, to_micros};
use crate::{RegistryStore, SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_types::{
    CreatedVersion, DocumentSummary, DocumentVersion, LabelMove, LabelRecord, LabelUpdate, NewVersion, RegistryKind,
    LATEST_LABEL,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use std::collections::BTreeMap;

const VERSION_COLUMNS: &str = "kind, name, version, content, content_hash, message, author, created_at_us";

/// Now, at the precision the store keeps, so a returned record equals the one read back later.
fn now_micros() -> Result<(DateTime<Utc>, i64), StoreError> {
    let us = to_micros(Utc::now());
    Ok((from_micros(us)?, us))
}

fn to_u32(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is out of range")))
}

fn row_to_version(row: &SqliteRow) -> Result<DocumentVersion, StoreError> {
    let kind: String = row.try_get("kind")?;
    let name: String = row.try_get("name")?;
    let version = to_u32(row.try_get("version")?, "version")?;
    let content: String = row.try_get("content")?;
    Ok(DocumentVersion {
        kind: RegistryKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("registry kind '{kind}'")))?,
        content: serde_json::from_str(&content)
            .map_err(|e| StoreError::Corrupt(format!("{kind} {name} version {version}: content: {e}")))?,
        name,
        version,
        content_hash: row.try_get("content_hash")?,
        message: row.try_get("message")?,
        author: row.try_get("author")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
    })
}

fn row_to_label(row: &SqliteRow) -> Result<LabelRecord, StoreError> {
    Ok(LabelRecord {
        label: row.try_get("label")?,
        version: to_u32(row.try_get("version")?, "label version")?,
        updated_by: row.try_get("updated_by")?,
        updated_at: from_micros(row.try_get("updated_at_us")?)?,
    })
}

async fn label_in(
    conn: &mut SqliteConnection,
    kind: RegistryKind,
    name: &str,
    label: &str,
) -> Result<Option<LabelRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT label, version, updated_by, updated_at_us FROM registry_labels WHERE kind = ? AND name = ? AND label = ?",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(label)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(row_to_label).transpose()
}

/// Points the label at `to` and records the move; the caller's transaction commits both.
async fn move_label_in(
    conn: &mut SqliteConnection,
    kind: RegistryKind,
    name: &str,
    label: &str,
    from: Option<u32>,
    to: u32,
    moved_by: &str,
) -> Result<LabelMove, StoreError> {
    let (moved_at, moved_at_us) = now_micros()?;
    sqlx::query(
        "INSERT INTO registry_labels (kind, name, label, version, updated_by, updated_at_us) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, name, label) DO UPDATE SET version = excluded.version,
         updated_by = excluded.updated_by, updated_at_us = excluded.updated_at_us",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(label)
    .bind(i64::from(to))
    .bind(moved_by)
    .bind(moved_at_us)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO registry_label_moves (kind, name, label, from_version, to_version, moved_by, moved_at_us)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(kind.as_str())
    .bind(name)
    .bind(label)
    .bind(from.map(i64::from))
    .bind(i64::from(to))
    .bind(moved_by)
    .bind(moved_at_us)
    .execute(&mut *conn)
    .await?;
    Ok(LabelMove {
        label: label.to_string(),
        from_version: from,
        to_version: to,
        moved_by: moved_by.to_string(),
        moved_at,
    })
}

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn create_version(&self, new: &NewVersion) -> Result<CreatedVersion, StoreError> {
        let content = serde_json::to_string(&new.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let newest = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM registry_versions WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1"
        ))
        .bind(new.kind.as_str())
        .bind(&new.name)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(row_to_version)
        .transpose()?;
        if let Some(newest) = &newest {
            if newest.content_hash == new.content_hash {
                tx.commit().await?;
                return Ok(CreatedVersion { version: newest.clone(), created: false });
            }
        }
        let previous = newest.as_ref().map(|v| v.version);
        let version = previous
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt(format!("{} has run out of version numbers", new.name)))?;
        let (created_at, created_at_us) = now_micros()?;
        sqlx::query(&format!("INSERT INTO registry_versions ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(new.kind.as_str())
            .bind(&new.name)
            .bind(i64::from(version))
            .bind(&content)
            .bind(&new.content_hash)
            .bind(&new.message)
            .bind(&new.author)
            .bind(created_at_us)
            .execute(&mut *tx)
            .await?;
        // `latest` normally points at `previous`, but read it rather than assume, so the
        // recorded move is true even if the history was edited by hand.
        let from = label_in(&mut tx, new.kind, &new.name, LATEST_LABEL).await?.map(|l| l.version);
        move_label_in(&mut tx, new.kind, &new.name, LATEST_LABEL, from, version, &new.author).await?;
        tx.commit().await?;
        Ok(CreatedVersion {
            version: DocumentVersion {
                kind: new.kind,
                name: new.name.clone(),
                version,
                content: new.content.clone(),
                content_hash: new.content_hash.clone(),
                message: new.message.clone(),
                author: new.author.clone(),
                created_at,
            },
            created: true,
        })
    }

    async fn get_version(
        &self,
        kind: RegistryKind,
        name: &str,
        version: u32,
    ) -> Result<Option<DocumentVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM registry_versions WHERE kind = ? AND name = ? AND version = ?"
        ))
        .bind(kind.as_str())
        .bind(name)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_version).transpose()
    }

    async fn latest_version(&self, kind: RegistryKind, name: &str) -> Result<Option<DocumentVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM registry_versions WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1"
        ))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_version).transpose()
    }

    async fn list_versions(&self, kind: RegistryKind, name: &str) -> Result<Vec<DocumentVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM registry_versions WHERE kind = ? AND name = ? ORDER BY version ASC"
        ))
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_version).collect()
    }

    async fn list_registered(&self, kind: RegistryKind) -> Result<Vec<DocumentSummary>, StoreError> {
        let newest = sqlx::query(
            "SELECT name, MAX(version) AS version, MAX(created_at_us) AS created_at_us FROM registry_versions
             WHERE kind = ? GROUP BY name ORDER BY name",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        let label_rows = sqlx::query(
            "SELECT name, label, version, updated_by, updated_at_us FROM registry_labels WHERE kind = ?
             ORDER BY name, label",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut labels: BTreeMap<String, Vec<LabelRecord>> = BTreeMap::new();
        for row in &label_rows {
            labels.entry(row.try_get("name")?).or_default().push(row_to_label(row)?);
        }
        newest
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                Ok(DocumentSummary {
                    latest_version: to_u32(row.try_get("version")?, "version")?,
                    updated_at: from_micros(row.try_get("created_at_us")?)?,
                    labels: labels.remove(&name).unwrap_or_default(),
                    name,
                })
            })
            .collect()
    }

    async fn list_labels(&self, kind: RegistryKind, name: &str) -> Result<Vec<LabelRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT label, version, updated_by, updated_at_us FROM registry_labels WHERE kind = ? AND name = ?
             ORDER BY label",
        )
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_label).collect()
    }

    async fn get_label(&self, kind: RegistryKind, name: &str, label: &str) -> Result<Option<LabelRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        label_in(&mut conn, kind, name, label).await
    }

    async fn set_label(
        &self,
        kind: RegistryKind,
        name: &str,
        label: &str,
        version: u32,
        moved_by: &str,
    ) -> Result<LabelUpdate, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists = sqlx::query("SELECT 1 FROM registry_versions WHERE kind = ? AND name = ? AND version = ?")
            .bind(kind.as_str())
            .bind(name)
            .bind(i64::from(version))
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            tx.rollback().await?;
            return Ok(LabelUpdate::NoSuchVersion);
        }
        let current = label_in(&mut tx, kind, name, label).await?;
        if let Some(current) = current.as_ref().filter(|c| c.version == version) {
            let unchanged = current.clone();
            tx.rollback().await?;
            return Ok(LabelUpdate::Unchanged(unchanged));
        }
        let from = current.map(|l| l.version);
        let moved = move_label_in(&mut tx, kind, name, label, from, version, moved_by).await?;
        tx.commit().await?;
        Ok(LabelUpdate::Moved(moved))
    }

    async fn label_history(&self, kind: RegistryKind, name: &str) -> Result<Vec<LabelMove>, StoreError> {
        let rows = sqlx::query(
            "SELECT label, from_version, to_version, moved_by, moved_at_us FROM registry_label_moves
             WHERE kind = ? AND name = ? ORDER BY id ASC",
        )
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let from: Option<i64> = row.try_get("from_version")?;
                Ok(LabelMove {
                    label: row.try_get("label")?,
                    from_version: from.map(|v| to_u32(v, "from_version")).transpose()?,
                    to_version: to_u32(row.try_get("to_version")?, "to_version")?,
                    moved_by: row.try_get("moved_by")?,
                    moved_at: from_micros(row.try_get("moved_at_us")?)?,
                })
            })
            .collect()
    }
}
