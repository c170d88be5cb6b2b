//! OpenAI chat request → Anthropic Messages request.

use crate::ProviderError;
use gantry_types::{ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, Role, Tool};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Anthropic requires `max_tokens`; this is used when the client set no limit.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
}

/// One message; content is always a list of blocks so adjacent messages can be merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Message {
    pub role: &'static str,
    pub content: Vec<Value>,
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidRequest(message.into())
}

/// Translates `request`; fails on what Anthropic cannot express.
pub(crate) fn messages_request(
    request: &ChatCompletionRequest,
    stream: bool,
) -> Result<MessagesRequest, ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(ProviderError::Unsupported("Anthropic returns one choice per request (n > 1)".into()));
    }
    if let Some(format) = &request.response_format {
        if format.get("type").and_then(Value::as_str) != Some("text") {
            return Err(ProviderError::Unsupported("response_format (JSON mode) is not supported by Anthropic".into()));
        }
    }
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for (index, message) in request.messages.iter().enumerate() {
        let (role, blocks) = match message.role {
            Role::System | Role::Developer => {
                let text = message.text_content();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Role::User => ("user", user_blocks(message, index)?),
            Role::Assistant => ("assistant", assistant_blocks(message, index)?),
            // Anthropic carries tool results inside a user turn.
            Role::Tool => ("user", vec![tool_result_block(message, index)?]),
        };
        // Anthropic rejects empty turns and requires roles to alternate, so empty messages are
        // dropped and neighbours of the same role become one turn.
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(Message { role, content: blocks }),
        }
    }
    let tools = request.tools.iter().flatten().map(tool_definition).collect();
    let parallel_disabled = request.extra.get("parallel_tool_calls") == Some(&Value::Bool(false));
    let tool_choice = match &request.tool_choice {
        Some(choice) => Some(tool_choice(choice, parallel_disabled)?),
        None if parallel_disabled && request.tools.is_some() => {
            Some(json!({"type": "auto", "disable_parallel_tool_use": true}))
        }
        None => None,
    };
    Ok(MessagesRequest {
        model: request.model.clone(),
        max_tokens: request.output_token_limit().unwrap_or(DEFAULT_MAX_TOKENS),
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        temperature: request.temperature,
        top_p: request.top_p,
        stop_sequences: request.stop_sequences(),
        tools,
        tool_choice,
        metadata: request.user.as_ref().map(|user| json!({"user_id": user})),
        stream,
    })
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn user_blocks(message: &ChatMessage, index: usize) -> Result<Vec<Value>, ProviderError> {
    match &message.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(nonempty_text(text)),
        Some(MessageContent::Parts(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for part in parts {
                match part {
                    ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                        blocks.extend(nonempty_text(text));
                    }
                    ContentPart::ImageUrl { image_url } => blocks.push(image_block(&image_url.url, index)?),
                    ContentPart::File { file } => blocks.push(document_block(file, index)?),
                    ContentPart::InputAudio { .. } => {
                        return Err(ProviderError::Unsupported("Anthropic does not accept audio input".into()));
                    }
                }
            }
            Ok(blocks)
        }
    }
}

/// Anthropic rejects empty text blocks.
fn nonempty_text(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![text_block(text)]
    }
}

/// `data:` URLs become base64 sources, http(s) URLs url sources.
fn image_block(url: &str, index: usize) -> Result<Value, ProviderError> {
    if let Some((media_type, data)) = parse_data_url(url, index)? {
        return Ok(json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(format!("messages[{index}]: an image URL must be a data: URL or an http(s) URL")))
}

/// A file part with inline data (a PDF) becomes a document block.
fn document_block(file: &Value, index: usize) -> Result<Value, ProviderError> {
    let data_url = file.get("file_data").and_then(Value::as_str).unwrap_or_default();
    match parse_data_url(data_url, index)? {
        Some((media_type, data)) => {
            Ok(json!({"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}))
        }
        None => Err(ProviderError::Unsupported(format!(
            "messages[{index}]: Anthropic takes files only as inline data (file_data), not by file_id"
        ))),
    }
}

/// Splits `data:<media type>;base64,<data>`; `None` when `url` is not a data URL.
fn parse_data_url(url: &str, index: usize) -> Result<Option<(&str, &str)>, ProviderError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(None);
    };
    let (meta, data) = rest.split_once(',').ok_or_else(|| invalid(format!("messages[{index}]: malformed data URL")))?;
    let media_type = meta
        .strip_suffix(";base64")
        .ok_or_else(|| invalid(format!("messages[{index}]: data URLs must be base64-encoded")))?;
    Ok(Some((media_type, data)))
}

fn assistant_blocks(message: &ChatMessage, index: usize) -> Result<Vec<Value>, ProviderError> {
    let mut blocks = match &message.content {
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|part| match part {
                ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => Some(text.as_str()),
                _ => None,
            })
            .flat_map(nonempty_text)
            .collect(),
        Some(MessageContent::Text(text)) => nonempty_text(text),
        None => Vec::new(),
    };
    for call in message.tool_calls.iter().flatten() {
        let arguments = call.function.arguments.trim();
        // Models sometimes emit an empty string for a call without arguments.
        let input: Value = if arguments.is_empty() {
            json!({})
        } else {
            serde_json::from_str(arguments).map_err(|err| {
                invalid(format!("messages[{index}]: arguments of tool call `{}` are not valid JSON: {err}", call.id))
            })?
        };
        if !input.is_object() {
            return Err(invalid(format!(
                "messages[{index}]: arguments of tool call `{}` must be a JSON object",
                call.id
            )));
        }
        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}));
    }
    Ok(blocks)
}

fn tool_result_block(message: &ChatMessage, index: usize) -> Result<Value, ProviderError> {
    let id = message
        .tool_call_id
        .as_deref()
        .ok_or_else(|| invalid(format!("messages[{index}]: a tool message needs tool_call_id")))?;
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": message.text_content()}))
}

fn tool_definition(tool: &Tool) -> Value {
    let mut definition = Map::new();
    definition.insert("name".into(), Value::from(tool.function.name.as_str()));
    if let Some(description) = &tool.function.description {
        definition.insert("description".into(), Value::from(description.as_str()));
    }
    // Anthropic requires a schema; OpenAI allows a tool without parameters.
    let schema = tool.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    definition.insert("input_schema".into(), schema);
    Value::Object(definition)
}

/// `auto`/`required`/`none`/`{function}` → `auto`/`any`/`none`/`tool`.
fn tool_choice(choice: &Value, parallel_disabled: bool) -> Result<Value, ProviderError> {
    let mut mapped = match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => return Ok(json!({"type": "none"})),
            other => return Err(invalid(format!("tool_choice `{other}` is not one of auto, required, none"))),
        },
        Value::Object(object) => {
            let name = object.get("function").and_then(|f| f.get("name")).and_then(Value::as_str).ok_or_else(|| {
                invalid("tool_choice must name a function: {\"type\":\"function\",\"function\":{\"name\":...}}")
            })?;
            json!({"type": "tool", "name": name})
        }
        _ => return Err(invalid("tool_choice must be a string or an object")),
    };
    if parallel_disabled {
        mapped["disable_parallel_tool_use"] = Value::Bool(true);
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ChatCompletionRequest {
        serde_json::from_value(body).unwrap()
    }

    fn translate(body: Value) -> Value {
        serde_json::to_value(messages_request(&request(body), false).unwrap()).unwrap()
    }

    #[test]
    fn hoists_system_and_merges_tool_results() {
        let out = translate(json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "weather in Paris and Rome?"},
                {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "t2", "type": "function", "function": {"name": "weather", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "t2", "content": "rain"},
                {"role": "user", "content": "thanks"}
            ]
        }));
        assert_eq!(out["system"], "be brief\n\nuse tools");
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(out.get("stream").is_none());
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "t2", "name": "weather", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                    {"type": "tool_result", "tool_use_id": "t2", "content": "rain"},
                    {"type": "text", "text": "thanks"}]}
            ])
        );
    }

    #[test]
    fn maps_parameters_tools_and_choices() {
        let out = translate(json!({
            "model": "claude", "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 100, "max_tokens": 5, "stop": ["END", "STOP"], "temperature": 0.5,
            "top_p": 0.9, "user": "u-1", "frequency_penalty": 1.0,
            "tools": [{"type": "function", "function": {"name": "f", "description": "does f",
                "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
                {"type": "function", "function": {"name": "g"}}],
            "tool_choice": {"type": "function", "function": {"name": "g"}}
        }));
        assert_eq!(out["max_tokens"], 100);
        assert_eq!(out["stop_sequences"], json!(["END", "STOP"]));
        assert_eq!(out["temperature"], 0.5);
        assert_eq!(out["metadata"], json!({"user_id": "u-1"}));
        assert!(out.get("frequency_penalty").is_none(), "unknown fields are not forwarded");
        assert_eq!(
            out["tools"][0],
            json!({"name": "f", "description": "does f",
            "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}}})
        );
        assert_eq!(out["tools"][1], json!({"name": "g", "input_schema": {"type": "object", "properties": {}}}));
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "g"}));
    }

    #[test]
    fn tool_choice_strings() {
        assert_eq!(tool_choice(&json!("auto"), false).unwrap(), json!({"type": "auto"}));
        assert_eq!(tool_choice(&json!("required"), false).unwrap(), json!({"type": "any"}));
        assert_eq!(tool_choice(&json!("none"), true).unwrap(), json!({"type": "none"}));
        assert_eq!(
            tool_choice(&json!("required"), true).unwrap(),
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert!(matches!(tool_choice(&json!("sometimes"), false), Err(ProviderError::InvalidRequest(_))));
        assert!(matches!(tool_choice(&json!({"type": "function"}), false), Err(ProviderError::InvalidRequest(_))));
    }

    #[test]
    fn images_become_base64_or_url_sources() {
        let out = translate(json!({
            "model": "claude", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}]
        }));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}])
        );
        let bad = request(json!({"model": "c", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}));
        assert!(matches!(messages_request(&bad, false), Err(ProviderError::InvalidRequest(_))));
    }

    #[test]
    fn adjacent_same_role_messages_are_merged() {
        let out = translate(json!({"model": "c", "messages": [
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"}, {"role": "assistant", "content": null}]}));
        assert_eq!(
            out["messages"],
            json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}]}])
        );
    }

    #[test]
    fn rejects_what_anthropic_cannot_express() {
        let bad_args = request(json!({"model": "c", "messages": [{"role": "assistant", "content": null,
            "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}));
        assert!(matches!(messages_request(&bad_args, false), Err(ProviderError::InvalidRequest(_))));
        let array_args = request(json!({"model": "c", "messages": [{"role": "assistant", "content": null,
            "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}));
        assert!(matches!(messages_request(&array_args, false), Err(ProviderError::InvalidRequest(_))));
        let no_id = request(json!({"model": "c", "messages": [{"role": "tool", "content": "x"}]}));
        assert!(matches!(messages_request(&no_id, false), Err(ProviderError::InvalidRequest(_))));
        let json_mode = request(json!({"model": "c", "messages": [], "response_format": {"type": "json_object"}}));
        assert!(matches!(messages_request(&json_mode, false), Err(ProviderError::Unsupported(_))));
        let many = request(json!({"model": "c", "messages": [], "n": 2}));
        assert!(matches!(messages_request(&many, false), Err(ProviderError::Unsupported(_))));
    }

    #[test]
    fn stream_flag_and_parallel_tool_calls() {
        let req = request(json!({"model": "c", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "parallel_tool_calls": false}));
        let out = serde_json::to_value(messages_request(&req, true).unwrap()).unwrap();
        assert_eq!(out["stream"], true);
        assert_eq!(out["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    }
}
