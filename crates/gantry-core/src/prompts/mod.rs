//! The prompt registry: prompts as named, immutable versions of chat templates with typed
//! variables, model, parameters and an optional output schema; labels that move; diffs;
//! sandboxed rendering; and the chat requests a version makes.
//!
//! Chain steps call [`resolve`], then [`render`] or [`build_call_with_messages`].

mod chat;
mod diff;
mod error;
mod file;
mod spec;
mod template;

pub use chat::prepare;
pub use chat::{
    build_call, build_call_with_messages, gateway_error, is_prompt_model, output_validator, prepare_client_request,
    PromptCall, GANTRY_FIELD, PROMPT_MODEL_PREFIX,
};
pub use diff::{canonical_text, changed_fields, side_by_side, DiffRow, PromptDiff};
pub use error::PromptError;
pub use file::{parse_prompt, parse_structured, read_prompt_file, FileFormat};
pub use spec::{
    json_type_name, MessageTemplate, PromptDraft, PromptSpec, VariableDraft, VariableDrafts, VariableSpec, VariableType,
};
pub(crate) use template::SANDBOX;
pub use template::{render_resolved, resolve_variables};

use crate::registry::{self, Reference, Selector, UnreadableVersion, Versioned, DEFAULT_LABEL};
use chrono::{DateTime, Utc};
use gantry_store::RegistryStore;
use gantry_types::{ChatMessage, DocumentSummary, LabelMove, LabelRecord, LabelUpdate, RegistryKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The registry kind prompts are stored under.
pub const KIND: RegistryKind = RegistryKind::Prompt;
/// The author recorded for API pushes and label moves that name none.
pub const API_AUTHOR: &str = "api";

/// One stored version of a prompt.
pub type PromptVersion = Versioned<PromptSpec>;

impl From<UnreadableVersion> for PromptError {
    fn from(e: UnreadableVersion) -> Self {
        PromptError::Corrupt { name: e.name, version: e.version, message: e.message }
    }
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// False when the content equalled the newest version's: no new version was created.
    pub created: bool,
    pub version: PromptVersion,
}

/// A version's metadata, for histories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: u32,
    pub message: Option<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub content_hash: String,
    /// The labels pointing at this version now.
    pub labels: Vec<String>,
}

/// A prompt's whole record: versions, labels, label moves and the newest version in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptDetails {
    pub name: String,
    /// Oldest first.
    pub versions: Vec<VersionSummary>,
    pub labels: Vec<LabelRecord>,
    /// Every label move, oldest first.
    pub label_history: Vec<LabelMove>,
    pub latest: PromptVersion,
}

/// A label and the version it points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelView {
    pub name: String,
    #[serde(flatten)]
    pub label: LabelRecord,
    pub prompt: PromptVersion,
}

/// Messages rendered without calling a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    pub name: String,
    pub version: u32,
    /// The label that selected the version, when one did.
    pub label: Option<String>,
    pub model: Option<String>,
    pub parameters: Map<String, Value>,
    /// The variables after defaults were filled in.
    pub variables: Map<String, Value>,
    pub messages: Vec<ChatMessage>,
}

/// Checks `draft` and stores it as a new version, unless its content equals the newest one.
pub async fn push<S: RegistryStore + ?Sized>(
    store: &S,
    draft: PromptDraft,
    message: Option<String>,
    author: &str,
) -> Result<PushOutcome, PromptError> {
    let (name, spec) = draft.into_spec()?;
    let content = serde_json::to_value(&spec).map_err(|e| PromptError::Internal(e.to_string()))?;
    let created = registry::push(store, KIND, &name, content, message, author).await?;
    Ok(PushOutcome { created: created.created, version: PromptVersion::from_document(created.version)? })
}

/// The version `reference` selects: `NAME@3`, `NAME@staging`, or `NAME` (= `NAME@production`).
pub async fn resolve<S: RegistryStore + ?Sized>(store: &S, reference: &str) -> Result<PromptVersion, PromptError> {
    let reference = Reference::parse(KIND, reference, DEFAULT_LABEL)?;
    resolve_reference(store, &reference).await
}

/// The version a parsed reference selects.
pub async fn resolve_reference<S: RegistryStore + ?Sized>(
    store: &S,
    reference: &Reference,
) -> Result<PromptVersion, PromptError> {
    Ok(PromptVersion::from_document(registry::resolve(store, KIND, reference).await?)?)
}

/// One version or label (`3`, `production`) of `name`.
pub async fn get<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    selector: &str,
) -> Result<PromptVersion, PromptError> {
    registry::validate_name(KIND, name)?;
    let selector = registry::parse_selector(selector)?;
    resolve_reference(store, &Reference { name: name.to_string(), selector }).await
}

/// Renders `version`'s messages with `variables`, checked against its declarations.
pub fn render(version: &PromptVersion, variables: &Value) -> Result<Vec<ChatMessage>, PromptError> {
    let resolved = resolve_variables(&version.spec, variables)?;
    render_resolved(&version.spec, &resolved)
}

/// Renders the version `selector` picks (default `production`) without calling a model.
pub async fn render_preview<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    selector: Option<Selector>,
    variables: &Value,
) -> Result<RenderedPrompt, PromptError> {
    registry::validate_name(KIND, name)?;
    let reference = Reference {
        name: name.to_string(),
        selector: selector.unwrap_or_else(|| Selector::Label(DEFAULT_LABEL.to_string())),
    };
    let version = resolve_reference(store, &reference).await?;
    let resolved = resolve_variables(&version.spec, variables)?;
    let messages = render_resolved(&version.spec, &resolved)?;
    Ok(RenderedPrompt {
        name: version.name,
        version: version.version,
        label: reference.label().map(str::to_string),
        model: version.spec.model,
        parameters: version.spec.parameters,
        variables: resolved,
        messages,
    })
}

/// Every prompt with its newest version and labels.
pub async fn list<S: RegistryStore + ?Sized>(store: &S) -> Result<Vec<DocumentSummary>, PromptError> {
    Ok(registry::list(store, KIND).await?)
}

/// A prompt's versions, labels, label history and newest version.
pub async fn details<S: RegistryStore + ?Sized>(store: &S, name: &str) -> Result<PromptDetails, PromptError> {
    let history = registry::history(store, KIND, name).await?;
    let labels_of = |version: u32| {
        history.labels.iter().filter(|l| l.version == version).map(|l| l.label.clone()).collect::<Vec<_>>()
    };
    let versions = history
        .versions
        .iter()
        .map(|v| VersionSummary {
            version: v.version,
            message: v.message.clone(),
            author: v.author.clone(),
            created_at: v.created_at,
            content_hash: v.content_hash.clone(),
            labels: labels_of(v.version),
        })
        .collect();
    let newest = history
        .versions
        .last()
        .cloned()
        .ok_or_else(|| PromptError::Internal(format!("prompt {name} has no versions")))?;
    Ok(PromptDetails {
        name: history.name.clone(),
        versions,
        labels: history.labels.clone(),
        label_history: history.label_history.clone(),
        latest: PromptVersion::from_document(newest)?,
    })
}

/// Where `label` points, with that version.
pub async fn get_label<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    label: &str,
) -> Result<LabelView, PromptError> {
    registry::validate_name(KIND, name)?;
    registry::validate_label(label)?;
    let reference = Reference { name: name.to_string(), selector: Selector::Label(label.to_string()) };
    let prompt = resolve_reference(store, &reference).await?;
    let record = store
        .get_label(KIND, name, label)
        .await?
        .ok_or_else(|| PromptError::Internal(format!("label {label} of {name} vanished while it was read")))?;
    Ok(LabelView { name: name.to_string(), label: record, prompt })
}

/// The result of pointing a label at a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelChange {
    pub name: String,
    pub label: String,
    pub version: u32,
    /// Where the label pointed before; `None` when it is new.
    pub previous_version: Option<u32>,
    /// False when the label already pointed at `version` (nothing was recorded).
    pub moved: bool,
    /// Who moved it (or, when unchanged, who moved it last).
    pub moved_by: String,
    pub moved_at: DateTime<Utc>,
}

/// Points `label` at `version` of `name`; the move is recorded with `author`.
pub async fn set_label<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    label: &str,
    version: u32,
    author: &str,
) -> Result<LabelChange, PromptError> {
    let change = |previous_version, moved, moved_by, moved_at| LabelChange {
        name: name.to_string(),
        label: label.to_string(),
        version,
        previous_version,
        moved,
        moved_by,
        moved_at,
    };
    match registry::set_label(store, KIND, name, label, version, author).await? {
        LabelUpdate::Moved(m) => Ok(change(m.from_version, true, m.moved_by, m.moved_at)),
        LabelUpdate::Unchanged(r) => Ok(change(Some(r.version), false, r.updated_by, r.updated_at)),
        LabelUpdate::NoSuchVersion => Err(PromptError::Internal(format!("{name} has no version {version}"))),
    }
}

/// The difference between two versions (`from`/`to` are version numbers or labels).
pub async fn diff<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    from: &str,
    to: &str,
) -> Result<PromptDiff, PromptError> {
    let old = get(store, name, from).await?;
    let new = get(store, name, to).await?;
    let old_name = format!("{name}@{}", old.version);
    let new_name = format!("{name}@{}", new.version);
    let (old_text, new_text) = (canonical_text(&old.spec), canonical_text(&new.spec));
    Ok(PromptDiff {
        name: name.to_string(),
        from_version: old.version,
        to_version: new.version,
        changed: changed_fields(&old.spec, &new.spec),
        diff: registry::unified_diff(&old_text, &new_text, &old_name, &new_name),
        rows: diff::side_by_side(&old_text, &new_text),
    })
}

/// Turns `name=value` pairs (from a command line) into variables: a value is taken as JSON
/// when the variable is declared with a type other than string and the text parses, else
/// as a string.
pub fn variables_from_pairs(spec: &PromptSpec, pairs: &[String]) -> Result<Value, PromptError> {
    let mut out = Map::new();
    for pair in pairs {
        let (name, text) = pair.split_once('=').ok_or_else(|| PromptError::InvalidPrompt {
            field: "variables".to_string(),
            message: format!("'{pair}' is not NAME=VALUE"),
        })?;
        let kind = spec.variables.iter().find(|v| v.name == name).map(|v| v.kind);
        let value = match kind {
            Some(VariableType::String) | None => Value::String(text.to_string()),
            Some(_) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
        };
        out.insert(name.to_string(), value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_round_trip_through_json() {
        let (name, spec) = serde_json::from_value::<PromptDraft>(json!({"name": "p",
            "messages": [{"role": "user", "content": "{{ n }}"}], "variables": [{"name": "n", "type": "integer"}]}))
        .unwrap()
        .into_spec()
        .unwrap();
        let v = PromptVersion {
            name,
            version: 2,
            spec,
            message: Some("m".into()),
            author: "a".into(),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            content_hash: "sha256:x".into(),
        };
        let text = serde_json::to_value(&v).unwrap();
        assert_eq!(text["messages"][0]["content"], "{{ n }}", "the spec is flat in the version");
        assert_eq!(serde_json::from_value::<PromptVersion>(text).unwrap(), v);
        let vars = variables_from_pairs(&v.spec, &["n=3".into(), "x=[1]".into()]).unwrap();
        assert_eq!(vars, json!({"n": 3, "x": "[1]"}));
        assert!(variables_from_pairs(&v.spec, &["novalue".into()]).is_err());
    }
}
