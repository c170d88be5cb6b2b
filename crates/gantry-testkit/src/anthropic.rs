//! Anthropic's Messages API wire format, including its streaming event sequence, as documented.

use crate::wire::{self, named_event, quarters, word_pieces, Answer, Ctx, Step};
use crate::{Flavor, Reply, TOOL_CALL_COMPLETION_TOKENS, TOOL_CALL_PROMPT_TOKENS};
use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// The answer to `POST /v1/messages`.
pub(crate) fn chat(ctx: &Ctx, reply: Reply) -> Answer {
    match reply {
        Reply::Text { text, prompt_tokens, completion_tokens } => {
            if ctx.stream {
                let mut steps = start(ctx, prompt_tokens);
                steps.push(block_start(0, json!({"type": "text", "text": ""})));
                steps.push(named_event("ping", &json!({"type": "ping"})));
                steps.extend(
                    word_pieces(&text)
                        .into_iter()
                        .map(|piece| block_delta(0, json!({"type": "text_delta", "text": piece}))),
                );
                steps.push(block_stop(0));
                finish(steps, "end_turn", completion_tokens)
            } else {
                let content = json!([{"type": "text", "text": text}]);
                wire::json_response(&message(ctx, content, "end_turn", prompt_tokens, completion_tokens))
            }
        }
        Reply::ToolCall { name, arguments } => {
            let tool_id = format!("toolu_mock_{}", ctx.id);
            if ctx.stream {
                let mut steps = start(ctx, TOOL_CALL_PROMPT_TOKENS);
                steps.push(block_start(0, json!({"type": "tool_use", "id": tool_id, "name": name, "input": {}})));
                steps.extend(
                    quarters(&arguments)
                        .into_iter()
                        .map(|piece| block_delta(0, json!({"type": "input_json_delta", "partial_json": piece}))),
                );
                steps.push(block_stop(0));
                finish(steps, "tool_use", TOOL_CALL_COMPLETION_TOKENS)
            } else {
                // Unparsable scripted arguments are sent as a string so a test can see them.
                let input = serde_json::from_str::<Value>(&arguments).unwrap_or(Value::String(arguments));
                let content = json!([{"type": "tool_use", "id": tool_id, "name": name, "input": input}]);
                let body = message(ctx, content, "tool_use", TOOL_CALL_PROMPT_TOKENS, TOOL_CALL_COMPLETION_TOKENS);
                wire::json_response(&body)
            }
        }
        Reply::StreamStall { first_text, stall_ms } => {
            let (content_type, mut steps) = if ctx.stream {
                let mut steps = start(ctx, 1);
                steps.push(block_start(0, json!({"type": "text", "text": ""})));
                steps.push(block_delta(0, json!({"type": "text_delta", "text": first_text})));
                (wire::EVENT_STREAM, steps)
            } else {
                let partial = format!("{{\"id\":\"msg_mock_{}\",\"type\":", ctx.id);
                (wire::JSON, vec![Step::Frame(Bytes::from(partial))])
            };
            steps.extend([Step::Pause(Duration::from_millis(stall_ms)), Step::Abort]);
            Answer::Stream { status: StatusCode::OK, content_type, steps }
        }
        other => Answer::Full(wire::error_response(
            Flavor::Anthropic,
            500,
            None,
            &format!("mock upstream: {other:?} is not a chat reply"),
        )),
    }
}

fn message(ctx: &Ctx, content: Value, stop_reason: &str, input_tokens: u32, output_tokens: u32) -> Value {
    json!({
        "id": format!("msg_mock_{}", ctx.id),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}
    })
}

/// `message_start`, which reports the input tokens (output_tokens starts at 1, as the API does).
fn start(ctx: &Ctx, input_tokens: u32) -> Vec<Step> {
    let mut started = message(ctx, json!([]), "", input_tokens, 1);
    started["stop_reason"] = Value::Null;
    vec![named_event("message_start", &json!({"type": "message_start", "message": started}))]
}

fn block_start(index: u32, block: Value) -> Step {
    named_event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": block}))
}

fn block_delta(index: u32, delta: Value) -> Step {
    named_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": delta}))
}

fn block_stop(index: u32) -> Step {
    named_event("content_block_stop", &json!({"type": "content_block_stop", "index": index}))
}

/// `message_delta` (stop reason, cumulative output tokens) and `message_stop`.
fn finish(mut steps: Vec<Step>, stop_reason: &str, output_tokens: u32) -> Answer {
    steps.push(named_event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
    ));
    steps.push(named_event("message_stop", &json!({"type": "message_stop"})));
    Answer::Stream { status: StatusCode::OK, content_type: wire::EVENT_STREAM, steps }
}
