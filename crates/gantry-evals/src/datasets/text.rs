//! The text of an item as cleaning and statistics measure it.

use gantry_core::registry::canonical_json;
use gantry_types::{value_text, DatasetItem, ItemInput};
use serde_json::Value;

/// The input as plain text: message contents, or variable values (in name order), one a line.
pub fn input_text(item: &DatasetItem) -> String {
    match &item.input {
        ItemInput::Messages(messages) => messages.iter().map(|m| m.text_content()).collect::<Vec<_>>().join("\n"),
        ItemInput::Variables(vars) => {
            let mut names: Vec<&String> = vars.keys().collect();
            names.sort();
            names.into_iter().map(|n| value_text(&vars[n])).collect::<Vec<_>>().join("\n")
        }
    }
}

/// Input and expected output, for near-duplicate comparison.
pub fn full_text(item: &DatasetItem) -> String {
    match item.expected_text() {
        Some(expected) => format!("{}\n{expected}", input_text(item)),
        None => input_text(item),
    }
}

/// Equal for items with the same input and expected output (metadata ignored; object keys
/// in any order).
pub fn exact_key(item: &DatasetItem) -> String {
    let input = serde_json::to_value(&item.input).unwrap_or(Value::Null);
    let expected = item.expected.clone().unwrap_or(Value::Null);
    canonical_json(&Value::Array(vec![input, expected]))
}

/// Characters of `text` (Unicode scalar values).
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// Whitespace-separated tokens of `text`.
pub fn token_count(text: &str) -> usize {
    text.split_whitespace().count()
}
