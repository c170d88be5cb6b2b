//! What drift looks at in one call (or one dataset example): the user's input text, the
//! answer's text, and whether the call failed, hit a guardrail, refused, or answered JSON.

use gantry_types::{value_text, ChatMessage, DatasetItem, ItemInput, Role, TraceId, TraceRecord, TraceStatus};
use serde_json::{Map, Value};

/// Lower-case phrases that mark an answer as a refusal when it starts with one within its
/// first [`REFUSAL_PREFIX_CHARS`] characters. Kept to phrasings models use to decline, not to
/// hedge ("I think", "I'm not sure"), so a rising rate means more declined requests.
pub const REFUSAL_PHRASES: &[&str] = &[
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i can't",
    "i am sorry, but i cannot",
    "i'm sorry, but i won't",
    "sorry, but i can't",
    "sorry, i can't",
    "sorry, i cannot",
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i can't provide",
    "i cannot provide",
    "i can't comply",
    "i cannot comply",
    "i won't be able to",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i am not able to",
    "as an ai language model",
    "as an ai, i",
    "i must decline",
    "i have to decline",
];

/// How far into an answer a refusal phrase is looked for: refusals come first, and an answer
/// that quotes "I can't help with" deep in its text is not one.
pub const REFUSAL_PREFIX_CHARS: usize = 200;

/// Longest input text kept for embedding; MiniLM reads 256 tokens at most anyway.
const MAX_INPUT_CHARS: usize = 2000;

/// One call or example as drift sees it; `None` where the source does not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub trace_id: Option<TraceId>,
    /// What the user sent: a prompt's variables, else the last user message, else the input.
    pub input: Option<String>,
    /// The answer's text; `None` for failed calls and examples without an expected output.
    pub output: Option<String>,
    /// Whether the call failed (`None` for dataset examples).
    pub failed: Option<bool>,
    /// Whether any guardrail found something in the request or the answer.
    pub guardrail_hit: Option<bool>,
    /// Whether the request asked for JSON (`response_format` json_object or json_schema).
    pub json_requested: bool,
}

impl Observation {
    /// Length of the input in characters.
    pub fn input_chars(&self) -> Option<f64> {
        self.input.as_ref().map(|t| t.chars().count() as f64)
    }

    /// Length of the answer in characters.
    pub fn output_chars(&self) -> Option<f64> {
        self.output.as_ref().map(|t| t.chars().count() as f64)
    }

    /// Whether the answer is a refusal.
    pub fn refused(&self) -> Option<bool> {
        self.output.as_deref().map(is_refusal)
    }

    /// Whether the answer is valid JSON, among answers that are meant to be JSON.
    pub fn json_valid(&self) -> Option<bool> {
        json_validity(self.output.as_deref()?, self.json_requested)
    }
}

/// Whether `text` reads as a refusal (see [`REFUSAL_PHRASES`]).
pub fn is_refusal(text: &str) -> bool {
    let head: String = text.trim_start().chars().take(REFUSAL_PREFIX_CHARS).collect::<String>().to_lowercase();
    // Curly apostrophes are common in model output.
    let head = head.replace('\u{2019}', "'");
    REFUSAL_PHRASES.iter().any(|p| head.contains(p))
}

/// `Some(valid)` when `text` is meant as JSON: the request asked for it, or the answer starts
/// like JSON (`{`, `[`, or a ```json fence); `None` for prose answers.
pub fn json_validity(text: &str, requested: bool) -> Option<bool> {
    let trimmed = text.trim();
    let fenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .map(str::trim);
    let body = fenced.unwrap_or(trimmed);
    let looks_like_json = fenced.is_some() || body.starts_with('{') || body.starts_with('[');
    if !requested && !looks_like_json {
        return None;
    }
    Some(serde_json::from_str::<Value>(body).is_ok())
}

fn truncate(text: String) -> String {
    match text.char_indices().nth(MAX_INPUT_CHARS) {
        Some((at, _)) => text[..at].to_string(),
        None => text,
    }
}

/// Variables as one text: a lone variable's value as it is (so a one-variable prompt reads
/// like a plain message), else `name: value` lines in key order.
fn variables_text(variables: &Map<String, Value>) -> String {
    if variables.len() == 1 {
        return variables.values().map(value_text).collect();
    }
    let mut keys: Vec<&String> = variables.keys().collect();
    keys.sort();
    keys.iter().map(|k| format!("{k}: {}", value_text(&variables[k.as_str()]))).collect::<Vec<_>>().join("\n")
}

fn last_user_text(messages: &[ChatMessage]) -> Option<String> {
    messages.iter().rev().find(|m| m.role == Role::User).map(ChatMessage::text_content)
}

/// The user's part of a request: with a registered prompt the template is the same on every
/// call, so only its variables can drift.
fn trace_input(trace: &TraceRecord) -> Option<String> {
    if let Some(Value::Object(variables)) = trace.prompt.as_ref().map(|p| &p.variables) {
        if !variables.is_empty() {
            return Some(variables_text(variables));
        }
    }
    if let Some(messages) = trace.request.get("messages") {
        let messages: Vec<ChatMessage> = serde_json::from_value(messages.clone()).ok()?;
        return last_user_text(&messages);
    }
    match trace.request.get("input")? {
        Value::Object(variables) => Some(variables_text(variables)),
        other => Some(value_text(other)),
    }
}

/// The answer's text: the message content, else its tool calls or refusal, else the JSON.
fn trace_output(response: &Value) -> String {
    match serde_json::from_value::<ChatMessage>(response.clone()) {
        Ok(message) if message.content.is_some() => message.text_content(),
        Ok(ChatMessage { refusal: Some(refusal), .. }) => refusal,
        Ok(ChatMessage { tool_calls: Some(calls), .. }) => serde_json::to_string(&calls).unwrap_or_default(),
        _ => value_text(response),
    }
}

fn json_requested(request: &Value) -> bool {
    matches!(request.pointer("/response_format/type").and_then(Value::as_str), Some("json_object" | "json_schema"))
}

/// What drift sees in a recorded call.
pub fn from_trace(trace: &TraceRecord) -> Observation {
    let failed = trace.status == TraceStatus::Error;
    let output = if failed { None } else { trace.response.as_ref().map(trace_output) };
    Observation {
        trace_id: Some(trace.id),
        input: trace_input(trace).filter(|t| !t.trim().is_empty()).map(truncate),
        output,
        failed: Some(failed),
        guardrail_hit: Some(!trace.guardrails.is_empty()),
        json_requested: json_requested(&trace.request),
    }
}

/// What drift sees in a dataset example: its input, and its expected output as the answer.
pub fn from_dataset_item(item: &DatasetItem) -> Observation {
    let input = match &item.input {
        ItemInput::Variables(variables) => Some(variables_text(variables)),
        ItemInput::Messages(messages) => last_user_text(messages),
    };
    Observation {
        trace_id: None,
        input: input.filter(|t| !t.trim().is_empty()).map(truncate),
        output: item.expected_text(),
        failed: None,
        guardrail_hit: None,
        json_requested: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_found_at_the_start_only() {
        assert!(is_refusal("I'm sorry, but I can't help with that request."));
        assert!(is_refusal("  I\u{2019}m unable to share account details."));
        assert!(is_refusal("As an AI language model, I do not have opinions."));
        assert!(!is_refusal("Sure! Your order ships tomorrow."));
        // An apology that goes on to help is not a refusal.
        assert!(!is_refusal("I'm sorry, but your parcel is late: it arrives on Friday."));
        assert!(!is_refusal("I'm sorry, but I can resend it today."));
        assert!(is_refusal("I'm sorry, but I cannot do that."));
        let late = format!("{} and then the agent said I cannot help with that.", "Here is the log. ".repeat(20));
        assert!(!is_refusal(&late));
    }

    #[test]
    fn json_validity_counts_json_attempts_only() {
        assert_eq!(json_validity("The answer is 4.", false), None);
        assert_eq!(json_validity("{\"a\": 1}", false), Some(true));
        assert_eq!(json_validity("{\"a\": 1", false), Some(false));
        assert_eq!(json_validity("```json\n[1, 2]\n```", false), Some(true));
        assert_eq!(json_validity("The answer is 4.", true), Some(false));
    }
}
