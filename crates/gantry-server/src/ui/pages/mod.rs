//! One module a page family; each handler reads through the core functions the `/api` routes
//! use and hands the result to its template.

pub mod dashboard;
pub mod datasets;
pub mod deployments;
pub mod drift;
pub mod evals;
pub mod login;
pub mod prompts;
pub mod review;
pub mod traces;

use serde_json::Value;

/// The text of a chat message's content: a string as it is; the text parts of a list joined,
/// other parts (images, audio) named in brackets.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => part.get("text").and_then(Value::as_str).unwrap_or_default().to_string(),
                Some(other) => format!("[{other}]"),
                None => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let cut: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_reads_as_text() {
        assert_eq!(content_text(&json!("hi")), "hi");
        let parts = json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]);
        assert_eq!(content_text(&parts), "look\n[image_url]");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
