//! The data and evaluation phases: versioned datasets and their cleaning, evaluators (pure
//! metric functions checked against the reference implementations), eval runs with gates,
//! user feedback and human review queues.

pub mod datasets;
pub mod gated;
pub mod metrics;
pub mod online;
pub mod review;
pub mod runs;
