//! Eval runs: a suite over a dataset version against a model, prompt or chain, every item's
//! output and scores stored, the aggregates compared with a baseline, and the gate a CI/CD
//! pipeline waits on.

mod compare;
mod error;
mod gate;
mod junit;
mod runner;
mod scoring;
mod suite;
mod target;

pub use compare::{compare, list_runs, run_details, Comparison, ItemChanges, ItemPair, RunDetails};
pub use error::EvalError;
pub use gate::{check as check_gate, deltas, MetricDelta};
pub use junit::report as junit_report;
pub use runner::{parse_dataset_reference, Baseline, Evaluation, NoProgress, RunProgress, RunReport};
pub use scoring::{final_number, Scorers};
pub use suite::{EvaluatorConfig, EvaluatorKind, RougeVariant, Suite, TargetSpec, DEFAULT_CONCURRENCY};
