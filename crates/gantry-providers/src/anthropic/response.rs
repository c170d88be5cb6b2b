//! Anthropic Messages responses and stream events → OpenAI completions and chunks.

use crate::http::{EventTranslator, Flow};
use crate::sse::SseEvent;
use crate::ProviderError;
use gantry_types::{
    ChatChoice, ChatCompletion, ChatCompletionChunk, ChatMessage, ChunkDelta, FinishReason, FunctionCall,
    FunctionCallDelta, MessageContent, Role, ToolCall, ToolCallDelta, ToolKind, Usage,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};

/// The body of a non-streamed Messages response.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesResponse {
    id: String,
    model: String,
    content: Vec<ContentBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// Thinking, server tool results and blocks added to the API later carry no OpenAI field.
    #[serde(other)]
    Other,
}

/// Token counts; cache reads and writes are prompt tokens too, billed at other rates.
#[derive(Debug, Default, Deserialize)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u32>,
    #[serde(default)]
    output_tokens: Option<u32>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u32>,
    #[serde(default)]
    cache_read_input_tokens: Option<u32>,
}

impl AnthropicUsage {
    /// Input tokens of every kind, if any were reported.
    fn prompt_tokens(&self) -> Option<u32> {
        let parts = [self.input_tokens, self.cache_creation_input_tokens, self.cache_read_input_tokens];
        parts.iter().any(Option::is_some).then(|| parts.iter().flatten().sum())
    }
}

/// Maps `stop_reason`; reasons Anthropic may add later read as a normal stop.
fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// The OpenAI completion a Messages response spells.
pub(crate) fn to_completion(response: MessagesResponse) -> ChatCompletion {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            // Joined without separator, as the streamed deltas of the same blocks would be.
            ContentBlock::Text { text: part } => text.push_str(&part),
            ContentBlock::ToolUse { id, name, input } => {
                let arguments = if input.is_null() { "{}".to_string() } else { input.to_string() };
                tool_calls.push(ToolCall { id, kind: ToolKind::Function, function: FunctionCall { name, arguments } });
            }
            ContentBlock::Other => {}
        }
    }
    let message = ChatMessage {
        role: Role::Assistant,
        content: (!text.is_empty() || tool_calls.is_empty()).then_some(MessageContent::Text(text)),
        name: None,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        tool_call_id: None,
        refusal: None,
    };
    let usage = Usage::new(response.usage.prompt_tokens().unwrap_or(0), response.usage.output_tokens.unwrap_or(0));
    ChatCompletion {
        id: response.id,
        object: "chat.completion".to_string(),
        created: gantry_types::unix_now(),
        model: response.model,
        choices: vec![ChatChoice {
            index: 0,
            message,
            finish_reason: response.stop_reason.as_deref().map(finish_reason),
            logprobs: None,
        }],
        usage: Some(usage),
        system_fingerprint: None,
    }
}

/// The HTTP status Anthropic documents for each error type, for errors that arrive as events.
fn status_for_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: AnthropicUsage,
    },
    MessageStop,
    Error {
        error: ErrorDetail,
    },
    /// `ping` and event types added to the API later.
    #[serde(other)]
    Ignored,
}

#[derive(Debug, Deserialize)]
struct StartedMessage {
    id: String,
    model: String,
    #[serde(default)]
    usage: AnthropicUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// Thinking and signature deltas have no OpenAI counterpart.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// A tool_use block in progress.
#[derive(Debug)]
struct OpenToolCall {
    /// The OpenAI tool-call index: how many tool_use blocks came before it.
    index: u32,
    sent_arguments: bool,
}

/// Turns the Messages event sequence into OpenAI chunks, ending with a usage-only chunk.
#[derive(Debug, Default)]
pub(crate) struct AnthropicEvents {
    id: String,
    model: String,
    created: i64,
    prompt_tokens: u32,
    completion_tokens: u32,
    tool_calls_seen: u32,
    open_tools: HashMap<usize, OpenToolCall>,
}

impl AnthropicEvents {
    /// A translator for one stream.
    pub(crate) fn new() -> Self {
        Self { created: gantry_types::unix_now(), ..Self::default() }
    }

    fn chunk(&self, delta: ChunkDelta, finish_reason: Option<FinishReason>) -> ChatCompletionChunk {
        ChatCompletionChunk::delta(&self.id, self.created, &self.model, delta, finish_reason)
    }

    fn tool_delta(&self, delta: ToolCallDelta) -> ChatCompletionChunk {
        self.chunk(ChunkDelta { tool_calls: Some(vec![delta]), ..ChunkDelta::default() }, None)
    }

    fn arguments_delta(&self, index: u32, arguments: String) -> ChatCompletionChunk {
        self.tool_delta(ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: Some(FunctionCallDelta { name: None, arguments: Some(arguments) }),
        })
    }

    fn text(&self, text: String) -> ChatCompletionChunk {
        self.chunk(ChunkDelta { content: Some(text), ..ChunkDelta::default() }, None)
    }
}

impl EventTranslator for AnthropicEvents {
    fn on_event(&mut self, event: SseEvent, out: &mut VecDeque<ChatCompletionChunk>) -> Result<Flow, ProviderError> {
        let parsed: StreamEvent =
            serde_json::from_str(&event.data).map_err(|err| crate::http::invalid_body(&err, event.data.as_bytes()))?;
        match parsed {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.prompt_tokens = message.usage.prompt_tokens().unwrap_or(0);
                self.completion_tokens = message.usage.output_tokens.unwrap_or(0);
                let delta =
                    ChunkDelta { role: Some(Role::Assistant), content: Some(String::new()), ..ChunkDelta::default() };
                out.push_back(self.chunk(delta, None));
            }
            StreamEvent::ContentBlockStart { index, content_block } => match content_block {
                ContentBlock::Text { text } if !text.is_empty() => out.push_back(self.text(text)),
                ContentBlock::ToolUse { id, name, .. } => {
                    let tool_index = self.tool_calls_seen;
                    self.tool_calls_seen += 1;
                    self.open_tools.insert(index, OpenToolCall { index: tool_index, sent_arguments: false });
                    out.push_back(self.tool_delta(ToolCallDelta {
                        index: tool_index,
                        id: Some(id),
                        kind: Some(ToolKind::Function),
                        function: Some(FunctionCallDelta { name: Some(name), arguments: Some(String::new()) }),
                    }));
                }
                ContentBlock::Text { .. } | ContentBlock::Other => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => out.push_back(self.text(text)),
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    let tool = self.open_tools.get_mut(&index).ok_or_else(|| {
                        ProviderError::InvalidResponse(format!(
                            "input_json_delta for block {index}, not a tool_use block"
                        ))
                    })?;
                    tool.sent_arguments = true;
                    let tool_index = tool.index;
                    out.push_back(self.arguments_delta(tool_index, partial_json));
                }
                _ => {}
            },
            StreamEvent::ContentBlockStop { index } => {
                // A call without arguments streams no JSON at all; "{}" keeps the accumulated
                // arguments parseable, as in the non-streamed translation.
                if let Some(tool) = self.open_tools.remove(&index) {
                    if !tool.sent_arguments {
                        out.push_back(self.arguments_delta(tool.index, "{}".to_string()));
                    }
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                // message_delta usage is cumulative, so it replaces what message_start said.
                if let Some(output) = usage.output_tokens {
                    self.completion_tokens = output;
                }
                if let Some(prompt) = usage.prompt_tokens() {
                    self.prompt_tokens = prompt;
                }
                if let Some(reason) = delta.stop_reason.as_deref() {
                    out.push_back(self.chunk(ChunkDelta::default(), Some(finish_reason(reason))));
                }
            }
            StreamEvent::MessageStop => {
                let usage = Usage::new(self.prompt_tokens, self.completion_tokens);
                out.push_back(ChatCompletionChunk::usage_only(&self.id, self.created, &self.model, usage));
                return Ok(Flow::Done);
            }
            StreamEvent::Error { error } => {
                return Err(ProviderError::Upstream {
                    status: status_for_error_type(&error.kind),
                    message: crate::http::truncate(&error.message, 1000),
                    retry_after: None,
                });
            }
            StreamEvent::Ignored => {}
        }
        Ok(Flow::Continue)
    }

    fn on_eof(&mut self) -> Option<ProviderError> {
        Some(ProviderError::InvalidResponse("the event stream ended before message_stop".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::ChunkAccumulator;
    use serde_json::json;

    #[test]
    fn completion_from_text_and_tool_use() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Let me check. "},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 2, "output_tokens": 7}
        });
        let completion = to_completion(serde_json::from_value(body).unwrap());
        assert_eq!(completion.id, "msg_1");
        assert_eq!(completion.model, "claude-x");
        assert_eq!(completion.object, "chat.completion");
        let choice = &completion.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(choice.message.text_content(), "Let me check. ");
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!((calls[0].id.as_str(), calls[0].function.name.as_str()), ("toolu_1", "weather"));
        assert_eq!(serde_json::from_str::<Value>(&calls[0].function.arguments).unwrap(), json!({"city": "Paris"}));
        assert_eq!(completion.usage, Some(Usage::new(17, 7)));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason("end_turn"), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("max_tokens"), FinishReason::Length);
        assert_eq!(finish_reason("tool_use"), FinishReason::ToolCalls);
        assert_eq!(finish_reason("refusal"), FinishReason::ContentFilter);
    }

    fn run(events: &[Value]) -> (Vec<ChatCompletionChunk>, Result<(), ProviderError>) {
        let mut translator = AnthropicEvents::new();
        let mut out = VecDeque::new();
        for event in events {
            let sse = SseEvent { event: event["type"].as_str().map(str::to_string), data: event.to_string() };
            match translator.on_event(sse, &mut out) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Done) => return (out.into(), Ok(())),
                Err(err) => return (out.into(), Err(err)),
            }
        }
        (out.into(), Err(translator.on_eof().unwrap()))
    }

    #[test]
    fn stream_of_text_and_two_tools() {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_2", "type": "message", "role": "assistant",
                "model": "claude-x", "content": [], "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "a", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"x\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t2", "name": "b", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 30}}),
            json!({"type": "message_stop"}),
        ];
        let (chunks, end) = run(&events);
        end.unwrap();
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        let mut acc = ChunkAccumulator::default();
        chunks.iter().for_each(|c| acc.push(c));
        assert_eq!(acc.content, "Checking");
        assert_eq!(acc.id.as_deref(), Some("msg_2"));
        assert_eq!(acc.tool_calls.len(), 2);
        assert_eq!((acc.tool_calls[0].id.as_str(), acc.tool_calls[0].function.arguments.as_str()), ("t1", "{\"x\":1}"));
        assert_eq!(
            (acc.tool_calls[1].function.name.as_str(), acc.tool_calls[1].function.arguments.as_str()),
            ("b", "{}")
        );
        assert_eq!(acc.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(acc.usage, Some(Usage::new(12, 30)));
        let last = chunks.last().unwrap();
        assert!(last.choices.is_empty() && last.usage.is_some(), "ends with a usage-only chunk");
    }

    #[test]
    fn error_event_and_truncated_stream() {
        let (_, end) = run(&[json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]);
        let err = end.unwrap_err();
        assert!(matches!(err, ProviderError::Upstream { status: 529, ref message, .. } if message == "Overloaded"));
        assert!(err.is_retryable());
        let (chunks, end) = run(&[json!({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {}}})]);
        assert_eq!(chunks.len(), 1);
        assert!(matches!(end, Err(ProviderError::InvalidResponse(_))));
    }
}
