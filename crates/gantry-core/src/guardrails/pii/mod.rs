//! Personally identifiable information in text: e-mail addresses, phone numbers, card
//! numbers, IBANs, IP addresses, US social security numbers, German tax ids and person
//! names, found as typed byte spans and replaced by typed placeholders.
//!
//! Each entity family has its own scanner (one file each); every scanner proposes
//! candidates and [`detect`] keeps a non-overlapping set by precedence: the more specific
//! and better checked kind wins where two overlap (an IBAN or card holds digit groups a
//! phone scanner would also take; an e-mail's local part may be a phone number).
//!
//! The scanners are hand-written rather than regular expressions because what makes a match
//! is mostly context a pattern says poorly (what stands before and after a number, which
//! checksum it passes, which cue word precedes a name), and because they run on the request
//! path: each is one or a few linear passes.

mod email;
mod iban;
mod ip;
mod national_id;
mod numbers;
mod person;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What kind of PII a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    CreditCard,
    Iban,
    IpAddress,
    UsSsn,
    DeTaxId,
    Person,
}

impl PiiKind {
    /// Every kind, in declaration order.
    pub const ALL: [PiiKind; 8] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CreditCard,
        PiiKind::Iban,
        PiiKind::IpAddress,
        PiiKind::UsSsn,
        PiiKind::DeTaxId,
        PiiKind::Person,
    ];

    /// Stable name, as reports show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Iban => "iban",
            PiiKind::IpAddress => "ip_address",
            PiiKind::UsSsn => "us_ssn",
            PiiKind::DeTaxId => "de_tax_id",
            PiiKind::Person => "person",
        }
    }

    /// The name inside a placeholder: `<EMAIL_1>`.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::CreditCard => "CREDIT_CARD",
            PiiKind::Iban => "IBAN",
            PiiKind::IpAddress => "IP_ADDRESS",
            PiiKind::UsSsn => "US_SSN",
            PiiKind::DeTaxId => "DE_TAX_ID",
            PiiKind::Person => "PERSON",
        }
    }

    /// Lower wins where two candidates overlap: checksummed and structured kinds before
    /// loosely shaped ones (phone), names from context last.
    fn precedence(self) -> u8 {
        match self {
            PiiKind::Email => 0,
            PiiKind::Iban => 1,
            PiiKind::CreditCard => 2,
            PiiKind::UsSsn => 3,
            PiiKind::DeTaxId => 4,
            PiiKind::IpAddress => 5,
            PiiKind::Phone => 6,
            PiiKind::Person => 7,
        }
    }
}

/// One finding: its kind and byte offsets in the text (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiSpan {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// A text with its PII replaced, and the spans (offsets into the original) that were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub spans: Vec<PiiSpan>,
}

/// How many given names the person scanner's lexicon holds: 0 when
/// `scripts/fetch-given-names.py` had not run before the build (names then come from context
/// cues only).
pub fn given_name_lexicon_size() -> usize {
    person::lexicon_size()
}

/// Every PII span in `text`, in order, none overlapping.
pub fn detect(text: &str) -> Vec<PiiSpan> {
    let mut candidates = Vec::new();
    email::find(text, &mut candidates);
    iban::find(text, &mut candidates);
    numbers::find(text, &mut candidates);
    ip::find(text, &mut candidates);
    person::find(text, &mut candidates);
    resolve(candidates)
}

/// The candidates that survive precedence, in text order: each is kept unless it overlaps
/// one of higher precedence (or an equal one found first).
fn resolve(mut candidates: Vec<PiiSpan>) -> Vec<PiiSpan> {
    candidates.sort_by_key(|s| (s.kind.precedence(), s.start, std::cmp::Reverse(s.end)));
    let mut kept: BTreeMap<usize, PiiSpan> = BTreeMap::new();
    for span in candidates {
        if span.start >= span.end {
            continue;
        }
        let before = kept.range(..span.end).next_back().is_some_and(|(_, k)| k.end > span.start);
        if !before {
            kept.insert(span.start, span);
        }
    }
    kept.into_values().collect()
}

/// `text` with each PII span replaced by `<KIND_N>`; the same value gets the same number
/// (numbers compared by their digits and letters, e-mails and names case-insensitively).
pub fn redact(text: &str) -> Redacted {
    let spans = detect(text);
    if spans.is_empty() {
        return Redacted { text: text.to_string(), spans };
    }
    let mut numbers: HashMap<(PiiKind, String), usize> = HashMap::new();
    let mut next: HashMap<PiiKind, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for span in &spans {
        let value = &text[span.start..span.end];
        let key = match span.kind {
            PiiKind::Email | PiiKind::Person | PiiKind::IpAddress => value.to_lowercase(),
            PiiKind::Phone | PiiKind::CreditCard | PiiKind::UsSsn | PiiKind::DeTaxId | PiiKind::Iban => {
                value.chars().filter(char::is_ascii_alphanumeric).collect()
            }
        };
        let number = *numbers.entry((span.kind, key)).or_insert_with(|| {
            let n = next.entry(span.kind).or_insert(0);
            *n += 1;
            *n
        });
        out.push_str(&text[copied..span.start]);
        out.push_str(&format!("<{}_{number}>", span.kind.placeholder()));
        copied = span.end;
    }
    out.push_str(&text[copied..]);
    Redacted { text: out, spans }
}

/// The lower-cased ASCII word that ends right before `at` (skipping spaces and the marks
/// that sit between a label and its value), for context checks.
fn word_before(text: &str, at: usize) -> String {
    let bytes = text.as_bytes();
    let mut end = at;
    while end > 0 && matches!(bytes[end - 1], b' ' | b':' | b'#' | b'.' | b'\t') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-') {
        start -= 1;
    }
    text[start..end].to_ascii_lowercase()
}

/// Whether `needle` (lower-case ASCII) occurs in the `window` bytes before `at`.
fn context_before(text: &str, at: usize, window: usize, needles: &[&str]) -> bool {
    let mut from = at.saturating_sub(window);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let context = text[from..at].to_ascii_lowercase();
    needles.iter().any(|n| context.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn found(text: &str) -> Vec<(PiiKind, &str)> {
        detect(text).into_iter().map(|s| (s.kind, &text[s.start..s.end])).collect()
    }

    #[test]
    fn redaction_numbers_each_distinct_value() {
        let text = "Mail ada@ex.com or ADA@EX.COM, call 555-123-4567 / (555) 123-4567 or +49 30 1234567; \
                    card 4111 1111 1111 1111; bob@ex.org";
        let redacted = redact(text);
        assert_eq!(
            redacted.text,
            "Mail <EMAIL_1> or <EMAIL_1>, call <PHONE_1> / <PHONE_1> or <PHONE_2>; card <CREDIT_CARD_1>; <EMAIL_2>"
        );
        assert_eq!(redacted.spans.len(), 7);
        assert_eq!(&text[redacted.spans[0].start..redacted.spans[0].end], "ada@ex.com");
        let clean = redact("nothing here 2024-01-15");
        assert_eq!((clean.text.as_str(), clean.spans.len()), ("nothing here 2024-01-15", 0));
    }

    #[test]
    fn every_kind_has_a_name_and_a_placeholder() {
        let names: Vec<&str> = PiiKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["email", "phone", "credit_card", "iban", "ip_address", "us_ssn", "de_tax_id", "person"]);
        let text = "Hi Ada, IBAN DE89 3704 0044 0532 0130 00, ip 10.0.0.1, SSN 123-45-6789, \
                    Steuer-ID 65929970489";
        assert_eq!(
            redact(text).text,
            "Hi <PERSON_1>, IBAN <IBAN_1>, ip <IP_ADDRESS_1>, SSN <US_SSN_1>, Steuer-ID <DE_TAX_ID_1>"
        );
    }

    #[test]
    fn overlaps_go_to_the_more_specific_kind() {
        assert_eq!(found("5551234567@sms.example.com"), vec![(PiiKind::Email, "5551234567@sms.example.com")]);
        let spans = resolve(vec![
            PiiSpan { kind: PiiKind::Phone, start: 0, end: 10 },
            PiiSpan { kind: PiiKind::CreditCard, start: 5, end: 20 },
            PiiSpan { kind: PiiKind::Person, start: 20, end: 25 },
        ]);
        assert_eq!(
            spans,
            vec![
                PiiSpan { kind: PiiKind::CreditCard, start: 5, end: 20 },
                PiiSpan { kind: PiiKind::Person, start: 20, end: 25 }
            ]
        );
    }

    #[test]
    fn context_helpers_respect_char_boundaries() {
        assert_eq!(word_before("order #", 7), "order");
        assert_eq!(word_before("Steuer-ID: ", 11), "steuer-id");
        assert!(context_before("ßßßß SSN ", 13, 6, &["ssn"]));
    }

    /// Random texts: no panic, and every span sorted, disjoint and on character boundaries.
    #[test]
    fn arbitrary_text_gives_well_formed_spans() {
        for text in crate::guardrails::fuzz::texts() {
            let spans: Vec<(usize, usize)> = detect(&text).iter().map(|s| (s.start, s.end)).collect();
            crate::guardrails::fuzz::assert_well_formed(&text, &spans);
        }
    }
}
