//! Reviewed items as dataset items (JSONL), so `gantry datasets import` reads the export as it is.

use super::queues::get_queue;
use super::ReviewError;
use gantry_store::Store;
use gantry_types::{DatasetItem, ReviewedItem};
use serde_json::{json, Map, Value};

/// A reviewed item as a dataset item: its input; as expected output the reviewer's
/// correction, else the output they reviewed; the scores, reviewer, source and comment as
/// metadata.
pub fn reviewed_to_dataset_item(reviewed: &ReviewedItem) -> DatasetItem {
    let (item, review) = (&reviewed.item, &reviewed.review);
    let mut metadata = Map::new();
    metadata.insert("scores".into(), json!(review.scores));
    metadata.insert("reviewer".into(), json!(review.reviewer));
    if let Some(trace_id) = item.source.trace_id {
        metadata.insert("trace_id".into(), json!(trace_id));
    }
    if let Some(run) = &item.source.eval_run_id {
        metadata.insert("eval_run_id".into(), json!(run));
    }
    if let Some(index) = item.source.eval_item_index {
        metadata.insert("eval_item_index".into(), json!(index));
    }
    if let Some(comment) = &review.comment {
        metadata.insert("comment".into(), json!(comment));
    }
    metadata.insert("corrected".into(), json!(review.correction.is_some()));
    metadata.insert("review_queue".into(), json!(review.queue));
    metadata.insert("review_item_id".into(), json!(item.id));
    let expected = review.correction.clone().unwrap_or_else(|| item.output.clone());
    DatasetItem { input: item.input.clone(), expected: Some(Value::String(expected)), metadata }
}

/// A queue's reviewed items as dataset items, in the order they were reviewed.
pub async fn export_items(store: &dyn Store, queue: &str) -> Result<Vec<DatasetItem>, ReviewError> {
    get_queue(store, queue).await?;
    Ok(store.list_reviews(queue).await?.iter().map(reviewed_to_dataset_item).collect())
}

/// A queue's reviewed items as JSON Lines, one dataset item a line.
pub async fn export_jsonl(store: &dyn Store, queue: &str) -> Result<String, ReviewError> {
    let mut out = String::new();
    for item in export_items(store, queue).await? {
        out.push_str(&serde_json::to_string(&item).map_err(|e| ReviewError::Internal(e.to_string()))?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use gantry_types::{
        ChatMessage, FeedbackValue, ItemInput, Review, ReviewItem, ReviewSource, ReviewStatus, Role, TraceId,
    };
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn reviewed(correction: Option<&str>) -> ReviewedItem {
        let id = Uuid::now_v7();
        let trace_id = TraceId::new();
        ReviewedItem {
            item: ReviewItem {
                id,
                queue: "q".into(),
                source: ReviewSource { trace_id: Some(trace_id), eval_run_id: None, eval_item_index: None },
                input: ItemInput::Messages(vec![ChatMessage::text(Role::User, "2+2?")]),
                output: "5".into(),
                expected: None,
                status: ReviewStatus::Done,
                claimed_by: Some("ana".into()),
                claim_expires_at: None,
                created_at: Utc::now(),
            },
            review: Review {
                item_id: id,
                queue: "q".into(),
                reviewer: "ana".into(),
                scores: BTreeMap::from([("correct".to_string(), FeedbackValue::Bool(false))]),
                correction: correction.map(str::to_string),
                comment: Some("off by one".into()),
                created_at: Utc::now(),
            },
        }
    }

    #[test]
    fn the_correction_is_the_expected_output_else_the_reviewed_one() {
        let corrected = reviewed(Some("4"));
        let item = reviewed_to_dataset_item(&corrected);
        let line = serde_json::to_value(&item).unwrap();
        assert_eq!(line["input"], json!([{"role": "user", "content": "2+2?"}]));
        assert_eq!(line["expected"], "4");
        assert_eq!(line["metadata"]["scores"], json!({"correct": false}));
        assert_eq!(line["metadata"]["reviewer"], "ana");
        assert_eq!(line["metadata"]["comment"], "off by one");
        assert_eq!(line["metadata"]["trace_id"], json!(corrected.item.source.trace_id.unwrap()));
        assert_eq!(line["metadata"]["corrected"], true);
        // The line reads back as a dataset item, which is what an import parses.
        assert_eq!(serde_json::from_value::<DatasetItem>(line).unwrap(), item);
        assert_eq!(reviewed_to_dataset_item(&reviewed(None)).expected, Some(json!("5")));
    }
}
