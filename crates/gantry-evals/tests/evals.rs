//! The crate's one integration test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "evals/metrics.rs"]
mod metrics;
#[path = "evals/online.rs"]
mod online;
#[path = "evals/runs.rs"]
mod runs;
