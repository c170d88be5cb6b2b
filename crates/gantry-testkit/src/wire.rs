//! What both flavours share: response building, streamed bodies, error bodies, text splitting.

use crate::{DisconnectGuard, Flavor, Shared};
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
pub(crate) const JSON: &str = "application/json";

/// What the request asked for, and the ids its answer carries.
pub(crate) struct Ctx {
    pub id: u64,
    pub created: i64,
    pub model: String,
    pub stream: bool,
    /// OpenAI's `stream_options.include_usage`.
    pub include_usage: bool,
}

impl Ctx {
    pub(crate) fn new(shared: &Shared, body: &Value) -> Self {
        Ctx {
            id: shared.next_id(),
            created: gantry_types::unix_now(),
            model: body.get("model").and_then(Value::as_str).unwrap_or("mock-model").to_string(),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

/// One step of a streamed body.
pub(crate) enum Step {
    /// Bytes written as one body frame.
    Frame(Bytes),
    /// A wait before the next step.
    Pause(Duration),
    /// Ends the body with an error, which makes the server drop the connection mid-body.
    Abort,
}

/// A mock's answer: complete, or a body that unfolds step by step.
pub(crate) enum Answer {
    Full(Response),
    Stream { status: StatusCode, content_type: &'static str, steps: Vec<Step> },
}

/// A response with a complete body.
pub(crate) fn full_response(
    status: u16,
    content_type: &str,
    body: impl Into<Body>,
    extra: &[(&str, &str)],
) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).expect("valid response parts")
}

/// A 200 JSON response.
pub(crate) fn json_response(value: &Value) -> Answer {
    Answer::Full(full_response(200, JSON, value.to_string(), &[]))
}

/// A response whose body follows `steps`; `guard` counts a disconnect if the body is dropped
/// before its last frame was handed to the server.
pub(crate) fn stream_response(
    status: StatusCode,
    content_type: &'static str,
    steps: Vec<Step>,
    guard: DisconnectGuard,
) -> Response {
    let body = futures::stream::unfold((steps.into_iter(), guard), |(mut steps, mut guard)| async move {
        loop {
            match steps.next() {
                Some(Step::Frame(bytes)) => {
                    if steps.len() == 0 {
                        guard.disarm();
                    }
                    return Some((Ok(bytes), (steps, guard)));
                }
                Some(Step::Pause(wait)) => tokio::time::sleep(wait).await,
                Some(Step::Abort) => {
                    guard.disarm();
                    let err = std::io::Error::other("mock upstream: scripted disconnect");
                    return Some((Err(err), (steps, guard)));
                }
                None => {
                    guard.disarm();
                    return None;
                }
            }
        }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .expect("valid response parts")
}

/// The flavour's error body with `status`, and `Retry-After` when given.
pub(crate) fn error_response(flavor: Flavor, status: u16, retry_after: Option<&str>, message: &str) -> Response {
    let body = match flavor {
        Flavor::OpenAi => json!({
            "error": {"message": message, "type": openai_error_type(status), "param": null, "code": null}
        }),
        Flavor::Anthropic => json!({
            "type": "error",
            "error": {"type": anthropic_error_type(status), "message": message},
            "request_id": "req_mock"
        }),
    };
    let extra: Vec<(&str, &str)> = retry_after.map(|value| ("retry-after", value)).into_iter().collect();
    full_response(status, JSON, body.to_string(), &extra)
}

fn openai_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        500.. => "server_error",
        _ => "invalid_request_error",
    }
}

/// The error types Anthropic documents for each status.
pub(crate) fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500.. => "api_error",
        _ => "invalid_request_error",
    }
}

/// `data: <json>\n\n`.
pub(crate) fn data_event(value: &Value) -> Step {
    Step::Frame(Bytes::from(format!("data: {value}\n\n")))
}

/// `event: <name>\ndata: <json>\n\n`.
pub(crate) fn named_event(name: &str, value: &Value) -> Step {
    Step::Frame(Bytes::from(format!("event: {name}\ndata: {value}\n\n")))
}

/// Splits text the way a model streams it: word by word (each piece keeps its trailing
/// whitespace), long words in pieces of at most 8 characters.
pub(crate) fn word_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for word in text.split_inclusive(char::is_whitespace) {
        let chars: Vec<char> = word.chars().collect();
        pieces.extend(chars.chunks(8).map(|c| c.iter().collect::<String>()));
    }
    pieces
}

/// Splits `text` into about four pieces at character boundaries.
pub(crate) fn quarters(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(4).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_rejoin_to_the_text() {
        let text = "Hello, wonderful world! caf\u{e9} \u{65e5}\u{672c}\u{8a9e}\u{3067}\u{3059}\u{3088}\u{306d}\u{3048}\u{1F600}";
        let pieces = word_pieces(text);
        assert!(pieces.len() >= 5, "{pieces:?}");
        assert_eq!(pieces.concat(), text);
        assert_eq!(quarters("{\"a\":1}").concat(), "{\"a\":1}");
        assert_eq!(quarters("{\"city\":\"Paris\"}").len(), 4);
        assert!(word_pieces("").is_empty());
    }
}
