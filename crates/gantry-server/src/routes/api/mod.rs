//! `/api`: the management API.

pub mod collections;
pub mod traces;
