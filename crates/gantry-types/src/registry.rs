//! The versioned registry's records: immutable versions of a named document (a prompt, a
//! chain), movable labels that point at versions, and the history of every label move.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The label that always points at the newest version; the registry moves it by itself.
pub const LATEST_LABEL: &str = "latest";

/// What kind of document a registry entry holds. Each kind has its own namespace of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryKind {
    Prompt,
    Chain,
}

impl RegistryKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryKind::Prompt => "prompt",
            RegistryKind::Chain => "chain",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "prompt" => Some(RegistryKind::Prompt),
            "chain" => Some(RegistryKind::Chain),
            _ => None,
        }
    }
}

/// One immutable version of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentVersion {
    pub kind: RegistryKind,
    pub name: String,
    /// 1, 2, 3, ... per name.
    pub version: u32,
    /// The document itself (a prompt spec, a chain spec).
    pub content: Value,
    /// Hash of the canonical content; equal hashes mean equal documents.
    pub content_hash: String,
    /// The commit message, when one was given.
    pub message: Option<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// A version to create; the store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub kind: RegistryKind,
    pub name: String,
    pub content: Value,
    pub content_hash: String,
    pub message: Option<String>,
    pub author: String,
}

/// The result of creating a version: the new one, or the newest one when its content is the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedVersion {
    pub version: DocumentVersion,
    /// False when the content equalled the newest version's and nothing was stored.
    pub created: bool,
}

/// Where a label points now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    pub label: String,
    pub version: u32,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// One recorded move of a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMove {
    pub label: String,
    /// `None` when the label was created by this move.
    pub from_version: Option<u32>,
    pub to_version: u32,
    pub moved_by: String,
    pub moved_at: DateTime<Utc>,
}

/// The result of pointing a label at a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LabelUpdate {
    /// The label moved (or was created); the move is recorded.
    Moved(LabelMove),
    /// The label already pointed at that version; nothing was recorded.
    Unchanged(LabelRecord),
    /// The document has no such version.
    NoSuchVersion,
}

/// A document's name, newest version and labels, for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentSummary {
    pub name: String,
    pub latest_version: u32,
    /// When the newest version was created.
    pub updated_at: DateTime<Utc>,
    /// Every label, by name.
    pub labels: Vec<LabelRecord>,
}

impl std::fmt::Display for RegistryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
