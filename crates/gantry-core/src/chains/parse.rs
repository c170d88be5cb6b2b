//! Finding JSON in a model's answer: the whole text, a fenced ```json block, or the outermost
//! object or array inside surrounding prose.

use serde_json::Value;

/// The JSON value `text` holds, or why there is none.
pub fn extract_json(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let first_error = match serde_json::from_str(trimmed) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    if let Some(fenced) = fenced_block(trimmed) {
        if let Ok(value) = serde_json::from_str(fenced.trim()) {
            return Ok(value);
        }
    }
    for (open, close) in [('{', '}'), ('[', ']')] {
        if let (Some(start), Some(end)) = (trimmed.find(open), trimmed.rfind(close)) {
            if start < end {
                if let Ok(value) = serde_json::from_str(&trimmed[start..=end]) {
                    return Ok(value);
                }
            }
        }
    }
    let preview: String = trimmed.chars().take(80).collect();
    Err(format!("no JSON found in the text ({first_error}); it starts with {preview:?}"))
}

fn fenced_block(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n')? + 1;
    let body = &after[body_start..];
    let end = body.find("```")?;
    Some(&body[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_found_bare_fenced_or_inside_prose() {
        assert_eq!(extract_json(" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert_eq!(extract_json("Sure!\n```json\n[1, 2]\n```\nDone.").unwrap(), json!([1, 2]));
        assert_eq!(extract_json("The answer is {\"ok\": true}. Bye").unwrap(), json!({"ok": true}));
        assert_eq!(extract_json("42").unwrap(), json!(42));
        let err = extract_json("no json here").unwrap_err();
        assert!(err.contains("no JSON found") && err.contains("no json here"), "{err}");
    }
}
