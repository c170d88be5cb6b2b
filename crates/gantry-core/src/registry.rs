//! The versioned registry, generic over the kind of document: names, references
//! (`NAME`, `NAME@3`, `NAME@production`), pushing content (a new version only when it
//! changed), resolving references, moving labels and diffing canonical texts. Prompts use it
//! now; chains use the same machinery with different content.

use chrono::{DateTime, Utc};
use gantry_store::{RegistryStore, StoreError};
use gantry_types::{
    CreatedVersion, DocumentSummary, DocumentVersion, LabelMove, LabelRecord, LabelUpdate, NewVersion, RegistryKind,
    LATEST_LABEL,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The longest name a document may have.
pub const MAX_NAME_LEN: usize = 100;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 64;
/// The label a reference without a suffix means when used to run something.
pub const DEFAULT_LABEL: &str = "production";

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The name breaks the naming rules.
    #[error("'{name}' is not a valid {kind} name: {reason}")]
    InvalidName { kind: RegistryKind, name: String, reason: &'static str },
    /// The label breaks the naming rules.
    #[error("'{label}' is not a valid label: {reason}")]
    InvalidLabel { label: String, reason: &'static str },
    /// `latest` cannot be moved by hand.
    #[error("the label 'latest' moves by itself to the newest version; choose another label")]
    ReservedLabel,
    /// A reference that is not `NAME`, `NAME@VERSION` or `NAME@LABEL`.
    #[error("'{text}' is not a valid reference ({reason}); use NAME, NAME@VERSION or NAME@LABEL")]
    InvalidReference { text: String, reason: String },
    /// No document has that name.
    #[error("no {kind} named '{name}'")]
    NotFound { kind: RegistryKind, name: String },
    /// The document exists but not that version.
    #[error("{kind} '{name}' has no version {version} (the newest is {newest})")]
    VersionNotFound { kind: RegistryKind, name: String, version: u32, newest: u32 },
    /// The document exists but has no such label.
    #[error("{kind} '{name}' has no label '{label}' (its labels: {})", labels.join(", "))]
    LabelNotFound { kind: RegistryKind, name: String, label: String, labels: Vec<String> },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistryError {
    /// Stable machine code; "not found" codes name the kind (`prompt_not_found`).
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::InvalidName { .. } => "invalid_name",
            RegistryError::InvalidLabel { .. } => "invalid_label",
            RegistryError::ReservedLabel => "reserved_label",
            RegistryError::InvalidReference { .. } => "invalid_reference",
            RegistryError::NotFound { kind, .. }
            | RegistryError::VersionNotFound { kind, .. }
            | RegistryError::LabelNotFound { kind, .. } => match kind {
                RegistryKind::Prompt => "prompt_not_found",
                RegistryKind::Chain => "chain_not_found",
            },
            RegistryError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            RegistryError::InvalidName { .. }
            | RegistryError::InvalidLabel { .. }
            | RegistryError::ReservedLabel
            | RegistryError::InvalidReference { .. } => 400,
            RegistryError::NotFound { .. }
            | RegistryError::VersionNotFound { .. }
            | RegistryError::LabelNotFound { .. } => 404,
            RegistryError::Store(_) => 500,
        }
    }

    /// The request parameter at fault, when there is one.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            RegistryError::InvalidName { .. } => Some("name"),
            RegistryError::InvalidLabel { .. } | RegistryError::ReservedLabel => Some("label"),
            _ => None,
        }
    }
}

/// Which version a reference selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    Version(u32),
    Label(String),
}

/// `NAME`, `NAME@VERSION` or `NAME@LABEL`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub selector: Selector,
}

impl Reference {
    /// Parses `text`; without a suffix the reference selects `default_label`.
    pub fn parse(kind: RegistryKind, text: &str, default_label: &str) -> Result<Self, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidReference { text: text.to_string(), reason };
        let (name, selector) = match text.split_once('@') {
            None => (text, Selector::Label(default_label.to_string())),
            Some((name, suffix)) => (name, parse_selector(suffix).map_err(|e| invalid(e.to_string()))?),
        };
        validate_name(kind, name).map_err(|e| invalid(e.to_string()))?;
        Ok(Reference { name: name.to_string(), selector })
    }

    /// The label it names, if it names one.
    pub fn label(&self) -> Option<&str> {
        match &self.selector {
            Selector::Label(l) => Some(l),
            Selector::Version(_) => None,
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.selector {
            Selector::Version(v) => write!(f, "{}@{v}", self.name),
            Selector::Label(l) => write!(f, "{}@{l}", self.name),
        }
    }
}

/// A version number (`3`) or a label (`production`).
pub fn parse_selector(text: &str) -> Result<Selector, RegistryError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if v > 0 => Ok(Selector::Version(v)),
            _ => Err(RegistryError::InvalidReference {
                text: text.to_string(),
                reason: "a version is a whole number from 1".to_string(),
            }),
        };
    }
    validate_label(text)?;
    Ok(Selector::Label(text.to_string()))
}

/// Names: 1 to 100 letters, digits, `_`, `-` or `.`, starting with a letter or digit.
pub fn validate_name(kind: RegistryKind, name: &str) -> Result<(), RegistryError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 100 characters")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start with a letter or digit")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Some("only letters, digits, '_', '-' and '.' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RegistryError::InvalidName { kind, name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// Labels: 1 to 64 letters, digits, `_`, `-` or `.`, starting with a letter (so that `@3`
/// always means a version).
pub fn validate_label(label: &str) -> Result<(), RegistryError> {
    let reason = if label.is_empty() {
        Some("it is empty")
    } else if label.len() > MAX_LABEL_LEN {
        Some("it is longer than 64 characters")
    } else if !label.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("it must start with a letter")
    } else if !label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Some("only letters, digits, '_', '-' and '.' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RegistryError::InvalidLabel { label: label.to_string(), reason }),
        None => Ok(()),
    }
}

/// `value` as JSON text with every object's keys sorted, so equal documents hash equally.
pub fn canonical_json(value: &Value) -> String {
    fn write(out: &mut String, value: &Value) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(out, &map[key]);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// `sha256:HEX` of the canonical JSON of `content`.
pub fn content_hash(content: &Value) -> String {
    let digest = Sha256::digest(canonical_json(content).as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Stores `content` as a new version of `name` unless it equals the newest version.
pub async fn push<S: RegistryStore + ?Sized>(
    store: &S,
    kind: RegistryKind,
    name: &str,
    content: Value,
    message: Option<String>,
    author: &str,
) -> Result<CreatedVersion, RegistryError> {
    validate_name(kind, name)?;
    let new = NewVersion {
        kind,
        name: name.to_string(),
        content_hash: content_hash(&content),
        content,
        message: message.filter(|m| !m.trim().is_empty()),
        author: author.to_string(),
    };
    Ok(store.create_version(&new).await?)
}

/// The version a reference selects.
pub async fn resolve<S: RegistryStore + ?Sized>(
    store: &S,
    kind: RegistryKind,
    reference: &Reference,
) -> Result<DocumentVersion, RegistryError> {
    let name = &reference.name;
    let version = match &reference.selector {
        Selector::Version(v) => *v,
        Selector::Label(label) => match store.get_label(kind, name, label).await? {
            Some(record) => record.version,
            None => {
                let labels = store.list_labels(kind, name).await?;
                if labels.is_empty() {
                    return Err(RegistryError::NotFound { kind, name: name.clone() });
                }
                return Err(RegistryError::LabelNotFound {
                    kind,
                    name: name.clone(),
                    label: label.clone(),
                    labels: labels.into_iter().map(|l| l.label).collect(),
                });
            }
        },
    };
    match store.get_version(kind, name, version).await? {
        Some(found) => Ok(found),
        None => match store.latest_version(kind, name).await? {
            None => Err(RegistryError::NotFound { kind, name: name.clone() }),
            Some(newest) => {
                Err(RegistryError::VersionNotFound { kind, name: name.clone(), version, newest: newest.version })
            }
        },
    }
}

/// Points `label` at `version`, recording who moved it; `latest` is refused.
pub async fn set_label<S: RegistryStore + ?Sized>(
    store: &S,
    kind: RegistryKind,
    name: &str,
    label: &str,
    version: u32,
    author: &str,
) -> Result<LabelUpdate, RegistryError> {
    validate_name(kind, name)?;
    validate_label(label)?;
    if label == LATEST_LABEL {
        return Err(RegistryError::ReservedLabel);
    }
    match store.set_label(kind, name, label, version, author).await? {
        LabelUpdate::NoSuchVersion => match store.latest_version(kind, name).await? {
            None => Err(RegistryError::NotFound { kind, name: name.to_string() }),
            Some(newest) => {
                Err(RegistryError::VersionNotFound { kind, name: name.to_string(), version, newest: newest.version })
            }
        },
        update => Ok(update),
    }
}

/// One stored version read as its kind's spec (a prompt, a chain), with the version's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub name: String,
    pub version: u32,
    #[serde(flatten)]
    pub spec: T,
    /// The commit message.
    pub message: Option<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub content_hash: String,
}

/// A stored version whose content no longer reads as its kind's spec.
#[derive(Debug)]
pub struct UnreadableVersion {
    pub name: String,
    pub version: u32,
    pub message: String,
}

impl<T: DeserializeOwned> Versioned<T> {
    /// Reads a stored document as a `T`.
    pub fn from_document(doc: DocumentVersion) -> Result<Self, UnreadableVersion> {
        let spec = serde_json::from_value(doc.content).map_err(|e| UnreadableVersion {
            name: doc.name.clone(),
            version: doc.version,
            message: e.to_string(),
        })?;
        Ok(Versioned {
            name: doc.name,
            version: doc.version,
            spec,
            message: doc.message,
            author: doc.author,
            created_at: doc.created_at,
            content_hash: doc.content_hash,
        })
    }
}

/// A document's whole record: every version, its labels and every label move.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentHistory {
    pub name: String,
    /// Oldest first.
    pub versions: Vec<DocumentVersion>,
    pub labels: Vec<LabelRecord>,
    /// Oldest first.
    pub label_history: Vec<LabelMove>,
}

/// Every version, label and label move of `name`.
pub async fn history<S: RegistryStore + ?Sized>(
    store: &S,
    kind: RegistryKind,
    name: &str,
) -> Result<DocumentHistory, RegistryError> {
    validate_name(kind, name)?;
    let versions = store.list_versions(kind, name).await?;
    if versions.is_empty() {
        return Err(RegistryError::NotFound { kind, name: name.to_string() });
    }
    Ok(DocumentHistory {
        name: name.to_string(),
        versions,
        labels: store.list_labels(kind, name).await?,
        label_history: store.label_history(kind, name).await?,
    })
}

/// Every document of a kind with its newest version and labels.
pub async fn list<S: RegistryStore + ?Sized>(
    store: &S,
    kind: RegistryKind,
) -> Result<Vec<DocumentSummary>, RegistryError> {
    Ok(store.list_registered(kind).await?)
}

/// A unified diff (3 lines of context) from `old` to `new`; empty when they are equal.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(old_name, new_name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_parse_versions_labels_and_the_default() {
        let kind = RegistryKind::Prompt;
        let r = Reference::parse(kind, "support", DEFAULT_LABEL).unwrap();
        assert_eq!((r.name.as_str(), r.selector.clone()), ("support", Selector::Label("production".into())));
        assert_eq!(Reference::parse(kind, "support@12", DEFAULT_LABEL).unwrap().selector, Selector::Version(12));
        assert_eq!(
            Reference::parse(kind, "a.b-c_d@staging", DEFAULT_LABEL).unwrap().selector,
            Selector::Label("staging".into())
        );
        for bad in ["", "@3", "sup port", "x@", "x@0", "x@-1", "x@99999999999", "x@3a", "x@a b", "-x"] {
            let err = Reference::parse(kind, bad, DEFAULT_LABEL).unwrap_err();
            assert_eq!(err.code(), "invalid_reference", "{bad}: {err}");
        }
        assert_eq!(Reference::parse(kind, "x@7", DEFAULT_LABEL).unwrap().to_string(), "x@7");
    }

    #[test]
    fn names_and_labels_follow_the_rules() {
        assert!(validate_name(RegistryKind::Prompt, "Support_v2.1-beta").is_ok());
        assert_eq!(validate_name(RegistryKind::Prompt, "a/b").unwrap_err().code(), "invalid_name");
        assert_eq!(validate_name(RegistryKind::Prompt, &"a".repeat(101)).unwrap_err().code(), "invalid_name");
        assert!(validate_label("production").is_ok());
        assert_eq!(validate_label("3rd").unwrap_err().code(), "invalid_label");
    }

    #[test]
    fn equal_content_hashes_equally_whatever_the_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b: Value = serde_json::from_str(r#"{"a": {"x": "s", "y": [1, 2]}, "b": 1}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&json!({"b": 2})));
        assert!(content_hash(&a).starts_with("sha256:") && content_hash(&a).len() == 71);
    }

    #[test]
    fn diffs_are_unified_with_headers() {
        let diff = unified_diff("a\nb\nc\n", "a\nB\nc\n", "v1", "v2");
        assert!(diff.starts_with("--- v1\n+++ v2\n"), "{diff}");
        assert!(diff.contains("-b\n+B\n"), "{diff}");
        assert_eq!(unified_diff("same\n", "same\n", "v1", "v2"), "");
    }
}
