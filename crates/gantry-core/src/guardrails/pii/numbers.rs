//! Numbers read as digit groups: phone numbers, card numbers, and the government ids whose
//! shape is a digit pattern (US SSN, German tax id; their rules live in `national_id`).
//!
//! What makes a match here is mostly context: a phone number is not part of a longer number
//! (`#555-123-4567`, `2024-555-1234-88`), a national number needs the 3-3-4 shape while an
//! international one (`+49 30 1234567`, `0044 20 7946 0958`) may have any grouping, a card
//! number must pass the Luhn check, and a number labelled as an order, invoice or tracking
//! number is none of these.

use super::national_id::{is_de_tax_id, is_us_ssn};
use super::{word_before, PiiKind, PiiSpan};

/// Words that make the number after them an identifier of something else.
const NOT_PII_AFTER: &[&str] = &[
    "order",
    "tracking",
    "reference",
    "ref",
    "invoice",
    "ticket",
    "case",
    "sku",
    "isbn",
    "kundennummer",
    "serial",
    "part",
    "item",
    "booking",
    "confirmation",
    "transaction",
    "po",
    "sn",
    "build",
    "version",
    "ver",
    "v",
];

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

pub(super) fn all_digits(groups: &[Group]) -> String {
    groups.iter().map(|g| g.digits.as_str()).collect()
}

/// 13 to 19 digits starting with an issuer digit in use (2 to 6: Mastercard, Amex, Diners,
/// JCB, Visa, Discover, UnionPay, Maestro), in groups of 3 or more joined by spaces or
/// dashes, passing Luhn.
fn is_card(groups: &[Group]) -> bool {
    let digits = all_digits(groups);
    (13..=19).contains(&digits.len())
        && digits.as_bytes().first().is_some_and(|b| (b'2'..=b'6').contains(b))
        && groups.iter().all(|g| !g.plus && !g.paren && g.digits.len() >= 3)
        && groups.iter().skip(1).all(|g| matches!(g.sep, Some(b' ' | b'-')))
        && luhn_valid(&digits)
}

/// International (`+` or `00`, then 8 to 15 digits with a country code of 1 to 3 when
/// grouped), or the North American shape `[1] (AAA) BBB-CCCC` with an area code starting 2-9.
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
    // `0044 20 7946 0958`: the international prefix dialled instead of `+`.
    if first.digits.starts_with("00") && !first.paren && groups.len() >= 2 {
        let country = first.digits.len() - 2;
        let count = all_digits(groups).len() - 2;
        return (1..=3).contains(&country)
            && !first.digits[2..].starts_with('0')
            && (8..=15).contains(&count)
            && groups.iter().skip(1).all(|g| g.sep == Some(b' ') || groups_follow_paren(groups, g));
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

/// The kind of a number that must stand alone as the whole run: a card or an id.
fn whole_run_kind(text: &str, groups: &[Group]) -> Option<PiiKind> {
    if is_card(groups) {
        Some(PiiKind::CreditCard)
    } else if is_us_ssn(text, groups) {
        Some(PiiKind::UsSsn)
    } else if is_de_tax_id(groups) {
        Some(PiiKind::DeTaxId)
    } else {
        None
    }
}

/// Pushes the phone numbers, card numbers, SSNs and German tax ids in `text`.
pub(super) fn find(text: &str, found: &mut Vec<PiiSpan>) {
    let bytes = text.as_bytes();
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
        let labelled_other = NOT_PII_AFTER.contains(&word_before(text, p).as_str());
        if !labelled_other {
            let whole = ends_cleanly(bytes, run_end).then(|| whole_run_kind(text, &groups)).flatten();
            if let Some(kind) = whole {
                found.push(PiiSpan { kind, start: p, end: run_end });
                p = run_end;
                continue;
            }
        }
        let mut i = usize::from(labelled_other) * groups.len();
        while i < groups.len() {
            // A number inside the run starts after a space, never after `-` or `.`.
            let starts_ok = i == 0 || groups[i].sep == Some(b' ');
            let hit = starts_ok.then(|| phone_at(&groups, i, bytes, run_end)).flatten();
            match hit {
                Some(j) => {
                    found.push(PiiSpan { kind: PiiKind::Phone, start: groups[i].start, end: groups[j - 1].end });
                    i = j;
                }
                None => i += 1,
            }
        }
        p = run_end.max(p + 1);
    }
}

/// The longest phone number made of `groups[i..j]`: its `j`.
fn phone_at(groups: &[Group], i: usize, bytes: &[u8], run_end: usize) -> Option<usize> {
    let ends_ok = |j: usize| {
        if j == groups.len() {
            ends_cleanly(bytes, run_end)
        } else {
            groups[j].sep == Some(b' ')
        }
    };
    // `00` dials abroad only at the start of a number, not inside a longer run
    // (`DE89 3704 0044 0532 0130 01`).
    if i > 0 && groups[i].digits.starts_with("00") {
        return None;
    }
    (i + 1..=groups.len()).rev().find(|&j| is_phone(&groups[i..j]) && ends_ok(j))
}

/// A run of digits inside a candidate number, with what surrounds it.
#[derive(Debug)]
pub(super) struct Group {
    /// First byte, counting a leading `+` or `(`.
    pub(super) start: usize,
    /// Past the last byte, counting a closing `)`.
    pub(super) end: usize,
    pub(super) digits: String,
    pub(super) plus: bool,
    pub(super) paren: bool,
    /// The separator before this group: `Some(b' ' | b'-' | b'.')`, `None` for the first
    /// group or one that follows a `)` directly.
    pub(super) sep: Option<u8>,
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
            // The run ends with the last whole group, not with the separator before a `(`
            // that opens no area code (`4111… (19 digits)`).
            let end = groups.last().map_or(start, |g| g.end);
            return (groups, end);
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

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::*;

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
            ("Büro: +49 (0)30 1234567", "+49 (0)30 1234567"),
            ("London 0044 20 7946 0958.", "0044 20 7946 0958"),
            ("+44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
            ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
            ("+91 98765 43210", "+91 98765 43210"),
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
            "order 555-123-4567",
            "ref ORD-555-123-4567",
            "invoice 2023-555-1234",
            "555-123-4567-89",
            "the 3 4 5 triangle",
            "+2024-01-15",
            "x555-123-4567",
            "555-123-4567x",
            "055-123-4567",
            "price 1,555-123-4567",
            "version 1.555.123",
            "total $12,345.67 or 1.234,56 EUR",
            "at 14:45:12",
            "SKU 448-2210-33",
            "ISBN 978-3-16-148410-0",
            "0000 12 3456 7890",
            "tracking 9400 1000 0000 0000 0000 00",
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
            ("diners 3056 930902 5904", "3056 930902 5904"),
            ("PAN 4249032518695520140 (19 digits)", "4249032518695520140"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::CreditCard, card)], "{text}");
        }
        for negative in [
            "4111 1111 1111 1112",
            "1234 5678 9012 3456",
            "order 12345678901234",
            "4111 1111 1111",
            "reference 4111 1111 1111 1111",
            "8111 1111 1111 1114",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
        assert!(luhn_valid("79927398713") && !luhn_valid("79927398710"));
    }
}
