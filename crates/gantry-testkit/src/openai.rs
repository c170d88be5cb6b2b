//! The OpenAI Chat Completions and Embeddings wire format, as the API reference documents it.

use crate::wire::{self, data_event, quarters, word_pieces, Answer, Ctx, Step};
use crate::{Reply, TOOL_CALL_COMPLETION_TOKENS, TOOL_CALL_PROMPT_TOKENS};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::time::Duration;

/// The answer to `POST /v1/chat/completions`.
pub(crate) fn chat(ctx: &Ctx, reply: Reply) -> Answer {
    match reply {
        Reply::Text { text, prompt_tokens, completion_tokens } => {
            let usage = usage(prompt_tokens, completion_tokens);
            if ctx.stream {
                let mut steps = vec![chunk(ctx, json!({"role": "assistant", "content": "", "refusal": null}), None)];
                steps.extend(word_pieces(&text).into_iter().map(|piece| chunk(ctx, json!({"content": piece}), None)));
                stream_end(ctx, steps, "stop", usage)
            } else {
                let message = json!({"role": "assistant", "content": text, "refusal": null});
                wire::json_response(&completion(ctx, message, "stop", usage))
            }
        }
        Reply::ToolCall { name, arguments } => {
            let usage = usage(TOOL_CALL_PROMPT_TOKENS, TOOL_CALL_COMPLETION_TOKENS);
            let call_id = format!("call_mock_{}", ctx.id);
            if ctx.stream {
                let first = json!({"role": "assistant", "content": null, "tool_calls": [{
                    "index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]});
                let mut steps = vec![chunk(ctx, first, None)];
                steps.extend(quarters(&arguments).into_iter().map(|piece| {
                    chunk(ctx, json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), None)
                }));
                stream_end(ctx, steps, "tool_calls", usage)
            } else {
                let message = json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                    "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]});
                wire::json_response(&completion(ctx, message, "tool_calls", usage))
            }
        }
        Reply::StreamStall { first_text, stall_ms } => {
            let first = if ctx.stream {
                vec![
                    chunk(ctx, json!({"role": "assistant", "content": ""}), None),
                    chunk(ctx, json!({"content": first_text}), None),
                ]
            } else {
                // A non-streamed answer cut off part-way through its JSON.
                vec![Step::Frame(Bytes::from(format!("{{\"id\":\"chatcmpl-mock-{}\",\"object\":", ctx.id)))]
            };
            let content_type = if ctx.stream { wire::EVENT_STREAM } else { wire::JSON };
            let mut steps = first;
            steps.extend([Step::Pause(Duration::from_millis(stall_ms)), Step::Abort]);
            Answer::Stream { status: StatusCode::OK, content_type, steps }
        }
        other => Answer::Full(wire::error_response(
            crate::Flavor::OpenAi,
            500,
            None,
            &format!("mock upstream: {other:?} is not a chat reply"),
        )),
    }
}

fn usage(prompt_tokens: u32, completion_tokens: u32) -> Value {
    json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens})
}

fn completion(ctx: &Ctx, message: Value, finish_reason: &str, usage: Value) -> Value {
    json!({
        "id": format!("chatcmpl-mock-{}", ctx.id),
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": usage,
        "system_fingerprint": null
    })
}

/// One `chat.completion.chunk`; with `include_usage` every chunk carries `"usage": null`.
fn chunk(ctx: &Ctx, delta: Value, finish_reason: Option<&str>) -> Step {
    let mut value = json!({
        "id": format!("chatcmpl-mock-{}", ctx.id),
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
        "system_fingerprint": null,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    });
    if ctx.include_usage {
        value["usage"] = Value::Null;
    }
    data_event(&value)
}

/// The finish chunk, the usage chunk when asked for, and `[DONE]`.
fn stream_end(ctx: &Ctx, mut steps: Vec<Step>, finish_reason: &str, usage: Value) -> Answer {
    steps.push(chunk(ctx, json!({}), Some(finish_reason)));
    if ctx.include_usage {
        steps.push(data_event(&json!({
            "id": format!("chatcmpl-mock-{}", ctx.id),
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "system_fingerprint": null,
            "choices": [],
            "usage": usage
        })));
    }
    steps.push(Step::Frame(Bytes::from_static(b"data: [DONE]\n\n")));
    Answer::Stream { status: StatusCode::OK, content_type: wire::EVENT_STREAM, steps }
}

/// The answer to `POST /v1/embeddings`: one unit vector per input, derived from its text.
pub(crate) fn embeddings(ctx: &Ctx, body: &Value, dims: usize) -> Response {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => {
            items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_string)).collect()
        }
        _ => Vec::new(),
    };
    let tokens: usize = inputs.iter().map(|text| text.split_whitespace().count().max(1)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": vector(text, dims)}))
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    });
    wire::full_response(200, wire::JSON, body.to_string(), &[])
}

/// A deterministic unit vector: FNV-1a of the text seeds a xorshift sequence.
fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut state =
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let raw: Vec<f32> = (0..dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    raw.into_iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = vector("hello", 16);
        assert_eq!(a, vector("hello", 16));
        assert_ne!(a, vector("world", 16));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
