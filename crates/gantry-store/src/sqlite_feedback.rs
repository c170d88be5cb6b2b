//! `FeedbackStore` on SQLite: aggregates are computed by SQL over feedback joined to traces.

use crate::feedback::FeedbackStore;
use crate::sqlite::{from_micros, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use gantry_types::{Feedback, FeedbackAggregate, FeedbackGroupBy, FeedbackValue, TraceId};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;

/// The typed columns a value is stored in: (value_kind, value_number, value_text).
pub(crate) fn value_columns(value: &FeedbackValue) -> (&'static str, Option<f64>, Option<&str>) {
    match value {
        FeedbackValue::Bool(b) => ("boolean", Some(if *b { 1.0 } else { 0.0 }), None),
        FeedbackValue::Number(n) => ("number", Some(*n), None),
        FeedbackValue::Category(c) => ("category", None, Some(c.as_str())),
    }
}

fn row_value(row: &SqliteRow) -> Result<FeedbackValue, StoreError> {
    let kind: String = row.try_get("value_kind")?;
    let number: Option<f64> = row.try_get("value_number")?;
    let text: Option<String> = row.try_get("value_text")?;
    match (kind.as_str(), number, text) {
        ("boolean", Some(n), _) => Ok(FeedbackValue::Bool(n != 0.0)),
        ("number", Some(n), _) => Ok(FeedbackValue::Number(n)),
        ("category", _, Some(c)) => Ok(FeedbackValue::Category(c)),
        (kind, ..) => Err(StoreError::Corrupt(format!("feedback value of kind '{kind}' has no stored value"))),
    }
}

fn row_to_feedback(row: &SqliteRow) -> Result<Feedback, StoreError> {
    let id: String = row.try_get("id")?;
    let trace_id: String = row.try_get("trace_id")?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("feedback {id}: {what}: {e}"));
    Ok(Feedback {
        id: id.parse().map_err(|e| corrupt("id", &e))?,
        trace_id: trace_id.parse().map_err(|e| corrupt("trace_id", &e))?,
        name: row.try_get("name")?,
        value: row_value(row)?,
        comment: row.try_get("comment")?,
        author: row.try_get("author")?,
        created_at: from_micros(row.try_get("created_at_us")?)?,
    })
}

/// The SQL expression a summary groups by.
fn group_expression(group_by: FeedbackGroupBy) -> &'static str {
    match group_by {
        FeedbackGroupBy::Model => "t.requested_model",
        FeedbackGroupBy::Prompt => {
            "CASE WHEN t.prompt IS NULL THEN NULL \
             ELSE json_extract(t.prompt, '$.name') || '@' || json_extract(t.prompt, '$.version') END"
        }
    }
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

#[async_trait]
impl FeedbackStore for SqliteStore {
    async fn insert_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        let (kind, number, text) = value_columns(&feedback.value);
        sqlx::query(
            "INSERT INTO feedback (id, trace_id, name, value_kind, value_number, value_text, comment, author,
             created_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(feedback.id.to_string())
        .bind(feedback.trace_id.to_string())
        .bind(&feedback.name)
        .bind(kind)
        .bind(number)
        .bind(text)
        .bind(&feedback.comment)
        .bind(&feedback.author)
        .bind(to_micros(feedback.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_feedback(&self, trace_id: TraceId) -> Result<Vec<Feedback>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feedback WHERE trace_id = ? ORDER BY created_at_us, id")
            .bind(trace_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_feedback).collect()
    }

    async fn feedback_summary(
        &self,
        group_by: FeedbackGroupBy,
        name: Option<&str>,
    ) -> Result<Vec<FeedbackAggregate>, StoreError> {
        let group = group_expression(group_by);
        let filter = |q: &mut QueryBuilder<'_, Sqlite>| {
            if let Some(name) = name {
                q.push(" AND f.name = ").push_bind(name.to_string());
            }
        };
        // AVG and COUNT skip NULLs, and categories have no value_number: the mean and the
        // numeric count cover exactly the numbers and booleans.
        let mut totals = QueryBuilder::new(format!(
            "SELECT {group} AS grp, f.name AS name, COUNT(*) AS count, COUNT(f.value_number) AS numeric_count,
             AVG(f.value_number) AS mean FROM feedback f JOIN traces t ON t.id = f.trace_id WHERE 1 = 1"
        ));
        filter(&mut totals);
        totals.push(" GROUP BY grp, f.name ORDER BY grp IS NULL, grp, f.name");
        let mut categories = QueryBuilder::new(format!(
            "SELECT {group} AS grp, f.name AS name, f.value_text AS category, COUNT(*) AS count
             FROM feedback f JOIN traces t ON t.id = f.trace_id WHERE f.value_kind = 'category'"
        ));
        filter(&mut categories);
        categories.push(" GROUP BY grp, f.name, f.value_text");

        // One read transaction, so the totals and the category counts agree.
        let mut tx = self.pool.begin().await?;
        let total_rows = totals.build().fetch_all(&mut *tx).await?;
        let category_rows = categories.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let mut out = Vec::with_capacity(total_rows.len());
        let mut index: HashMap<(Option<String>, String), usize> = HashMap::new();
        for row in &total_rows {
            let aggregate = FeedbackAggregate {
                group: row.try_get("grp")?,
                name: row.try_get("name")?,
                count: count(row, "count")?,
                numeric_count: count(row, "numeric_count")?,
                mean: row.try_get("mean")?,
                categories: Default::default(),
            };
            index.insert((aggregate.group.clone(), aggregate.name.clone()), out.len());
            out.push(aggregate);
        }
        for row in &category_rows {
            let key: (Option<String>, String) = (row.try_get("grp")?, row.try_get("name")?);
            let category: Option<String> = row.try_get("category")?;
            let Some(&at) = index.get(&key) else {
                return Err(StoreError::Corrupt(format!("category counts for {key:?} have no totals")));
            };
            out[at].categories.insert(category.unwrap_or_default(), count(row, "count")?);
        }
        Ok(out)
    }
}
