//! Person names without a cue: a capitalised given name from a lexicon, with the capitalised
//! surname that follows it ("cc Sven Eriksson", "Grace Hopper wrote:"), or on its own where
//! it cannot be an ordinary capitalised word: mid-sentence ("ask Jennifer in HR") or alone
//! on a signature line.
//!
//! The lexicon (fetched by scripts/fetch-given-names.py into crates/gantry-core/lexicons) is
//! the union of the first-name lists of the `faker`
//! Python package (40.x) for 23 locales (English, German, French, Spanish, Italian, Polish,
//! Dutch, Nordic, Portuguese, Turkish, Arabic, Hindi, Yoruba, Czech, Romanian, Hungarian,
//! Indonesian); it is data the detector was not tuned on. Given names that are also months,
//! places or common words ("May", "Paris", "Grace") count only with a surname.

use super::{acceptable, tokens_from, Cue};
use crate::guardrails::pii::{PiiKind, PiiSpan};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

static GIVEN_NAMES: LazyLock<HashSet<&'static str, BuildHasherDefault<FxHasher>>> = LazyLock::new(|| {
    include_str!(concat!(env!("OUT_DIR"), "/given_names.txt")).lines().filter(|l| !l.is_empty()).collect()
});

/// How many given names the lexicon holds (0 when it was not fetched before the build).
pub fn lexicon_size() -> usize {
    GIVEN_NAMES.len()
}

/// A multiply-rotate hash for the lexicon lookups, which run once per capitalised word on the
/// request path: std's default (SipHash) is built to resist crafted collisions, which a fixed
/// word list does not need, and costs about 5% more of the whole PII scan (criterion bench).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Given names that are as often a month, a place, a brand or an English word.
const AMBIGUOUS: &[&str] = &[
    "Alexandria",
    "Amber",
    "Angel",
    "April",
    "August",
    "Augusta",
    "Aurora",
    "Austin",
    "Autumn",
    "Beverly",
    "Bill",
    "Brandy",
    "Brooklyn",
    "Carolina",
    "Carter",
    "Charlotte",
    "Chase",
    "Chelsea",
    "Christian",
    "Crystal",
    "Daisy",
    "Dakota",
    "Dawn",
    "Dean",
    "Destiny",
    "Devon",
    "Don",
    "Drew",
    "Earl",
    "Eden",
    "Faith",
    "Florence",
    "Frank",
    "Georgia",
    "Grace",
    "Grant",
    "Guy",
    "Hazel",
    "Heather",
    "Holly",
    "Hunter",
    "India",
    "Iris",
    "Ivy",
    "Jade",
    "Jordan",
    "Joy",
    "June",
    "Kent",
    "Lily",
    "Madison",
    "Mark",
    "Mason",
    "Max",
    "May",
    "Melody",
    "Milan",
    "Norman",
    "Orlando",
    "Paris",
    "Parker",
    "Ray",
    "Regina",
    "Rose",
    "Rosemary",
    "Savannah",
    "Sierra",
    "Summer",
    "Sydney",
    "Tanner",
    "Taylor",
    "Troy",
    "Tyler",
    "Victoria",
    "Violet",
    "Virginia",
    "Jan",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Oct",
    "Nov",
    "Dec",
    "Will",
    "Page",
    "Art",
    "Love",
    "Star",
    "Sky",
    "Sunny",
    "Price",
    "King",
    "Young",
];

/// Pushes the lexicon-backed names in `text`.
pub(super) fn find(text: &str, out: &mut Vec<PiiSpan>) {
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let word_start = c.is_uppercase()
            && !previous.is_some_and(|p| p.is_alphanumeric() || matches!(p, '.' | '/' | '_' | '-' | '\'' | '’'));
        previous = Some(c);
        if !word_start {
            continue;
        }
        let len: usize = text[at..].chars().take_while(|&c| c.is_alphabetic()).map(char::len_utf8).sum();
        let first = &text[at..at + len];
        let glued = text[at + len..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_');
        if glued || !GIVEN_NAMES.contains(first) {
            continue;
        }
        let tokens = tokens_from(text, at);
        if tokens.first().is_none_or(|t| t.1 != at + len) || !acceptable(text, &tokens, Cue::Strong) {
            continue;
        }
        let single = tokens.len() == 1;
        if single && (AMBIGUOUS.contains(&first) || !(mid_sentence(text, at) || alone_on_line(text, at, at + len))) {
            continue;
        }
        if let (Some(s), Some(e)) = (tokens.first(), tokens.last()) {
            out.push(PiiSpan { kind: PiiKind::Person, start: s.0, end: e.1 });
        }
    }
}

/// Whether a word at `at` follows other words of its sentence (so its capital is not just
/// the sentence's).
fn mid_sentence(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '\t', '@', '(', '"', '\'']);
    !before.is_empty() && !before.ends_with(['.', '!', '?', '\n', ':', ';'])
}

/// Whether the word `start..end` is all its line holds (a signature).
fn alone_on_line(text: &str, start: usize, end: usize) -> bool {
    let line_start = text[..start].ends_with('\n');
    let rest = text[end..].trim_start_matches([' ', '\t', '\r', ',', '.']);
    line_start && (rest.is_empty() || rest.starts_with('\n'))
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::found;
    use super::super::super::PiiKind;

    fn names(text: &str) -> Vec<&str> {
        found(text).into_iter().filter(|(k, _)| *k == PiiKind::Person).map(|(_, v)| v).collect()
    }

    #[test]
    fn lexicon_names_with_a_surname_or_mid_sentence() {
        for (text, name) in [
            ("Please loop in Professor Alan Whitfield before Friday.", "Alan Whitfield"),
            ("Yusuf Demir wrote: the export fails", "Yusuf Demir"),
            ("the ticket went to Jennifer yesterday", "Jennifer"),
            ("Thanks!\nTim", "Tim"),
            ("May Parker called.", "May Parker"),
            // The sign-off cue needs the name alone on its line; the lexicon does not.
            ("Thanks, John will call you back.", "John"),
        ] {
            assert_eq!(names(text), vec![name], "{text}");
        }
    }

    #[test]
    fn ambiguous_or_sentence_initial_single_names_are_not_taken() {
        for negative in [
            "We opened the Paris office in May.",
            "Jordan is a country and a brand.",
            "Will you send it again?",
            "Invoice from Jan 2024 attached.",
            "Grace period ends on Friday.",
            "Hello World is the first program.",
            "Microsoft Teams and Google Meet both work.",
        ] {
            assert_eq!(names(negative), Vec::<&str>::new(), "{negative}");
        }
    }
}
