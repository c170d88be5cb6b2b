//! `MonitorStore` on SQLite: samples read through the route and model indexes.

use crate::monitor::{MonitorStore, TraceScore, TrafficSample, TrafficSource};
use crate::sqlite::{json_text, row_to_trace, to_micros};
use crate::{SqliteStore, StoreError};
use async_trait::async_trait;
use gantry_types::{TraceId, TraceRecord};
use sqlx::{QueryBuilder, Row};

/// Trace ids bound in one query; SQLite copes with far more, but a JSON array this long is
/// already a few hundred kilobytes.
const IDS_PER_QUERY: usize = 5000;

#[async_trait]
impl MonitorStore for SqliteStore {
    async fn sample_traffic(&self, sample: &TrafficSample) -> Result<Vec<TraceRecord>, StoreError> {
        let mut q = QueryBuilder::new("SELECT * FROM traces WHERE parent_id IS NULL AND ");
        match &sample.source {
            TrafficSource::Route { route, environment, release } => {
                q.push("route = ").push_bind(route.clone());
                if let Some(environment) = environment {
                    q.push(" AND json_extract(deployment, '$.environment') = ").push_bind(environment.clone());
                }
                if let Some(release) = release {
                    q.push(" AND json_extract(deployment, '$.release') = ").push_bind(i64::from(*release));
                }
            }
            TrafficSource::Model(model) => {
                q.push("requested_model = ").push_bind(model.clone());
            }
        }
        q.push(" AND started_at_us >= ").push_bind(to_micros(sample.since));
        q.push(" AND started_at_us < ").push_bind(to_micros(sample.until));
        q.push(" ORDER BY started_at_us DESC, id DESC LIMIT ").push_bind(i64::from(sample.limit));
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter().map(row_to_trace).collect()
    }

    async fn trace_scores(&self, traces: &[TraceId]) -> Result<Vec<TraceScore>, StoreError> {
        let mut out = Vec::new();
        for chunk in traces.chunks(IDS_PER_QUERY) {
            let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            // One bound JSON array instead of thousands of placeholders.
            let rows = sqlx::query(
                "SELECT trace_id, name, value_number FROM feedback
                 WHERE trace_id IN (SELECT value FROM json_each(?)) AND value_number IS NOT NULL
                 ORDER BY trace_id, created_at_us, id",
            )
            .bind(json_text(&ids)?)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                let trace_id: String = row.try_get("trace_id")?;
                out.push(TraceScore {
                    trace_id: trace_id
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("feedback on trace '{trace_id}': {e}")))?,
                    name: row.try_get("name")?,
                    value: row.try_get("value_number")?,
                });
            }
        }
        Ok(out)
    }
}
