//! `ReviewStore` on SQLite. Claims are single UPDATE statements run under SQLite's write
//! lock, so two reviewers can never be handed the same item.

use crate::review::{ReviewStore, SubmitOutcome};
use crate::sqlite::{from_micros, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use gantry_types::{
    NewReviewItem, Review, ReviewCounts, ReviewItem, ReviewQueue, ReviewQueueInfo, ReviewSource, ReviewStatus,
    ReviewedItem,
};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

const ITEM_COLUMNS: &str = "i.id, i.queue, i.trace_id, i.eval_run_id, i.eval_item_index, i.input, i.output, \
     i.expected, i.status, i.claimed_by, i.claim_expires_at_us, i.created_at_us";

/// The same columns for `RETURNING`, which takes no table alias.
const RETURNED_COLUMNS: &str = "id, queue, trace_id, eval_run_id, eval_item_index, input, output, expected, status, \
     claimed_by, claim_expires_at_us, created_at_us";

const QUEUE_COLUMNS: &str = "q.name, q.description, q.instructions, q.rubric, q.created_at_us, \
     (SELECT COUNT(*) FROM review_items i WHERE i.queue = q.name) AS total, \
     (SELECT COUNT(*) FROM review_items i WHERE i.queue = q.name AND i.status = 'done') AS done, \
     (SELECT COUNT(*) FROM review_items i WHERE i.queue = q.name AND i.status = 'claimed' \
         AND i.claim_expires_at_us > ?) AS claimed";

fn json_text(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

fn row_to_queue(row: &SqliteRow) -> Result<ReviewQueueInfo, StoreError> {
    let name: String = row.try_get("name")?;
    let rubric: String = row.try_get("rubric")?;
    let (total, done, claimed) = (count(row, "total")?, count(row, "done")?, count(row, "claimed")?);
    Ok(ReviewQueueInfo {
        queue: ReviewQueue {
            rubric: serde_json::from_str(&rubric)
                .map_err(|e| StoreError::Corrupt(format!("rubric of review queue '{name}': {e}")))?,
            name,
            description: row.try_get("description")?,
            instructions: row.try_get("instructions")?,
            created_at: from_micros(row.try_get("created_at_us")?)?,
        },
        counts: ReviewCounts { pending: total.saturating_sub(done + claimed), claimed, done },
    })
}

/// An item as of `now`: a claim that has lapsed reads as pending, without its holder.
fn row_to_item(row: &SqliteRow, now: DateTime<Utc>) -> Result<ReviewItem, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("review item {id}: {what}: {e}"));
    let status: String = row.try_get("status")?;
    let mut status = ReviewStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    let mut claimed_by: Option<String> = row.try_get("claimed_by")?;
    let mut claim_expires_at = row.try_get::<Option<i64>, _>("claim_expires_at_us")?.map(from_micros).transpose()?;
    if status == ReviewStatus::Claimed && claim_expires_at.is_none_or(|t| t <= now) {
        status = ReviewStatus::Pending;
        claimed_by = None;
        claim_expires_at = None;
    }
    let trace_id: Option<String> = row.try_get("trace_id")?;
    let index: Option<i64> = row.try_get("eval_item_index")?;
    let input: String = row.try_get("input")?;
    let expected: Option<String> = row.try_get("expected")?;
    Ok(ReviewItem {
        id: id.parse().map_err(|e| corrupt("id", &e))?,
        queue: row.try_get("queue")?,
        source: ReviewSource {
            trace_id: trace_id.map(|t| t.parse()).transpose().map_err(|e| corrupt("trace_id", &e))?,
            eval_run_id: row.try_get("eval_run_id")?,
            eval_item_index: index.map(u32::try_from).transpose().map_err(|e| corrupt("eval_item_index", &e))?,
        },
        input: serde_json::from_str(&input).map_err(|e| corrupt("input", &e))?,
        output: row.try_get("output")?,
        expected: expected.map(|e| serde_json::from_str(&e)).transpose().map_err(|e| corrupt("expected", &e))?,
        status,
        claimed_by,
        claim_expires_at,
        created_at: from_micros(row.try_get("created_at_us")?)?,
    })
}

fn row_to_review(row: &SqliteRow, item_id: Uuid) -> Result<Review, StoreError> {
    let scores: String = row.try_get("r_scores")?;
    Ok(Review {
        item_id,
        queue: row.try_get("queue")?,
        reviewer: row.try_get("r_reviewer")?,
        scores: serde_json::from_str(&scores)
            .map_err(|e| StoreError::Corrupt(format!("scores of review {item_id}: {e}")))?,
        correction: row.try_get("r_correction")?,
        comment: row.try_get("r_comment")?,
        created_at: from_micros(row.try_get("r_created_at_us")?)?,
    })
}

#[async_trait]
impl ReviewStore for SqliteStore {
    async fn create_review_queue(&self, queue: &ReviewQueue) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO review_queues (name, description, instructions, rubric, created_at_us)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&queue.name)
        .bind(&queue.description)
        .bind(&queue.instructions)
        .bind(json_text(&queue.rubric)?)
        .bind(to_micros(queue.created_at))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn get_review_queue(&self, name: &str, now: DateTime<Utc>) -> Result<Option<ReviewQueueInfo>, StoreError> {
        let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM review_queues q WHERE q.name = ?"))
            .bind(to_micros(now))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_queue).transpose()
    }

    async fn list_review_queues(&self, now: DateTime<Utc>) -> Result<Vec<ReviewQueueInfo>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM review_queues q ORDER BY q.name"))
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_queue).collect()
    }

    async fn add_review_items(
        &self,
        queue: &str,
        items: &[NewReviewItem],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<ReviewItem>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut added = Vec::with_capacity(items.len());
        for item in items {
            // INSERT ... SELECT ... WHERE EXISTS: the first statement writes, so the
            // transaction holds the write lock before it reads whether the queue exists.
            let row = sqlx::query(&format!(
                "INSERT INTO review_items (id, queue, trace_id, eval_run_id, eval_item_index, input, output,
                 expected, status, created_at_us)
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?
                 WHERE EXISTS (SELECT 1 FROM review_queues WHERE name = ?)
                 RETURNING {RETURNED_COLUMNS}"
            ))
            .bind(Uuid::now_v7().to_string())
            .bind(queue)
            .bind(item.source.trace_id.map(|t| t.to_string()))
            .bind(&item.source.eval_run_id)
            .bind(item.source.eval_item_index.map(i64::from))
            .bind(json_text(&item.input)?)
            .bind(&item.output)
            .bind(item.expected.as_ref().map(json_text).transpose()?)
            .bind(to_micros(now))
            .bind(queue)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some(row) => added.push(row_to_item(&row, now)?),
                None => return Ok(None),
            }
        }
        tx.commit().await?;
        Ok(Some(added))
    }

    async fn claim_review_item(
        &self,
        queue: &str,
        reviewer: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ReviewItem>, StoreError> {
        let (now_us, until_us) = (to_micros(now), to_micros(now + lease));
        let mut tx = self.pool.begin().await?;
        // Both statements write first and read inside: SQLite takes the write lock before the
        // subquery runs, so no other claim can pick the same row in between.
        let held = sqlx::query(&format!(
            "UPDATE review_items SET claim_expires_at_us = ?
             WHERE id = (SELECT id FROM review_items WHERE queue = ? AND status = 'claimed' AND claimed_by = ?
                         AND claim_expires_at_us > ? ORDER BY seq LIMIT 1)
             RETURNING {RETURNED_COLUMNS}"
        ))
        .bind(until_us)
        .bind(queue)
        .bind(reviewer)
        .bind(now_us)
        .fetch_optional(&mut *tx)
        .await?;
        let row = match held {
            Some(row) => Some(row),
            None => {
                sqlx::query(&format!(
                    "UPDATE review_items SET status = 'claimed', claimed_by = ?, claim_expires_at_us = ?
                     WHERE id = (SELECT id FROM review_items WHERE queue = ?
                                 AND (status = 'pending' OR (status = 'claimed' AND claim_expires_at_us <= ?))
                                 ORDER BY seq LIMIT 1)
                     RETURNING {RETURNED_COLUMNS}"
                ))
                .bind(reviewer)
                .bind(until_us)
                .bind(queue)
                .bind(now_us)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        row.as_ref().map(|r| row_to_item(r, now)).transpose()
    }

    async fn submit_review(&self, review: &Review, now: DateTime<Utc>) -> Result<SubmitOutcome, StoreError> {
        let now_us = to_micros(now);
        let id = review.item_id.to_string();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(&format!(
            "UPDATE review_items SET status = 'done', claimed_by = ?, claim_expires_at_us = NULL
             WHERE queue = ? AND id = ? AND (status = 'pending'
                 OR (status = 'claimed' AND (claimed_by = ? OR claim_expires_at_us <= ?)))
             RETURNING {RETURNED_COLUMNS}"
        ))
        .bind(&review.reviewer)
        .bind(&review.queue)
        .bind(&id)
        .bind(&review.reviewer)
        .bind(now_us)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = updated {
            sqlx::query(
                "INSERT INTO reviews (item_id, queue, reviewer, scores, correction, comment, created_at_us)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(&review.queue)
            .bind(&review.reviewer)
            .bind(json_text(&review.scores)?)
            .bind(&review.correction)
            .bind(&review.comment)
            .bind(to_micros(review.created_at))
            .execute(&mut *tx)
            .await?;
            let item = row_to_item(&row, now)?;
            tx.commit().await?;
            return Ok(SubmitOutcome::Stored(Box::new(item)));
        }
        // Nothing changed; the item's state says why (read under the same write lock).
        let state = sqlx::query(
            "SELECT i.status, i.claimed_by, i.claim_expires_at_us, r.reviewer FROM review_items i
             LEFT JOIN reviews r ON r.item_id = i.id WHERE i.queue = ? AND i.id = ?",
        )
        .bind(&review.queue)
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(state) = state else { return Ok(SubmitOutcome::NotFound) };
        let status: String = state.try_get("status")?;
        if status == ReviewStatus::Done.as_str() {
            let reviewer: Option<String> = state.try_get("reviewer")?;
            let claimed_by: Option<String> = state.try_get("claimed_by")?;
            return Ok(SubmitOutcome::AlreadyReviewed { reviewer: reviewer.or(claimed_by).unwrap_or_default() });
        }
        let holder: Option<String> = state.try_get("claimed_by")?;
        let until: Option<i64> = state.try_get("claim_expires_at_us")?;
        match (holder, until) {
            (Some(reviewer), Some(until)) => Ok(SubmitOutcome::ClaimedByOther { reviewer, until: from_micros(until)? }),
            _ => Err(StoreError::Corrupt(format!("review item {id} is '{status}' but could not be reviewed"))),
        }
    }

    async fn get_review_item(
        &self,
        queue: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewItem>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ITEM_COLUMNS} FROM review_items i WHERE i.queue = ? AND i.id = ?"))
            .bind(queue)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| row_to_item(r, now)).transpose()
    }

    async fn list_reviews(&self, queue: &str) -> Result<Vec<ReviewedItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS}, r.reviewer AS r_reviewer, r.scores AS r_scores, r.correction AS r_correction,
             r.comment AS r_comment, r.created_at_us AS r_created_at_us
             FROM reviews r JOIN review_items i ON i.id = r.item_id
             WHERE r.queue = ? ORDER BY r.created_at_us, i.seq"
        ))
        .bind(queue)
        .fetch_all(&self.pool)
        .await?;
        let now = Utc::now();
        rows.iter()
            .map(|row| {
                let item = row_to_item(row, now)?;
                let review = row_to_review(row, item.id)?;
                Ok(ReviewedItem { item, review })
            })
            .collect()
    }
}
