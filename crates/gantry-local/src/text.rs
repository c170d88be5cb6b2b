//! Turning token bytes into text safely while streaming: UTF-8 that a token split in the
//! middle of a character, and stop sequences that may arrive across several tokens.

/// Accumulates token bytes and hands out only complete, valid UTF-8.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Adds `bytes` and returns the text that is now complete. An incomplete character at the
    /// end is kept for the next call; bytes that can never be valid become U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid` was just checked by from_utf8.
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// Ends the text: an unfinished character becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            return String::new();
        }
        self.pending.clear();
        char::REPLACEMENT_CHARACTER.to_string()
    }
}

/// Finds stop sequences in generated text and holds back text that may still become one.
#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

/// What the matcher lets out after a piece of text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StopOutcome {
    /// Text safe to emit; generation goes on.
    Continue(String),
    /// A stop sequence was found: emit this text (everything before it) and stop.
    Stopped(String),
}

impl StopMatcher {
    /// A matcher for `stops`; empty strings are ignored.
    pub fn new(stops: Vec<String>) -> Self {
        Self { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new() }
    }

    /// Adds generated `text`.
    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.held.push_str(text);
        if self.stops.is_empty() {
            return StopOutcome::Continue(std::mem::take(&mut self.held));
        }
        // Everything emitted so far could not start a stop sequence, so any stop begins
        // inside `held`; the earliest one wins.
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let out = self.held[..at].to_string();
            self.held.clear();
            return StopOutcome::Stopped(out);
        }
        let keep = self.longest_partial_suffix();
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        StopOutcome::Continue(out)
    }

    /// Generation ended for another reason: what was held back is plain text after all.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The length of the longest suffix of `held` that is a proper prefix of a stop sequence.
    fn longest_partial_suffix(&self) -> usize {
        let held = self.held.as_str();
        let mut best = 0;
        for stop in &self.stops {
            let max = stop.len().saturating_sub(1).min(held.len());
            for len in (best + 1..=max).rev() {
                let start = held.len() - len;
                if held.is_char_boundary(start) && stop.starts_with(&held[start..]) {
                    best = len;
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_decoder_buffers_split_characters() {
        let mut d = Utf8Decoder::default();
        let euro = "€".as_bytes();
        assert_eq!(d.push(&[b'a', euro[0]]), "a");
        assert_eq!(d.push(&euro[1..2]), "");
        assert_eq!(d.push(&euro[2..]), "€");
        assert_eq!(d.push(&[0xff, b'b']), "\u{fffd}b");
        assert_eq!(d.push(&[0xe2]), "");
        assert_eq!(d.finish(), "\u{fffd}");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn stop_matcher_holds_back_possible_stops_and_never_emits_them() {
        let mut m = StopMatcher::new(vec!["END".into(), "\n\n".into()]);
        assert_eq!(m.push("hello E"), StopOutcome::Continue("hello ".into()));
        assert_eq!(m.push("N"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push("X"), StopOutcome::Continue("ENX".into()));
        assert_eq!(m.push(" and\n"), StopOutcome::Continue(" and".into()));
        assert_eq!(m.push("\nmore"), StopOutcome::Stopped(String::new()));

        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(m.push("aEN"), StopOutcome::Continue("a".into()));
        assert_eq!(m.push("Dtail"), StopOutcome::Stopped(String::new()));
        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(m.push("xyENDz"), StopOutcome::Stopped("xy".into()));
        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(m.push("abE"), StopOutcome::Continue("ab".into()));
        assert_eq!(m.finish(), "E");
    }

    #[test]
    fn stop_matcher_respects_char_boundaries() {
        let mut m = StopMatcher::new(vec!["é!".into()]);
        assert_eq!(m.push("caf"), StopOutcome::Continue("caf".into()));
        assert_eq!(m.push("é"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push("é"), StopOutcome::Continue("é".into()));
        assert_eq!(m.push("!"), StopOutcome::Stopped(String::new()));
        let mut none = StopMatcher::new(vec![String::new()]);
        assert_eq!(none.push("x"), StopOutcome::Continue("x".into()));
    }
}
