//! Personally identifiable information in text: e-mail addresses, phone numbers and
//! credit-card numbers, found as typed byte spans and replaced by typed placeholders.
//!
//! The scanners are hand-written rather than regular expressions because what makes a match
//! is mostly context a pattern says poorly: a phone number is not part of a longer number
//! (`#555-123-4567`, `2024-555-1234-88`), a national number needs the 3-3-4 shape while an
//! international one (`+49 30 1234567`) may have any grouping, and a card number must pass
//! the Luhn check.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What kind of PII a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    CreditCard,
}

impl PiiKind {
    /// Stable name, as reports show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
        }
    }

    /// The name inside a placeholder: `<EMAIL_1>`.
    fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::CreditCard => "CREDIT_CARD",
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

/// Every PII span in `text`, in order, none overlapping.
pub fn detect(text: &str) -> Vec<PiiSpan> {
    let emails = emails(text);
    let mut spans: Vec<PiiSpan> =
        emails.iter().map(|&(start, end)| PiiSpan { kind: PiiKind::Email, start, end }).collect();
    // An e-mail's local part may be all digits; the address wins over a number inside it.
    spans.extend(numbers(text).into_iter().filter(|n| !emails.iter().any(|&(s, e)| n.start < e && s < n.end)));
    spans.sort_by_key(|s| s.start);
    spans
}

/// `text` with each PII span replaced by `<KIND_N>`; the same value gets the same number
/// (phone and card numbers compared by their digits, e-mails case-insensitively).
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
            PiiKind::Email => value.to_lowercase(),
            PiiKind::Phone | PiiKind::CreditCard => value.chars().filter(char::is_ascii_digit).collect(),
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

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// A domain with at least two labels, no empty label, no label at a hyphen's edge, and an
/// alphabetic top-level domain of two letters or more.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Byte spans of e-mail addresses. Only ASCII bytes are matched, so every offset is a char
/// boundary.
fn emails(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        let mut start = at;
        while start > 0 && is_local_byte(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && bytes[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && is_domain_byte(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let overlaps = found.last().is_some_and(|&(_, last_end)| start < last_end);
        if start < at && !overlaps && valid_domain(&text[at + 1..end]) {
            found.push((start, end));
        }
    }
    found
}

/// A run of digits inside a candidate number, with what surrounds it.
#[derive(Debug)]
struct Group {
    /// First byte, counting a leading `+` or `(`.
    start: usize,
    /// Past the last byte, counting a closing `)`.
    end: usize,
    digits: String,
    plus: bool,
    paren: bool,
    /// The separator before this group: `Some(b' ' | b'-' | b'.')`, `None` for the first
    /// group or one that follows a `)` directly.
    sep: Option<u8>,
}

/// Whether a number may start after `prev`: not inside a word or a longer number, and not
/// after a marker that makes it an identifier (`#`, `$`, `@`).
fn starts_cleanly(text: &str, at: usize) -> bool {
    let mut before = text[..at].chars().rev();
    match before.next() {
        None => true,
        Some(c) if c.is_whitespace() => true,
        Some(',') => !before.next().is_some_and(|c| c.is_ascii_digit()),
        Some(c) => matches!(c, '(' | '[' | '{' | '"' | '\'' | '<' | ':' | ';' | '='),
    }
}

/// Whether a number may end at `at`: no letter, digit or `@` follows, and no separator
/// that continues it with more digits (`555-123-4567-89`, `12/2024`).
fn ends_cleanly(bytes: &[u8], at: usize) -> bool {
    match bytes.get(at) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@') => false,
        Some(b'-' | b'.' | b'/' | b',' | b':') => !bytes.get(at + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// The digit groups of the number-like run starting at `p`, and where the run ends.
fn read_groups(text: &str, mut p: usize) -> (Vec<Group>, usize) {
    let bytes = text.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let mut groups: Vec<Group> = Vec::new();
    let mut sep = None;
    loop {
        let start = p;
        let plus = groups.is_empty() && bytes.get(p) == Some(&b'+');
        p += usize::from(plus);
        let paren = bytes.get(p) == Some(&b'(');
        p += usize::from(paren);
        let digits_start = p;
        while digit_at(p) {
            p += 1;
        }
        if p == digits_start || (paren && bytes.get(p) != Some(&b')')) {
            return (groups, start);
        }
        let digits = text[digits_start..p].to_string();
        p += usize::from(paren);
        groups.push(Group { start, end: p, digits, plus, paren, sep });
        let group_end = p;
        sep = match bytes.get(p) {
            Some(&b @ (b' ' | b'-' | b'.')) => {
                p += 1;
                Some(b)
            }
            _ => None,
        };
        let next_starts = digit_at(p) || (bytes.get(p) == Some(&b'(') && digit_at(p + 1));
        // Groups touch only after a closing parenthesis: `(555)123-4567`.
        if !next_starts || (sep.is_none() && !paren) {
            return (groups, group_end);
        }
    }
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn all_digits(groups: &[Group]) -> String {
    groups.iter().map(|g| g.digits.as_str()).collect()
}

/// 13 to 19 digits, in groups of 3 or more joined by spaces or dashes, passing Luhn.
fn is_card(groups: &[Group]) -> bool {
    let digits = all_digits(groups);
    (13..=19).contains(&digits.len())
        && groups.iter().all(|g| !g.plus && !g.paren && g.digits.len() >= 3)
        && groups.iter().skip(1).all(|g| matches!(g.sep, Some(b' ' | b'-')))
        && luhn_valid(&digits)
}

/// International (`+` and 8 to 15 digits, a country code of 1 to 3 when grouped), or the
/// North American shape `[1] (AAA) BBB-CCCC` with an area code starting 2-9.
fn is_phone(groups: &[Group]) -> bool {
    let Some(first) = groups.first() else { return false };
    let joined_by_separators = groups.iter().skip(1).all(|g| g.sep.is_some() || groups_follow_paren(groups, g));
    if first.plus {
        let count = all_digits(groups).len();
        return (8..=15).contains(&count)
            && !first.paren
            && (groups.len() == 1 || first.digits.len() <= 3)
            && joined_by_separators;
    }
    let lengths: Vec<usize> = groups.iter().map(|g| g.digits.len()).collect();
    let area = match lengths.as_slice() {
        [3, 3, 4] => 0,
        [1, 3, 3, 4] if first.digits == "1" => 1,
        _ => return false,
    };
    let parens_only_on_area = groups.iter().enumerate().all(|(i, g)| !g.paren || i == area);
    let area_ok = groups[area].digits.as_bytes().first().is_some_and(|b| (b'2'..=b'9').contains(b));
    parens_only_on_area && area_ok && joined_by_separators
}

/// Whether `g` directly follows a group that closed a parenthesis.
fn groups_follow_paren(groups: &[Group], g: &Group) -> bool {
    groups.iter().any(|prev| prev.end == g.start && prev.paren)
}

/// Phone and card numbers, in order.
fn numbers(text: &str) -> Vec<PiiSpan> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let b = bytes[p];
        let can_start =
            b.is_ascii_digit() || ((b == b'+' || b == b'(') && bytes.get(p + 1).is_some_and(u8::is_ascii_digit));
        if !can_start || !starts_cleanly(text, p) {
            p += 1;
            continue;
        }
        let (groups, run_end) = read_groups(text, p);
        if groups.is_empty() {
            p += 1;
            continue;
        }
        let mut i = 0;
        while i < groups.len() {
            // A number inside the run starts after a space, never after `-` or `.`.
            let starts_ok = i == 0 || groups[i].sep == Some(b' ');
            let hit = starts_ok.then(|| match_at(&groups, i, bytes, run_end)).flatten();
            match hit {
                Some((kind, j)) => {
                    found.push(PiiSpan { kind, start: groups[i].start, end: groups[j - 1].end });
                    i = j;
                }
                None => i += 1,
            }
        }
        p = run_end.max(p + 1);
    }
    found
}

/// The longest card, else phone, made of `groups[i..j]`: its kind and `j`.
fn match_at(groups: &[Group], i: usize, bytes: &[u8], run_end: usize) -> Option<(PiiKind, usize)> {
    let ends_ok = |j: usize| {
        if j == groups.len() {
            ends_cleanly(bytes, run_end)
        } else {
            groups[j].sep == Some(b' ')
        }
    };
    for kind in [PiiKind::CreditCard, PiiKind::Phone] {
        for j in (i + 1..=groups.len()).rev() {
            let slice = &groups[i..j];
            let shape = match kind {
                PiiKind::CreditCard => is_card(slice),
                _ => is_phone(slice),
            };
            if shape && ends_ok(j) {
                return Some((kind, j));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        detect(text).into_iter().map(|s| (s.kind, &text[s.start..s.end])).collect()
    }

    #[test]
    fn emails_are_found_and_lookalikes_are_not() {
        assert_eq!(
            found("Write to Ada.Lovelace+news@mail.example.co.uk, or bob@x.io."),
            vec![(PiiKind::Email, "Ada.Lovelace+news@mail.example.co.uk"), (PiiKind::Email, "bob@x.io")]
        );
        for negative in ["ping @channel now", "user@localhost", "a@b.c", "me@host.c0m", "x@-bad.com", "@@", "a@.com"] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
        // Non-ASCII text around an address keeps the offsets on char boundaries.
        let text = "schreib an → ada@ex.de, grüße";
        let spans = detect(text);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].start..spans[0].end], "ada@ex.de");
    }

    #[test]
    fn phone_numbers_in_common_formats() {
        for (text, phone) in [
            ("Call +49 30 1234567.", "+49 30 1234567"),
            ("tel: +44 20 7946 0958", "+44 20 7946 0958"),
            ("or (555) 123-4567 today", "(555) 123-4567"),
            ("555-123-4567", "555-123-4567"),
            ("at 555.123.4567, thanks", "555.123.4567"),
            ("1-800-555-0199", "1-800-555-0199"),
            ("+1 (555) 123-4567", "+1 (555) 123-4567"),
            ("+4930123456", "+4930123456"),
            ("(555)123-4567", "(555)123-4567"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::Phone, phone)], "{text}");
        }
        assert_eq!(
            found("home 555-123-4567 555-987-6543"),
            vec![(PiiKind::Phone, "555-123-4567"), (PiiKind::Phone, "555-987-6543")]
        );
    }

    #[test]
    fn dates_order_numbers_and_other_numbers_are_not_phones() {
        for negative in [
            "due 2024-01-15",
            "on 15.01.2024 at 10:30",
            "12/03/2024",
            "order 5551234567 shipped",
            "order #555-123-4567",
            "ref ORD-555-123-4567",
            "invoice 2023-555-1234",
            "555-123-4567-89",
            "host 192.168.100.200",
            "the 3 4 5 triangle",
            "+2024-01-15",
            "x555-123-4567",
            "555-123-4567x",
            "055-123-4567",
            "price 1,555-123-4567",
            "version 1.555.123",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }

    #[test]
    fn card_numbers_must_pass_luhn() {
        for (text, card) in [
            ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
            ("4111-1111-1111-1111", "4111-1111-1111-1111"),
            ("amex 3782 822463 10005.", "3782 822463 10005"),
            ("5555555555554444", "5555555555554444"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::CreditCard, card)], "{text}");
        }
        for negative in ["4111 1111 1111 1112", "1234 5678 9012 3456", "order 12345678901234", "4111 1111 1111"] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
        assert!(luhn_valid("79927398713") && !luhn_valid("79927398710"));
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
    fn numbers_inside_addresses_count_as_the_address() {
        assert_eq!(found("5551234567@sms.example.com"), vec![(PiiKind::Email, "5551234567@sms.example.com")]);
    }
}
