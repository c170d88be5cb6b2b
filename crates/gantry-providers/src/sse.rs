//! A server-sent-events decoder over a byte stream, as the WHATWG event-stream format defines it.
//!
//! Bytes are buffered and split into lines on raw bytes; text is decoded only once an event is
//! complete, so a multi-byte UTF-8 character split across network chunks is never broken
//! (line terminators are ASCII and never occur inside a multi-byte sequence).

use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::string::FromUtf8Error;

/// One dispatched event: its `event:` name (absent for the default "message") and its data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when the server named the event.
    pub event: Option<String>,
    /// The `data:` fields, joined with `\n`.
    pub data: String,
}

/// Why an event stream could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum SseError<E> {
    /// The underlying byte stream failed.
    #[error("{0}")]
    Source(E),
    /// A complete event was not valid UTF-8.
    #[error("event stream is not valid UTF-8: {0}")]
    InvalidUtf8(#[from] FromUtf8Error),
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental decoder: `push` bytes as they arrive, then take events with `next_event`.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed as lines.
    pos: usize,
    /// Bytes from `pos` up to here are known to hold no line terminator (avoids rescanning).
    scanned: usize,
    data: Vec<u8>,
    has_data: bool,
    event: Option<Vec<u8>>,
    seen_first_line: bool,
}

impl SseDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes received from the network.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.scanned -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the buffered bytes hold one.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, FromUtf8Error>> {
        while let Some((end, next)) = self.find_line_end() {
            let start = self.pos;
            self.pos = next;
            self.scanned = next;
            if start == end {
                if let Some(event) = self.dispatch() {
                    return Some(event);
                }
            } else {
                self.process_line(start, end);
            }
        }
        None
    }

    /// Flushes what is left when the byte stream ends.
    ///
    /// Strictly, an unterminated event at end of stream is discarded; servers that omit the
    /// final blank line are common enough that dispatching it is the more useful reading.
    pub fn finish(&mut self) -> Option<Result<SseEvent, FromUtf8Error>> {
        if let Some(event) = self.next_event() {
            return Some(event);
        }
        let mut end = self.buf.len();
        if end > self.pos && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        if end > self.pos {
            self.process_line(self.pos, end);
        }
        self.pos = self.buf.len();
        self.scanned = self.pos;
        self.dispatch()
    }

    /// Finds the next line terminator: returns (end of line, start of the following line).
    fn find_line_end(&mut self) -> Option<(usize, usize)> {
        let Some(offset) = self.buf[self.scanned..].iter().position(|b| *b == b'\n' || *b == b'\r') else {
            self.scanned = self.buf.len();
            return None;
        };
        let i = self.scanned + offset;
        if self.buf[i] == b'\n' {
            return Some((i, i + 1));
        }
        // A lone CR at the end of the buffer may be the first half of a CRLF still in flight.
        match self.buf.get(i + 1) {
            None => {
                self.scanned = i;
                None
            }
            Some(b'\n') => Some((i, i + 2)),
            Some(_) => Some((i, i + 1)),
        }
    }

    fn process_line(&mut self, start: usize, end: usize) {
        let mut line = &self.buf[start..end];
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.to_vec()),
            // `id`, `retry` and unknown fields carry nothing the providers use.
            _ => {}
        }
    }

    fn dispatch(&mut self) -> Option<Result<SseEvent, FromUtf8Error>> {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        let data = std::mem::take(&mut self.data);
        let result = String::from_utf8(data).and_then(|data| {
            let event = match event {
                Some(name) if !name.is_empty() => Some(String::from_utf8(name)?),
                _ => None,
            };
            Ok(SseEvent { event, data })
        });
        Some(result)
    }
}

/// Decodes a byte stream into events. After the first error the stream ends.
pub fn sse_events<S, E>(bytes: S) -> impl Stream<Item = Result<SseEvent, SseError<E>>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let state = (Box::pin(bytes), SseDecoder::new(), false);
    futures::stream::unfold(state, |(mut bytes, mut decoder, mut ended)| async move {
        loop {
            if let Some(event) = decoder.next_event() {
                return Some((event.map_err(SseError::from), (bytes, decoder, ended)));
            }
            if ended {
                return None;
            }
            match bytes.next().await {
                Some(Ok(chunk)) => decoder.push(&chunk),
                Some(Err(err)) => {
                    // What is buffered belongs to an event that will never complete: drop it.
                    return Some((Err(SseError::Source(err)), (bytes, SseDecoder::new(), true)));
                }
                None => {
                    ended = true;
                    if let Some(event) = decoder.finish() {
                        return Some((event.map_err(SseError::from), (bytes, decoder, ended)));
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn decode(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let items: Vec<Result<Bytes, std::io::Error>> = chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let events = futures::executor::block_on(sse_events(stream::iter(items)).collect::<Vec<_>>());
        events.into_iter().map(|e| e.unwrap()).collect()
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_string), data: data.to_string() }
    }

    #[test]
    fn splits_on_blank_lines_and_joins_data_lines() {
        let events = decode(&[b"data: a\ndata: b\n\nevent: ping\ndata: {}\n\n"]);
        assert_eq!(events, vec![ev(None, "a\nb"), ev(Some("ping"), "{}")]);
    }

    #[test]
    fn handles_crlf_and_cr_line_endings() {
        let events = decode(&[b"event: x\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n"]);
        assert_eq!(events, vec![ev(Some("x"), "1"), ev(None, "2"), ev(None, "3")]);
    }

    #[test]
    fn crlf_split_between_chunks_is_one_terminator() {
        let events = decode(&[b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]);
        assert_eq!(events, vec![ev(None, "1"), ev(None, "2")]);
    }

    #[test]
    fn multibyte_character_split_across_chunks_is_intact() {
        let text = "data: caf\u{e9} \u{65e5}\u{672c} \u{1F600}\n\n".as_bytes();
        // Cut inside "é" (2 bytes), inside "日" (3 bytes) and inside the emoji (4 bytes).
        let e_acute = text.iter().position(|b| *b == 0xC3).unwrap();
        let emoji = text.iter().position(|b| *b == 0xF0).unwrap();
        let chunks =
            [&text[..e_acute + 1], &text[e_acute + 1..e_acute + 4], &text[e_acute + 4..emoji + 2], &text[emoji + 2..]];
        assert_eq!(decode(&chunks), vec![ev(None, "caf\u{e9} \u{65e5}\u{672c} \u{1F600}")]);
    }

    #[test]
    fn one_byte_at_a_time() {
        let body = "event: e\ndata: \u{1F600}x\n\n: comment\ndata: [DONE]\n\n".as_bytes();
        let chunks: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode(&chunks), vec![ev(Some("e"), "\u{1F600}x"), ev(None, "[DONE]")]);
    }

    #[test]
    fn ignores_comments_unknown_fields_and_dataless_events() {
        let events = decode(&[b": keep-alive\n\nid: 7\nretry: 100\nfoo: bar\ndata:x\n\nevent: lonely\n\n"]);
        assert_eq!(events, vec![ev(None, "x")]);
    }

    #[test]
    fn field_without_colon_and_empty_data() {
        let events = decode(&[b"data\n\ndata:\ndata:\n\n"]);
        assert_eq!(events, vec![ev(None, ""), ev(None, "\n")]);
    }

    #[test]
    fn strips_a_leading_bom_and_only_one_space() {
        let events = decode(&[b"\xEF\xBB\xBFdata:  two spaces\n\n"]);
        assert_eq!(events, vec![ev(None, " two spaces")]);
    }

    #[test]
    fn flushes_an_unterminated_final_event() {
        assert_eq!(decode(&[b"data: a\n\ndata: [DONE]"]), vec![ev(None, "a"), ev(None, "[DONE]")]);
        assert_eq!(decode(&[b"data: b\r"]), vec![ev(None, "b")]);
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let items: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from_static(b"data: \xFF\n\n"))];
        let events = futures::executor::block_on(sse_events(stream::iter(items)).collect::<Vec<_>>());
        assert!(matches!(events.as_slice(), [Err(SseError::InvalidUtf8(_))]));
    }

    #[test]
    fn source_error_ends_the_stream() {
        let items: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"data: a\n\ndata: partial")),
            Err(std::io::Error::other("reset")),
            Ok(Bytes::from_static(b"\n\n")),
        ];
        let events = futures::executor::block_on(sse_events(stream::iter(items)).collect::<Vec<_>>());
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].as_ref().unwrap(), &ev(None, "a"));
        assert!(matches!(events[1], Err(SseError::Source(_))));
    }
}
