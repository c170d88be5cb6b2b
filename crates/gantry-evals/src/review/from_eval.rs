//! Review items from an eval run: the outputs a run scored low (or all of them) go to people,
//! with the dataset item's input and expected output beside them.

use super::ReviewError;
use crate::datasets::load_items;
use gantry_store::Store;
use gantry_types::{NewReviewItem, ReviewSource};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which items of a run to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRunItems {
    pub run_id: String,
    /// Only items this evaluator scored below `below` (unscored items included: a judge that
    /// could not decide is worth a human look).
    #[serde(default)]
    pub evaluator: Option<String>,
    #[serde(default)]
    pub below: Option<f64>,
}

/// The run's answered items that match `selection`, as review items.
pub async fn items_from_eval_run(
    store: &dyn Store,
    selection: &EvalRunItems,
) -> Result<Vec<NewReviewItem>, ReviewError> {
    let invalid = |message: String| ReviewError::InvalidItems { message, param: "eval_run".into() };
    if selection.evaluator.is_some() != selection.below.is_some() {
        return Err(invalid("eval_run: give both 'evaluator' and 'below', or neither".into()));
    }
    let run = store
        .get_eval_run(&selection.run_id)
        .await?
        .ok_or_else(|| ReviewError::EvalRunNotFound(selection.run_id.clone()))?;
    if let Some(name) = &selection.evaluator {
        if !run.summaries.iter().any(|s| &s.evaluator == name) {
            return Err(invalid(format!("eval run {} has no evaluator '{name}'", run.id)));
        }
    }
    let (_, dataset_items) = load_items(store, &run.dataset, Some(run.dataset_version))
        .await
        .map_err(|e| invalid(format!("the run's dataset cannot be read: {e}")))?;
    let by_index: HashMap<u32, _> = dataset_items.into_iter().map(|s| (s.index, s.item)).collect();
    let results = store.eval_run_items(&run.id).await?;
    let mut items = Vec::new();
    for result in results {
        let (Some(output), Some(item)) = (result.output, by_index.get(&result.index)) else { continue };
        if let (Some(name), Some(below)) = (&selection.evaluator, selection.below) {
            let value = result.scores.get(name).and_then(|s| s.value);
            if value.is_some_and(|v| v >= below) {
                continue;
            }
        }
        items.push(NewReviewItem {
            source: ReviewSource {
                trace_id: result.trace_id,
                eval_run_id: Some(run.id.clone()),
                eval_item_index: Some(result.index),
            },
            input: item.input.clone(),
            output,
            expected: item.expected.clone(),
        });
    }
    Ok(items)
}
