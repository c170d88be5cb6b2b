//! Reading stored runs: one run with its items, the run list, and two runs side by side.

use super::error::EvalError;
use super::gate::{self, MetricDelta};
use gantry_store::Store;
use gantry_types::{EvalItemResult, EvalRun};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A run with every item's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDetails {
    #[serde(flatten)]
    pub run: EvalRun,
    pub items: Vec<EvalItemResult>,
}

/// One item of two runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemPair {
    pub index: u32,
    pub a: Option<EvalItemResult>,
    pub b: Option<EvalItemResult>,
}

/// How many items scored higher, lower or the same in `b` than in `a`, per evaluator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemChanges {
    pub improved: u32,
    pub regressed: u32,
    pub unchanged: u32,
}

/// Two runs side by side: `b`'s aggregates with their change from `a`, and every item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub a: EvalRun,
    pub b: EvalRun,
    pub deltas: Vec<MetricDelta>,
    pub changes: BTreeMap<String, ItemChanges>,
    pub items: Vec<ItemPair>,
}

/// One run and its items.
pub async fn run_details(store: &dyn Store, id: &str) -> Result<RunDetails, EvalError> {
    let run = store.get_eval_run(id).await?.ok_or_else(|| EvalError::RunNotFound(id.to_string()))?;
    let items = store.eval_run_items(id).await?;
    Ok(RunDetails { run, items })
}

/// Runs newest first, of one suite when given.
pub async fn list_runs(store: &dyn Store, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRun>, EvalError> {
    Ok(store.list_eval_runs(suite, limit).await?)
}

/// Compares run `b` with run `a` (the baseline).
pub async fn compare(store: &dyn Store, a: &str, b: &str) -> Result<Comparison, EvalError> {
    let a = run_details(store, a).await?;
    let b = run_details(store, b).await?;
    let deltas = gate::deltas(&b.run.summaries, Some(&a.run));
    let mut pairs: BTreeMap<u32, ItemPair> = BTreeMap::new();
    for item in a.items {
        pairs.insert(item.index, ItemPair { index: item.index, a: Some(item), b: None });
    }
    for item in b.items {
        let index = item.index;
        pairs.entry(index).or_insert(ItemPair { index, a: None, b: None }).b = Some(item);
    }
    let items: Vec<ItemPair> = pairs.into_values().collect();
    Ok(Comparison { changes: item_changes(&items), a: a.run, b: b.run, deltas, items })
}

fn item_changes(items: &[ItemPair]) -> BTreeMap<String, ItemChanges> {
    let mut changes: BTreeMap<String, ItemChanges> = BTreeMap::new();
    for pair in items {
        let (Some(a), Some(b)) = (&pair.a, &pair.b) else { continue };
        for (name, score_b) in &b.scores {
            let (Some(vb), Some(va)) = (score_b.value, a.scores.get(name).and_then(|s| s.value)) else { continue };
            let entry = changes.entry(name.clone()).or_default();
            if (vb - va).abs() < 1e-9 {
                entry.unchanged += 1;
            } else if vb > va {
                entry.improved += 1;
            } else {
                entry.regressed += 1;
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::ItemScore;

    fn result(index: u32, value: f64) -> EvalItemResult {
        EvalItemResult {
            index,
            output: Some("x".into()),
            error: None,
            scores: BTreeMap::from([("em".to_string(), ItemScore { value: Some(value), ..Default::default() })]),
            trace_id: None,
            latency_ms: 1.0,
        }
    }

    #[test]
    fn item_changes_count_each_direction() {
        let items = vec![
            ItemPair { index: 0, a: Some(result(0, 0.0)), b: Some(result(0, 1.0)) },
            ItemPair { index: 1, a: Some(result(1, 1.0)), b: Some(result(1, 0.0)) },
            ItemPair { index: 2, a: Some(result(2, 1.0)), b: Some(result(2, 1.0)) },
            ItemPair { index: 3, a: None, b: Some(result(3, 1.0)) },
        ];
        let changes = item_changes(&items);
        assert_eq!(changes["em"], ItemChanges { improved: 1, regressed: 1, unchanged: 1 });
    }
}
