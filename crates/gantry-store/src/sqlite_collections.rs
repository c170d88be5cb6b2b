//! `CollectionStore` on SQLite: vectors as little-endian f32 BLOBs.

use crate::collections::{
    ChunkId, CollectionStore, NewChunk, NewDocument, ReplacedDocument, StoredChunk, StoredVectors,
};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use gantry_types::{CollectionInfo, CollectionSettings, DocumentInfo};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row};

const COLLECTION_COLUMNS: &str = "c.name, c.embedding_model, c.dimensions, c.chunk_size, c.chunk_overlap, \
     c.created_at_us, c.revision, \
     (SELECT COUNT(*) FROM rag_documents d WHERE d.collection = c.name) AS documents, \
     (SELECT COALESCE(SUM(d.chunk_count), 0) FROM rag_documents d WHERE d.collection = c.name) AS chunks";

fn timestamp(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

pub(crate) fn unsigned<T: TryFrom<i64>>(row: &SqliteRow, column: &str) -> Result<T, StoreError> {
    let value: i64 = row.try_get(column)?;
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value} is out of range")))
}

fn signed(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} = {value} is too large to store")))
}

fn row_to_collection(row: &SqliteRow) -> Result<CollectionInfo, StoreError> {
    Ok(CollectionInfo {
        name: row.try_get("name")?,
        settings: CollectionSettings {
            embedding_model: row.try_get("embedding_model")?,
            dimensions: unsigned(row, "dimensions")?,
            chunk_size: unsigned(row, "chunk_size")?,
            chunk_overlap: unsigned(row, "chunk_overlap")?,
        },
        created_at: timestamp(row.try_get("created_at_us")?)?,
        documents: unsigned(row, "documents")?,
        chunks: unsigned(row, "chunks")?,
        revision: unsigned(row, "revision")?,
    })
}

/// The BLOB form of a vector: its floats, little-endian, back to back.
fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn push_floats(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
}

#[async_trait]
impl CollectionStore for SqliteStore {
    async fn create_collection(&self, name: &str, settings: &CollectionSettings) -> Result<CollectionInfo, StoreError> {
        let created_at = Utc::now();
        let inserted = sqlx::query(
            "INSERT INTO rag_collections (name, embedding_model, dimensions, chunk_size, chunk_overlap, created_at_us)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&settings.embedding_model)
        .bind(i64::from(settings.dimensions))
        .bind(i64::from(settings.chunk_size))
        .bind(i64::from(settings.chunk_overlap))
        .bind(created_at.timestamp_micros())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::CollectionExists(name.to_string()));
        }
        Ok(CollectionInfo {
            name: name.to_string(),
            settings: settings.clone(),
            created_at: timestamp(created_at.timestamp_micros())?,
            documents: 0,
            chunks: 0,
            revision: 0,
        })
    }

    async fn get_collection(&self, name: &str) -> Result<Option<CollectionInfo>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLLECTION_COLUMNS} FROM rag_collections c WHERE c.name = ?"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_collection).transpose()
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLLECTION_COLUMNS} FROM rag_collections c ORDER BY c.name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_collection).collect()
    }

    async fn delete_collection(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The collection row goes first: it takes the write lock before anything is read.
        let deleted = sqlx::query("DELETE FROM rag_collections WHERE name = ?").bind(name).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM rag_chunks WHERE collection = ?").bind(name).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM rag_documents WHERE collection = ?").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn list_documents(&self, collection: &str) -> Result<Vec<DocumentInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT source, content_hash, chunk_count, chars, updated_at_us FROM rag_documents
             WHERE collection = ? ORDER BY source",
        )
        .bind(collection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DocumentInfo {
                    source: row.try_get("source")?,
                    content_hash: row.try_get("content_hash")?,
                    chunks: unsigned(row, "chunk_count")?,
                    chars: unsigned(row, "chars")?,
                    updated_at: timestamp(row.try_get("updated_at_us")?)?,
                })
            })
            .collect()
    }

    async fn replace_document(
        &self,
        collection: &str,
        document: &NewDocument,
        chunks: &[NewChunk],
    ) -> Result<ReplacedDocument, StoreError> {
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction holds the write lock before it reads: a deferred
        // read-then-write transaction could otherwise fail when another writer got in between.
        let revision: Option<i64> =
            sqlx::query_scalar("UPDATE rag_collections SET revision = revision + 1 WHERE name = ? RETURNING revision")
                .bind(collection)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(revision) = revision else {
            return Err(StoreError::CollectionNotFound(collection.to_string()));
        };
        let removed: Vec<ChunkId> =
            sqlx::query_scalar("SELECT id FROM rag_chunks WHERE collection = ? AND source = ? ORDER BY id")
                .bind(collection)
                .bind(&document.source)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM rag_chunks WHERE collection = ? AND source = ?")
            .bind(collection)
            .bind(&document.source)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO rag_documents (collection, source, content_hash, chunk_count, chars, updated_at_us)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (collection, source) DO UPDATE SET content_hash = excluded.content_hash,
                 chunk_count = excluded.chunk_count, chars = excluded.chars, updated_at_us = excluded.updated_at_us",
        )
        .bind(collection)
        .bind(&document.source)
        .bind(&document.content_hash)
        .bind(i64::try_from(chunks.len()).unwrap_or(i64::MAX))
        .bind(signed(document.chars, "chars")?)
        .bind(Utc::now().timestamp_micros())
        .execute(&mut *tx)
        .await?;
        let mut inserted = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let done = sqlx::query(
                "INSERT INTO rag_chunks (collection, source, ordinal, start_char, end_char, embedding, text)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(collection)
            .bind(&document.source)
            .bind(i64::from(chunk.ordinal))
            .bind(signed(chunk.start_char, "start_char")?)
            .bind(signed(chunk.end_char, "end_char")?)
            .bind(vector_bytes(&chunk.embedding))
            .bind(&chunk.text)
            .execute(&mut *tx)
            .await?;
            inserted.push(done.last_insert_rowid());
        }
        tx.commit().await?;
        let revision = u64::try_from(revision).map_err(|_| StoreError::Corrupt(format!("revision {revision}")))?;
        Ok(ReplacedDocument { removed, inserted, previous_revision: revision.saturating_sub(1), revision })
    }

    async fn load_vectors(&self, collection: &str) -> Result<(StoredVectors, u64), StoreError> {
        // One read transaction: the revision and the vectors come from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let revision: Option<i64> = sqlx::query_scalar("SELECT revision FROM rag_collections WHERE name = ?")
            .bind(collection)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(revision) = revision else {
            return Err(StoreError::CollectionNotFound(collection.to_string()));
        };
        let mut out = StoredVectors::default();
        let mut width = None;
        {
            // Rows are read one at a time so a large collection is not held twice (rows and floats).
            let mut rows = sqlx::query("SELECT id, embedding FROM rag_chunks WHERE collection = ?")
                .bind(collection)
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let id: ChunkId = row.try_get(0)?;
                let bytes: &[u8] = row.try_get(1)?;
                let expected = *width.get_or_insert(bytes.len());
                if bytes.len() != expected || !bytes.len().is_multiple_of(4) {
                    return Err(StoreError::Corrupt(format!(
                        "chunk {id} of collection '{collection}' has a {}-byte vector; others have {expected}",
                        bytes.len()
                    )));
                }
                out.ids.push(id);
                push_floats(bytes, &mut out.vectors);
            }
        }
        tx.commit().await?;
        let revision = u64::try_from(revision).map_err(|_| StoreError::Corrupt(format!("revision {revision}")))?;
        Ok((out, revision))
    }

    async fn get_chunks(&self, collection: &str, ids: &[ChunkId]) -> Result<Vec<StoredChunk>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // `+collection` keeps SQLite on the primary key: through the (collection, ...) index it
        // would walk every chunk of the collection to find a handful of ids.
        let mut q = QueryBuilder::new(
            "SELECT id, source, ordinal, start_char, end_char, text FROM rag_chunks WHERE +collection = ",
        );
        q.push_bind(collection).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredChunk {
                    id: row.try_get("id")?,
                    source: row.try_get("source")?,
                    ordinal: unsigned(row, "ordinal")?,
                    start_char: unsigned(row, "start_char")?,
                    end_char: unsigned(row, "end_char")?,
                    text: row.try_get("text")?,
                })
            })
            .collect()
    }
}
