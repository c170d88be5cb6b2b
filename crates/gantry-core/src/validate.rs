//! Checks on a request before any provider sees it, with the offending parameter named.

use crate::error::GatewayError;
use gantry_types::{ChatCompletionRequest, EmbeddingInput, EmbeddingRequest, Role};

/// Rejects chat requests OpenAI would reject, and what Gantry cannot serve (n > 1).
pub fn check_chat(req: &ChatCompletionRequest) -> Result<(), GatewayError> {
    if req.model.trim().is_empty() {
        return Err(GatewayError::invalid("you must provide a model parameter", "model"));
    }
    if req.messages.is_empty() {
        return Err(GatewayError::invalid("'messages' must contain at least one message", "messages"));
    }
    for (i, m) in req.messages.iter().enumerate() {
        if m.role == Role::Tool && m.tool_call_id.is_none() {
            return Err(GatewayError::invalid(
                format!("messages[{i}]: a message with role 'tool' must have a 'tool_call_id'"),
                &format!("messages[{i}].tool_call_id"),
            ));
        }
        if m.content.is_none() && m.tool_calls.is_none() && m.role != Role::Assistant {
            return Err(GatewayError::invalid(
                format!("messages[{i}]: 'content' is required for role '{}'", m.role.as_str()),
                &format!("messages[{i}].content"),
            ));
        }
    }
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(GatewayError::invalid(
                format!("temperature {t} is out of range: it must be between 0 and 2"),
                "temperature",
            ));
        }
    }
    if let Some(p) = req.top_p {
        if !(0.0..=1.0).contains(&p) {
            return Err(GatewayError::invalid(
                format!("top_p {p} is out of range: it must be between 0 and 1"),
                "top_p",
            ));
        }
    }
    for (name, value) in [("max_tokens", req.max_tokens), ("max_completion_tokens", req.max_completion_tokens)] {
        if value == Some(0) {
            return Err(GatewayError::invalid(format!("{name} must be at least 1"), name));
        }
    }
    if let Some(n) = req.n {
        if n != 1 {
            return Err(GatewayError::invalid(format!("n={n} is not supported: Gantry returns one choice (n=1)"), "n"));
        }
    }
    if req.stream_options.is_some() && !req.is_stream() {
        return Err(GatewayError::invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        ));
    }
    if req.stop_sequences().len() > 4 {
        return Err(GatewayError::invalid("'stop' may hold at most 4 sequences", "stop"));
    }
    Ok(())
}

/// Rejects empty embedding input.
pub fn check_embeddings(req: &EmbeddingRequest) -> Result<(), GatewayError> {
    if req.model.trim().is_empty() {
        return Err(GatewayError::invalid("you must provide a model parameter", "model"));
    }
    let empty = match &req.input {
        EmbeddingInput::One(s) => s.is_empty(),
        EmbeddingInput::Many(v) => v.is_empty() || v.iter().any(String::is_empty),
        EmbeddingInput::Tokens(v) => v.is_empty(),
        EmbeddingInput::TokenBatches(v) => v.is_empty() || v.iter().any(Vec::is_empty),
    };
    if empty {
        return Err(GatewayError::invalid("'input' must not be empty, nor contain an empty string", "input"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::ChatMessage;

    fn req() -> ChatCompletionRequest {
        ChatCompletionRequest::new("m", vec![ChatMessage::text(Role::User, "hi")])
    }

    #[test]
    fn bad_parameters_are_named() {
        let mut r = req();
        r.messages.clear();
        assert!(matches!(check_chat(&r), Err(GatewayError::InvalidRequest { param: Some(p), .. }) if p == "messages"));
        let mut r = req();
        r.temperature = Some(3.0);
        assert!(
            matches!(check_chat(&r), Err(GatewayError::InvalidRequest { param: Some(p), .. }) if p == "temperature")
        );
        let mut r = req();
        r.n = Some(2);
        assert!(matches!(check_chat(&r), Err(GatewayError::InvalidRequest { param: Some(p), .. }) if p == "n"));
        let mut r = req();
        r.stream_options = Some(Default::default());
        assert!(
            matches!(check_chat(&r), Err(GatewayError::InvalidRequest { param: Some(p), .. }) if p == "stream_options")
        );
        assert!(check_chat(&req()).is_ok());
    }
}
