//! Export: a version's items as JSONL, or as chat fine-tuning lines `{"messages": [...]}`.

use super::DatasetError;
use gantry_core::prompts::{self, PromptVersion};
use gantry_types::{ChatMessage, ItemInput, Role, StoredItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One item a line, as imported.
    Jsonl,
    /// One conversation a line: the input messages and the expected output as the
    /// assistant's answer (OpenAI chat fine-tuning format).
    Chat,
}

impl ExportFormat {
    /// Parses `jsonl` or `chat`.
    pub fn parse(text: &str) -> Result<Self, DatasetError> {
        match text {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "chat" => Ok(ExportFormat::Chat),
            other => Err(DatasetError::parameter(format!("format must be jsonl or chat, got '{other}'"), "format")),
        }
    }
}

/// One line of a chat export.
#[derive(Serialize)]
struct ChatLine<'a> {
    messages: &'a [ChatMessage],
}

/// An export's text and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// JSONL, one line per exported item, each ending with a newline.
    pub text: String,
    pub exported: u64,
    /// Items left out of a chat export because they have no expected output.
    pub skipped_without_expected: u64,
}

fn json_line(out: &mut String, value: &impl Serialize) -> Result<(), DatasetError> {
    let line = serde_json::to_string(value).map_err(|e| DatasetError::Internal(e.to_string()))?;
    out.push_str(&line);
    out.push('\n');
    Ok(())
}

/// Writes `items` in `format`; variables are rendered into messages with `prompt` for chat.
pub fn export_items(
    items: &[StoredItem],
    format: ExportFormat,
    prompt: Option<&PromptVersion>,
) -> Result<Export, DatasetError> {
    let mut out = String::new();
    let (mut exported, mut skipped) = (0, 0);
    for stored in items {
        let item = &stored.item;
        if format == ExportFormat::Jsonl {
            json_line(&mut out, item)?;
            exported += 1;
            continue;
        }
        let Some(expected) = item.expected_text() else {
            skipped += 1;
            continue;
        };
        let mut messages: Vec<ChatMessage> = match (&item.input, prompt) {
            (ItemInput::Messages(messages), _) => messages.clone(),
            (ItemInput::Variables(vars), Some(prompt)) => prompts::render(prompt, &Value::Object(vars.clone()))
                .map_err(|source| DatasetError::Render { index: stored.index, source })?,
            (ItemInput::Variables(_), None) => return Err(DatasetError::PromptRequired { index: stored.index }),
        };
        messages.push(ChatMessage::text(Role::Assistant, expected));
        json_line(&mut out, &ChatLine { messages: &messages })?;
        exported += 1;
    }
    Ok(Export { text: out, exported, skipped_without_expected: skipped })
}
