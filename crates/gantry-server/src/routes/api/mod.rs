//! `/api`: the management API.

pub mod traces;
