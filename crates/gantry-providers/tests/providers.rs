//! The remote providers against mock upstreams that speak each provider's wire format.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::StreamExt;
use gantry_providers::{
    AnthropicConfig, AnthropicProvider, ChunkStream, OpenAiConfig, OpenAiProvider, Provider, ProviderError,
};
use gantry_testkit::{unreachable_base_url, Flavor, MockUpstream, Reply};
use gantry_types::{
    ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ChunkAccumulator, EmbeddingInput, EmbeddingRequest,
    FinishReason, Role, Usage,
};
use serde_json::{json, Value};
use std::time::Duration;

const FLAVORS: [Flavor; 2] = [Flavor::OpenAi, Flavor::Anthropic];
const WAIT: Duration = Duration::from_secs(5);

fn provider_for(flavor: Flavor, base_url: String) -> Box<dyn Provider> {
    match flavor {
        Flavor::OpenAi => {
            let mut config = OpenAiConfig::new(base_url);
            config.api_key = Some("sk-test-key".into());
            config.organization = Some("org-test".into());
            config.extra_headers = vec![("x-extra".into(), "yes".into())];
            Box::new(OpenAiProvider::new(config).unwrap())
        }
        Flavor::Anthropic => {
            let config =
                AnthropicConfig { base_url, api_key: Some("sk-ant-test".into()), ..AnthropicConfig::default() };
            Box::new(AnthropicProvider::new(config).unwrap())
        }
    }
}

async fn start(flavor: Flavor, script: Vec<Reply>) -> (MockUpstream, Box<dyn Provider>) {
    let mock = MockUpstream::start(flavor, script).await;
    let provider = provider_for(flavor, mock.base_url());
    (mock, provider)
}

fn ask(text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new("test-model", vec![ChatMessage::text(Role::User, text)])
}

/// Every item of a stream: the chunks folded, the chunks themselves, and the error that ended it.
async fn drain(mut stream: ChunkStream) -> (ChunkAccumulator, Vec<ChatCompletionChunk>, Option<ProviderError>) {
    let mut acc = ChunkAccumulator::default();
    let mut chunks = Vec::new();
    while let Some(item) = tokio::time::timeout(WAIT, stream.next()).await.expect("stream stalled") {
        match item {
            Ok(chunk) => {
                acc.push(&chunk);
                chunks.push(chunk);
            }
            Err(err) => {
                assert!(stream.next().await.is_none(), "nothing follows an error");
                return (acc, chunks, Some(err));
            }
        }
    }
    (acc, chunks, None)
}

#[tokio::test]
async fn plain_completion_with_usage() {
    for flavor in FLAVORS {
        let (mock, provider) = start(flavor, vec![Reply::text("Hello there, friend.", 7, 3)]).await;
        let completion = provider.chat(ask("hi")).await.unwrap();
        assert_eq!(completion.object, "chat.completion");
        assert_eq!(completion.model, "test-model");
        assert_eq!(completion.choices[0].message.text_content(), "Hello there, friend.");
        assert_eq!(completion.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(completion.usage, Some(Usage::new(7, 3)), "{flavor:?}");
        assert_eq!(mock.request_count(), 1);
        let body = &mock.requests()[0].body;
        assert!(body.get("stream").is_none_or(|s| s == false), "{flavor:?}: {body}");
        assert!(body.get("stream_options").is_none(), "{flavor:?}: {body}");
    }
}

#[tokio::test]
async fn streamed_text_reassembles_with_usage_last() {
    let text = "The quick brown fox jumps over the lazy dog, then naps in the afternoon sun. caf\u{e9} \u{1F98A}";
    for flavor in FLAVORS {
        let (mock, provider) = start(flavor, vec![Reply::text(text, 12, 20)]).await;
        let mut request = ask("tell me a story");
        request.stream = Some(true);
        let (acc, chunks, err) = drain(provider.chat_stream(request).await.unwrap()).await;
        assert!(err.is_none(), "{flavor:?}: {err:?}");
        assert!(chunks.len() > 5, "{flavor:?}: streamed in pieces");
        assert_eq!(acc.content, text);
        assert_eq!(acc.finish_reason, Some(FinishReason::Stop));
        assert_eq!(acc.usage, Some(Usage::new(12, 20)), "{flavor:?}");
        let last = chunks.last().unwrap();
        assert!(last.choices.is_empty() && last.usage.is_some(), "{flavor:?}: usage-only chunk last");
        let body = &mock.requests()[0].body;
        assert_eq!(body["stream"], true);
        if flavor == Flavor::OpenAi {
            assert_eq!(body["stream_options"], json!({"include_usage": true}), "usage always requested");
        }
    }
}

/// Exact bytes of a stream that spells `text` in one content delta.
fn raw_text_stream(flavor: Flavor, text: &str) -> Vec<u8> {
    let events = match flavor {
        Flavor::OpenAi => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            let usage = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}});
            [chunk(json!({"role": "assistant", "content": text}), Value::Null), chunk(json!({}), json!("stop")), usage]
                .iter()
                .map(|v| format!("data: {v}\n\n"))
                .chain(["data: [DONE]\n\n".to_string()])
                .collect::<String>()
        }
        Flavor::Anthropic => [
            json!({"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            json!({"type": "message_stop"}),
        ]
        .iter()
        .map(|v| format!("event: {}\r\ndata: {v}\r\n\r\n", v["type"].as_str().unwrap()))
        .collect::<String>(),
    };
    events.into_bytes()
}

#[tokio::test]
async fn multibyte_characters_split_across_network_chunks_arrive_intact() {
    let text = "caf\u{e9} \u{65e5}\u{672c} \u{1F600}";
    for flavor in FLAVORS {
        let body = raw_text_stream(flavor, text);
        // Cut inside the 2-byte "é", the 3-byte "日" and the 4-byte emoji.
        let cuts = [0xC3u8, 0xE6, 0xF0].map(|lead| body.iter().position(|b| *b == lead).unwrap() + 1);
        let mut chunks = Vec::new();
        let mut from = 0;
        for cut in cuts {
            chunks.push(body[from..cut].to_vec());
            from = cut;
        }
        chunks.push(body[from..].to_vec());
        let (_mock, provider) = start(flavor, vec![Reply::RawSse(chunks)]).await;
        let (acc, _, err) = drain(provider.chat_stream(ask("x")).await.unwrap()).await;
        assert!(err.is_none(), "{flavor:?}: {err:?}");
        assert_eq!(acc.content, text, "{flavor:?}");
        assert_eq!(acc.usage, Some(Usage::new(1, 2)), "{flavor:?}");
    }
}

#[tokio::test]
async fn streamed_tool_call_arrives_complete_and_in_order() {
    let arguments = r#"{"city":"Paris","unit":"celsius","days":[1,2,3]}"#;
    for flavor in FLAVORS {
        let (_mock, provider) = start(flavor, vec![Reply::tool_call("get_weather", arguments)]).await;
        let (acc, chunks, err) = drain(provider.chat_stream(ask("weather?")).await.unwrap()).await;
        assert!(err.is_none(), "{flavor:?}: {err:?}");
        let argument_deltas = chunks
            .iter()
            .flat_map(|c| c.choices.iter())
            .flat_map(|c| c.delta.tool_calls.iter().flatten())
            .filter(|d| d.function.as_ref().and_then(|f| f.arguments.as_deref()).is_some_and(|a| !a.is_empty()))
            .count();
        assert!(argument_deltas >= 3, "{flavor:?}: arguments arrive in several deltas");
        assert_eq!(acc.tool_calls.len(), 1);
        let call = &acc.tool_calls[0];
        assert!(!call.id.is_empty());
        assert_eq!(call.function.name, "get_weather");
        assert_eq!(call.function.arguments, arguments, "{flavor:?}: deltas concatenated in order");
        let parsed: Value = serde_json::from_str(&call.function.arguments).unwrap();
        assert_eq!(parsed["days"], json!([1, 2, 3]));
        assert_eq!(acc.finish_reason, Some(FinishReason::ToolCalls));
        assert!(acc.usage.is_some());
    }
}

#[tokio::test]
async fn non_streamed_tool_call() {
    for flavor in FLAVORS {
        let (_mock, provider) = start(flavor, vec![Reply::tool_call("lookup", r#"{"q":"rust"}"#)]).await;
        let completion = provider.chat(ask("search")).await.unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.name, "lookup");
        let arguments: Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
        assert_eq!(arguments, json!({"q": "rust"}), "{flavor:?}");
    }
}

#[tokio::test]
async fn anthropic_receives_translated_request() {
    let (mock, provider) = start(Flavor::Anthropic, vec![Reply::text("ok", 1, 1)]).await;
    let request: ChatCompletionRequest = serde_json::from_value(json!({
        "model": "claude-test",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "24C"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required",
        "stop": "END",
        "user": "user-42"
    }))
    .unwrap();
    provider.chat(request).await.unwrap();
    let received = &mock.requests()[0];
    assert_eq!(received.path, "/v1/messages");
    let body = &received.body;
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["system"], "You are terse.");
    assert_eq!(body["max_tokens"], 4096, "Anthropic requires max_tokens; defaulted");
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(
        body["tools"],
        json!([{"name": "weather", "description": "Current weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24C"}]}
        ])
    );
}

#[tokio::test]
async fn openai_request_passes_through_unknown_fields() {
    let (mock, provider) = start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    let mut request = ask("hi");
    request.extra.insert("frequency_penalty".into(), json!(0.25));
    request.stream_options = Some(gantry_types::StreamOptions { include_usage: Some(true) });
    provider.chat(request).await.unwrap();
    let received = &mock.requests()[0];
    assert_eq!(received.path, "/v1/chat/completions");
    assert_eq!(received.body["frequency_penalty"], 0.25);
    assert_eq!(received.body["stream"], false);
    assert!(received.body.get("stream_options").is_none(), "OpenAI rejects stream_options without stream");
}

#[tokio::test]
async fn auth_headers_are_sent() {
    let (openai, provider) = start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    provider.chat(ask("hi")).await.unwrap();
    let request = &openai.requests()[0];
    assert_eq!(request.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(request.header("openai-organization"), Some("org-test"));
    assert_eq!(request.header("x-extra"), Some("yes"));
    assert!(request.header("content-type").unwrap().starts_with("application/json"));

    let (anthropic, provider) = start(Flavor::Anthropic, vec![Reply::text("ok", 1, 1)]).await;
    provider.chat(ask("hi")).await.unwrap();
    let request = &anthropic.requests()[0];
    assert_eq!(request.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);

    let keyless = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    OpenAiProvider::new(OpenAiConfig::new(keyless.base_url())).unwrap().chat(ask("hi")).await.unwrap();
    assert_eq!(keyless.requests()[0].header("authorization"), None, "no key, no auth header");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    for flavor in FLAVORS {
        let limited = Reply::Error { status: 429, retry_after: Some("3".into()), message: "slow down".into() };
        let (_mock, provider) = start(flavor, vec![limited]).await;
        for streamed in [false, true] {
            let err = if streamed {
                provider.chat_stream(ask("hi")).await.err().unwrap()
            } else {
                provider.chat(ask("hi")).await.unwrap_err()
            };
            match &err {
                ProviderError::Upstream { status: 429, message, retry_after } => {
                    assert_eq!(message, "slow down", "{flavor:?}: the upstream's error.message");
                    assert_eq!(*retry_after, Some(Duration::from_secs(3)));
                }
                other => panic!("{flavor:?}: expected a 429, got {other:?}"),
            }
            assert!(err.is_retryable());
            assert_eq!(err.code(), "upstream_rate_limited");
        }
    }
}

#[tokio::test]
async fn server_errors_retry_and_client_errors_do_not() {
    for flavor in FLAVORS {
        let script = vec![Reply::error(500, "boom"), Reply::error(529, "Overloaded"), Reply::error(400, "bad field")];
        let (_mock, provider) = start(flavor, script).await;
        let err = provider.chat(ask("hi")).await.unwrap_err();
        assert_eq!(err.upstream_status(), Some(500));
        assert!(err.is_retryable());
        let err = provider.chat(ask("hi")).await.unwrap_err();
        assert_eq!(err.upstream_status(), Some(529));
        assert!(err.is_retryable(), "overloaded is retryable");
        let err = provider.chat(ask("hi")).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Upstream { status: 400, message, retry_after: None } if message == "bad field")
        );
        assert!(!err.is_retryable(), "{flavor:?}");
    }
}

#[tokio::test]
async fn connection_refused_is_connect() {
    for flavor in FLAVORS {
        let provider = provider_for(flavor, unreachable_base_url(flavor));
        let err = provider.chat(ask("hi")).await.unwrap_err();
        assert!(matches!(err, ProviderError::Connect(_)), "{flavor:?}: {err:?}");
        assert!(err.is_retryable());
        let err = provider.chat_stream(ask("hi")).await.err().unwrap();
        assert!(matches!(err, ProviderError::Connect(_)), "{flavor:?}: {err:?}");
    }
}

#[tokio::test]
async fn unparsable_bodies_are_invalid_response() {
    for flavor in FLAVORS {
        let garbage =
            Reply::RawBody { status: 200, content_type: "application/json".into(), body: b"{\"id\": oops".to_vec() };
        let (_mock, provider) = start(flavor, vec![garbage]).await;
        let err = provider.chat(ask("hi")).await.unwrap_err();
        assert!(matches!(&err, ProviderError::InvalidResponse(m) if m.contains("oops")), "{flavor:?}: {err:?}");
        let err = provider.chat_stream(ask("hi")).await.err().unwrap();
        assert!(matches!(err, ProviderError::InvalidResponse(_)), "{flavor:?}: a JSON body where a stream was asked");

        let bad_event = Reply::RawSse(vec![b"data: {not json}\n\n".to_vec()]);
        let (_mock, provider) = start(flavor, vec![bad_event]).await;
        let err = provider.chat_stream(ask("hi")).await.err().unwrap();
        assert!(matches!(err, ProviderError::InvalidResponse(_)), "{flavor:?}: {err:?}");
    }
}

#[tokio::test]
async fn error_event_mid_stream_is_an_error_item() {
    for flavor in FLAVORS {
        let mut body = raw_text_stream(flavor, "partial");
        let separator: &[u8] = if flavor == Flavor::OpenAi { b"\n\n" } else { b"\r\n\r\n" };
        let first_event_end = body.windows(separator.len()).position(|w| w == separator).unwrap();
        body.truncate(first_event_end + separator.len());
        let error = match flavor {
            Flavor::OpenAi => "data: {\"error\":{\"message\":\"model crashed\",\"type\":\"server_error\"}}\n\n",
            Flavor::Anthropic => {
                "event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"model crashed\"}}\r\n\r\n"
            }
        };
        let (_mock, provider) = start(flavor, vec![Reply::RawSse(vec![body, error.as_bytes().to_vec()])]).await;
        let (_, chunks, err) = drain(provider.chat_stream(ask("hi")).await.unwrap()).await;
        assert!(!chunks.is_empty(), "{flavor:?}: chunks before the error are delivered");
        match err {
            Some(ProviderError::Upstream { status, message, .. }) => {
                assert_eq!(message, "model crashed");
                assert!(status >= 500, "{flavor:?}: {status}");
            }
            other => panic!("{flavor:?}: expected an upstream error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn error_event_before_any_chunk_fails_the_call_itself() {
    let openai_error = r#"data: {"error":{"message":"busy","type":"server_error","code":503}}"#;
    let anthropic_error = r#"data: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
    let events = [
        (Flavor::OpenAi, format!("{openai_error}\n\n")),
        (Flavor::OpenAi, "event: error\ndata: busy\n\n".to_string()),
        (Flavor::Anthropic, format!("event: error\n{anthropic_error}\n\n")),
    ];
    for (flavor, event) in events {
        let script = vec![Reply::RawSse(vec![event.into_bytes()])];
        let (_mock, provider) = start(flavor, script).await;
        // Nothing reached the client yet, so the router can still retry or fall back.
        let err = provider.chat_stream(ask("hi")).await.err().unwrap();
        assert!(matches!(&err, ProviderError::Upstream { message, .. } if message == "busy"), "{err:?}");
        assert!(err.is_retryable(), "{flavor:?}: {err:?}");
    }
}

#[tokio::test]
async fn stream_cut_off_mid_body_ends_with_an_error() {
    for flavor in FLAVORS {
        let stall = Reply::StreamStall { first_text: "Once upon".into(), stall_ms: 20 };
        let (_mock, provider) = start(flavor, vec![stall]).await;
        let (acc, _, err) = drain(provider.chat_stream(ask("story")).await.unwrap()).await;
        assert_eq!(acc.content, "Once upon");
        let err = err.expect("a cut-off stream is an error, not a clean end");
        assert!(err.is_retryable(), "{flavor:?}: {err:?}");
    }
}

#[tokio::test]
async fn dropping_a_stream_or_call_disconnects_the_upstream() {
    for flavor in FLAVORS {
        let stall = Reply::StreamStall { first_text: "Once".into(), stall_ms: 60_000 };
        let (mock, provider) = start(flavor, vec![stall, Reply::Hang]).await;
        let mut stream = provider.chat_stream(ask("story")).await.unwrap();
        let first = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
        drop(stream);
        tokio::time::timeout(WAIT, mock.wait_for_disconnects(1)).await.expect("upstream saw the stream dropped");

        let timed_out = tokio::time::timeout(Duration::from_millis(50), provider.chat(ask("hi"))).await;
        assert!(timed_out.is_err(), "Hang never answers");
        tokio::time::timeout(WAIT, mock.wait_for_disconnects(2)).await.expect("upstream saw the call dropped");
        assert_eq!(mock.disconnects(), 2, "{flavor:?}");
    }
}

#[tokio::test]
async fn delayed_replies_arrive_and_finished_streams_do_not_count_as_disconnects() {
    for flavor in FLAVORS {
        let (mock, provider) =
            start(flavor, vec![Reply::text("late", 1, 1).delayed(30), Reply::text("again", 2, 2)]).await;
        let started = std::time::Instant::now();
        let completion = provider.chat(ask("hi")).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(completion.choices[0].message.text_content(), "late");
        for _ in 0..3 {
            let (acc, _, err) = drain(provider.chat_stream(ask("hi")).await.unwrap()).await;
            assert!(err.is_none());
            assert_eq!(acc.content, "again", "the last reply repeats");
        }
        assert_eq!(mock.request_count(), 4);
        assert_eq!(mock.disconnects(), 0, "{flavor:?}");
    }
}

#[tokio::test]
async fn embeddings() {
    let (mock, provider) = start(Flavor::OpenAi, vec![Reply::Embeddings { dims: 8 }]).await;
    let request = EmbeddingRequest {
        model: "embed-model".into(),
        input: EmbeddingInput::Many(vec!["one".into(), "two words".into()]),
        encoding_format: None,
        dimensions: None,
        user: None,
        extra: Default::default(),
    };
    let response = provider.embed(request.clone()).await.unwrap();
    assert_eq!(response.data.len(), 2);
    assert_eq!(response.usage.prompt_tokens, 3);
    match &response.data[1].embedding {
        gantry_types::EmbeddingVector::Float(v) => assert_eq!(v.len(), 8),
        other => panic!("expected floats, got {other:?}"),
    }
    assert_eq!(mock.requests()[0].path, "/v1/embeddings");

    let (_mock, anthropic) = start(Flavor::Anthropic, vec![]).await;
    assert!(matches!(anthropic.embed(request).await, Err(ProviderError::Unsupported(_))));
    assert!(!anthropic.capabilities().embeddings && !anthropic.capabilities().json_mode);
    assert!(provider.capabilities().embeddings && provider.capabilities().json_mode);
}

#[tokio::test]
async fn finished_streams_return_their_connection_to_the_pool() {
    for flavor in FLAVORS {
        let (mock, provider) = start(flavor, vec![Reply::text("pooled reply", 1, 1)]).await;
        for _ in 0..6 {
            let (acc, _, err) = drain(provider.chat_stream(ask("hi")).await.unwrap()).await;
            assert!(err.is_none() && acc.content == "pooled reply");
        }
        // The body's end reaches the pool a moment after the last event, so the very next call
        // may open a second connection; a connection per call would mean none were reused.
        let mut peers: Vec<_> = mock.requests().iter().map(|r| r.peer).collect();
        peers.sort();
        peers.dedup();
        assert!(peers.len() <= 2, "{flavor:?}: connections are reused: {peers:?}");
        assert_eq!(mock.disconnects(), 0);
    }
}
