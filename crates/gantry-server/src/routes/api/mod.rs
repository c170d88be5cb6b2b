//! `/api`: the management API.

pub mod chains;
pub mod collections;
pub mod openapi;
pub mod prompts;
pub mod traces;
