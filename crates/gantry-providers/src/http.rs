//! HTTP plumbing shared by the remote providers: the client, error mapping, `Retry-After`,
//! and the driver that turns an event-stream body into a `ChunkStream`.

use crate::sse::{sse_events, SseError, SseEvent};
use crate::{ChunkStream, ProviderError};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use gantry_types::ChatCompletionChunk;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::error::Error as _;
use std::time::{Duration, SystemTime};

/// Upstream error messages longer than this are cut: they end up in traces and client errors.
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;
/// How much of an unparsable body an `InvalidResponse` quotes.
const MAX_BODY_SNIPPET_CHARS: usize = 200;

/// A client for one upstream; no overall request timeout, since the gateway times the call.
pub(crate) fn build_client(connect_timeout: Duration, headers: HeaderMap) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .map_err(|err| config_error(format!("could not build the HTTP client: {}", describe(&err))))
}

/// A provider configuration that cannot work.
pub(crate) fn config_error(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Internal(format!("invalid provider configuration: {message}"))
}

/// A header from configuration; secrets are marked sensitive so they never show in debug output.
pub(crate) fn header(name: &str, value: &str, secret: bool) -> Result<(HeaderName, HeaderValue), ProviderError> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| config_error(format!("`{name}` is not a valid header name")))?;
    // The value is not quoted in the error: it may be a key.
    let mut header_value = HeaderValue::from_str(value)
        .map_err(|_| config_error(format!("the value of header `{name}` has characters a header cannot carry")))?;
    header_value.set_sensitive(secret);
    Ok((header_name, header_value))
}

/// POSTs `body` as JSON; a non-2xx answer becomes `ProviderError::Upstream`.
pub(crate) async fn post_json<T: Serialize + ?Sized>(
    client: &reqwest::Client,
    url: &str,
    body: &T,
) -> Result<reqwest::Response, ProviderError> {
    let response = client.post(url).json(body).send().await.map_err(from_reqwest)?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(upstream_error(response).await)
    }
}

/// Reads a whole response body.
pub(crate) async fn read_body(response: reqwest::Response) -> Result<Bytes, ProviderError> {
    response.bytes().await.map_err(from_reqwest)
}

/// Parses a JSON body, quoting its start when it does not parse.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|err| invalid_body(&err, body))
}

/// `InvalidResponse` for a body that did not parse.
pub(crate) fn invalid_body(err: &serde_json::Error, body: &[u8]) -> ProviderError {
    ProviderError::InvalidResponse(format!("{err}; body starts with: {}", snippet(body)))
}

/// Maps a transport failure to the error kinds the router distinguishes.
pub(crate) fn from_reqwest(err: reqwest::Error) -> ProviderError {
    let message = describe(&err);
    if err.is_timeout() {
        ProviderError::Timeout(message)
    } else if err.is_connect() {
        ProviderError::Connect(message)
    } else if err.is_decode() {
        ProviderError::InvalidResponse(message)
    } else if err.is_builder() {
        ProviderError::InvalidRequest(message)
    } else {
        // Request and body errors: the connection failed part-way through the exchange.
        ProviderError::Connect(message)
    }
}

/// The error and its causes on one line; reqwest's own message alone rarely says what failed.
fn describe(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Builds `Upstream` from an error response: its status, `Retry-After`, and message.
pub(crate) async fn upstream_error(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let message = match response.bytes().await {
        Ok(body) => error_message(&body),
        Err(err) => format!("(the error body could not be read: {})", describe(&err)),
    };
    tracing::debug!(status, %message, "upstream error");
    ProviderError::Upstream { status, message, retry_after }
}

/// The message of an error body: `error.message` (OpenAI, Anthropic, vLLM), a bare `error`
/// string (Ollama, TGI) or a top-level `message`/`detail`; otherwise the body text.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let error = value.get("error");
        let found = error
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .or_else(|| error.and_then(Value::as_str))
            .or_else(|| value.get("message").and_then(Value::as_str))
            .or_else(|| value.get("detail").and_then(Value::as_str));
        if let Some(message) = found {
            return truncate(message, MAX_ERROR_MESSAGE_CHARS);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate(text, MAX_ERROR_MESSAGE_CHARS)
    }
}

/// The wait an upstream asks for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or
/// as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `text` cut to at most `max` characters, marked when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    format!("{:?}", truncate(text.trim(), MAX_BODY_SNIPPET_CHARS))
}

/// Rejects a 2xx answer to a streaming request that is a JSON document instead of a stream.
pub(crate) async fn expect_event_stream(response: reqwest::Response) -> Result<reqwest::Response, ProviderError> {
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Ok(response);
    }
    let body = read_body(response).await?;
    Err(ProviderError::InvalidResponse(format!("expected an event stream, got a JSON body: {}", snippet(&body))))
}

/// Whether to keep reading events after the one just translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Done,
}

/// Translates one provider's stream events into OpenAI chunks.
pub(crate) trait EventTranslator: Send + 'static {
    /// Handles one event, pushing the chunks it yields onto `out`.
    fn on_event(&mut self, event: SseEvent, out: &mut VecDeque<ChatCompletionChunk>) -> Result<Flow, ProviderError>;

    /// The body ended before the terminal event: the error to report, if that is one.
    fn on_eof(&mut self) -> Option<ProviderError>;
}

type EventStream = BoxStream<'static, Result<SseEvent, SseError<reqwest::Error>>>;

struct Driver<T> {
    events: Option<EventStream>,
    translator: T,
    chunks: VecDeque<ChatCompletionChunk>,
    failure: Option<ProviderError>,
}

/// Streams the chunks `translator` makes of `response`'s events; dropping the stream drops the
/// connection, which is how cancellation reaches the upstream.
///
/// The first chunk is awaited here, so a stream that fails before producing anything (e.g. an
/// `overloaded` error event right after the 200) is an `Err` the router can still retry.
pub(crate) async fn chunk_stream<T: EventTranslator>(
    response: reqwest::Response,
    translator: T,
) -> Result<ChunkStream, ProviderError> {
    let mut chunks = translated(response, translator);
    match chunks.next().await {
        Some(Ok(first)) => Ok(futures::stream::once(async { Ok(first) }).chain(chunks).boxed()),
        Some(Err(err)) => Err(err),
        None => Ok(chunks),
    }
}

fn translated<T: EventTranslator>(response: reqwest::Response, translator: T) -> ChunkStream {
    let events: EventStream = sse_events(response.bytes_stream()).boxed();
    let driver = Driver { events: Some(events), translator, chunks: VecDeque::new(), failure: None };
    futures::stream::unfold(driver, |mut driver| async move {
        loop {
            if let Some(chunk) = driver.chunks.pop_front() {
                return Some((Ok(chunk), driver));
            }
            if let Some(err) = driver.failure.take() {
                return Some((Err(err), driver));
            }
            let events = driver.events.as_mut()?;
            match events.next().await {
                Some(Ok(event)) => match driver.translator.on_event(event, &mut driver.chunks) {
                    Ok(Flow::Continue) => {}
                    // Dropping the body here still lets hyper read its already-buffered end
                    // and pool the connection (checked by the integration tests).
                    Ok(Flow::Done) => driver.events = None,
                    Err(err) => {
                        driver.events = None;
                        driver.failure = Some(err);
                    }
                },
                Some(Err(err)) => {
                    driver.events = None;
                    driver.failure = Some(match err {
                        SseError::Source(err) => from_reqwest(err),
                        SseError::InvalidUtf8(err) => ProviderError::InvalidResponse(err.to_string()),
                    });
                }
                None => {
                    driver.events = None;
                    driver.failure = driver.translator.on_eof();
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_reads_the_known_shapes() {
        let openai = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":null}}"#;
        assert_eq!(error_message(openai), "Rate limit reached");
        let anthropic = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_message(anthropic), "Overloaded");
        assert_eq!(error_message(br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(error_message(br#"{"object":"error","message":"bad"}"#), "bad");
        assert_eq!(error_message(b"  <html>502 Bad Gateway</html>\n"), "<html>502 Bad Gateway</html>");
        assert_eq!(error_message(b""), "(empty body)");
        let long = "x".repeat(5000);
        assert_eq!(error_message(long.as_bytes()).chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
    }

    #[test]
    fn retry_after_accepts_seconds_dates_and_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        headers.insert("retry-after", HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_millis(1500)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("日本語", 2), "日本…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn header_errors_do_not_quote_the_value() {
        let err = header("x-api-key", "sk-secret\nvalue", true).unwrap_err();
        assert!(!err.to_string().contains("sk-secret"), "{err}");
        let (_, value) = header("x-api-key", "sk-secret", true).unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("sk-secret"));
    }
}
