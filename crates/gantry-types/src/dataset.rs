//! Dataset items and versions as the store keeps them and the management API shows them.

use crate::chat::ChatMessage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an item feeds the target: the variables of a prompt or chain, or a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ItemInput {
    /// A conversation sent as it is to a model.
    Messages(Vec<ChatMessage>),
    /// Template variables (a prompt's or a chain's input).
    Variables(Map<String, Value>),
}

/// One example: an input, optionally the output it should produce, and free metadata
/// (a category label, where it came from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetItem {
    pub input: ItemInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl DatasetItem {
    /// The expected output as text: a string as it is, any other value as compact JSON.
    pub fn expected_text(&self) -> Option<String> {
        self.expected.as_ref().map(value_text)
    }
}

/// A JSON value as text: a string as it is, anything else as compact JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An item as stored in one dataset version: its position (0-based) in that version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredItem {
    pub index: u32,
    #[serde(flatten)]
    pub item: DatasetItem,
}

/// One immutable version of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetVersionInfo {
    pub name: String,
    /// 1, 2, 3, ... per dataset.
    pub version: u32,
    pub items: u64,
    /// Where this version came from, e.g. "import data.jsonl", "clean of v2: dedupe, pii".
    pub source: String,
    /// The version it was derived from (cleaning), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_version: Option<u32>,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// A dataset as listed: its newest version and that version's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub name: String,
    pub latest_version: u32,
    /// Items in the newest version.
    pub items: u64,
    /// How many versions exist.
    pub versions: u32,
    /// When the newest version was created.
    pub updated_at: DateTime<Utc>,
}
