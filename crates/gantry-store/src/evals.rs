//! Persistence for eval runs: the run, each item's result as it finishes, the aggregates.

use crate::StoreError;
use async_trait::async_trait;
use gantry_types::{EvalItemResult, EvalRun};

/// Eval runs and their item results.
#[async_trait]
pub trait EvalStore: Send + Sync {
    /// Stores a new run (status `running`, no items yet).
    async fn create_eval_run(&self, run: &EvalRun) -> Result<(), StoreError>;
    /// Stores one item's result, replacing an earlier result of the same item (a resumed
    /// run retries failed items).
    async fn record_eval_item(&self, run_id: &str, item: &EvalItemResult) -> Result<(), StoreError>;
    /// Writes a run's final state: status, finish time, aggregates, gate, baseline.
    async fn finish_eval_run(&self, run: &EvalRun) -> Result<(), StoreError>;
    /// One run, with its item counts as they stand.
    async fn get_eval_run(&self, id: &str) -> Result<Option<EvalRun>, StoreError>;
    /// Runs newest first, of one suite when `suite` is given.
    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRun>, StoreError>;
    /// A run's item results by index.
    async fn eval_run_items(&self, id: &str) -> Result<Vec<EvalItemResult>, StoreError>;
}
