//! Guardrails: checks on what goes into and comes out of a model. The PII detector is shared
//! with dataset cleaning.

pub mod pii;
pub mod secrets;
