//! Server-sent events as the OpenAI API sends them: `data: {json}` per chunk, an error
//! object if the stream fails, and `data: [DONE]` at the end.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use futures::{stream, Stream, StreamExt};
use gantry_core::GatewayError;
use gantry_types::ChatCompletionChunk;

fn event(json: &impl serde::Serialize) -> Bytes {
    match serde_json::to_vec(json) {
        Ok(mut data) => {
            let mut out = Vec::with_capacity(data.len() + 8);
            out.extend_from_slice(b"data: ");
            out.append(&mut data);
            out.extend_from_slice(b"\n\n");
            Bytes::from(out)
        }
        Err(e) => Bytes::from(format!("data: {{\"error\":{{\"message\":\"serialization failed: {e}\",\"type\":\"server_error\",\"param\":null,\"code\":\"internal_error\"}}}}\n\n")),
    }
}

/// The SSE body for a chunk stream. After an error no `[DONE]` is sent, as OpenAI does.
pub fn body(chunks: impl Stream<Item = Result<ChatCompletionChunk, GatewayError>> + Send + 'static) -> Body {
    let events = stream::unfold((Box::pin(chunks), false), |(mut chunks, finished)| async move {
        if finished {
            return None;
        }
        match chunks.next().await {
            Some(Ok(chunk)) => Some((event(&chunk), (chunks, false))),
            Some(Err(err)) => Some((event(&ApiError::from(err).body), (chunks, true))),
            None => Some((Bytes::from_static(b"data: [DONE]\n\n"), (chunks, true))),
        }
    });
    Body::from_stream(events.map(Ok::<_, std::convert::Infallible>))
}
