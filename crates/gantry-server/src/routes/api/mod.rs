//! `/api`: the management API.

pub mod alerts;
pub mod analytics;
pub mod chains;
pub mod collections;
pub mod datasets;
pub mod deployments;
pub mod evals;
pub mod feedback;
pub mod guard;
pub mod keys;
pub mod monitor;
pub mod openapi;
pub mod prompts;
pub mod review;
pub mod traces;

use gantry_core::prompts::API_AUTHOR;
use serde::Deserialize;

/// Who a registry change is recorded for: the body's `author`, else "api".
fn author_or_api(author: Option<String>) -> String {
    author.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).unwrap_or_else(|| API_AUTHOR.to_string())
}

/// Body of `PUT /api/{prompts|chains}/{name}/labels/{label}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetLabelBody {
    version: u32,
    #[serde(default)]
    author: Option<String>,
}
