//! `/api`: the management API.

pub mod collections;
pub mod prompts;
pub mod traces;
