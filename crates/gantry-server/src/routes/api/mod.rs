//! `/api`: the management API.

pub mod prompts;
pub mod traces;
