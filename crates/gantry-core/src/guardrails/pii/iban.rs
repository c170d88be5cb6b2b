//! International bank account numbers: a country code, two check digits and the national
//! account number (BBAN), of the length the country uses, passing the ISO 13616 mod-97
//! check; compact (`DE89370400440532013000`) or printed in groups of four.

use super::{PiiKind, PiiSpan};

/// IBAN lengths of the countries that use one (SWIFT's IBAN registry).
#[rustfmt::skip]
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16), ("BG", 22),
    ("BH", 22), ("BR", 29), ("CH", 21), ("CR", 22), ("CY", 28), ("CZ", 24), ("DE", 22), ("DK", 18),
    ("DO", 28), ("EE", 20), ("EG", 29), ("ES", 24), ("FI", 18), ("FO", 18), ("FR", 27), ("GB", 22),
    ("GE", 22), ("GI", 23), ("GL", 18), ("GR", 27), ("GT", 28), ("HR", 21), ("HU", 28), ("IE", 22),
    ("IL", 23), ("IS", 26), ("IT", 27), ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LI", 21),
    ("LT", 20), ("LU", 20), ("LV", 21), ("MC", 27), ("MD", 24), ("ME", 22), ("MK", 19), ("MR", 27),
    ("MT", 31), ("MU", 30), ("NL", 18), ("NO", 15), ("PK", 24), ("PL", 28), ("PS", 29), ("PT", 25),
    ("QA", 29), ("RO", 24), ("RS", 22), ("SA", 24), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27),
    ("TN", 24), ("TR", 26), ("UA", 29), ("VG", 24), ("XK", 20),
];

fn country_length(code: &[u8]) -> Option<usize> {
    LENGTHS.iter().find(|(c, _)| c.as_bytes() == code).map(|&(_, n)| n)
}

/// The remainder of the IBAN (rearranged: BBAN, country, check digits) modulo 97, letters
/// counting as 10..35; 1 means valid.
fn mod97(chars: &[u8]) -> u32 {
    let rearranged = chars[4..].iter().chain(&chars[..4]);
    let mut rest = 0u32;
    for &c in rearranged {
        let value = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
        rest = if value >= 10 { (rest * 100 + value) % 97 } else { (rest * 10 + value) % 97 };
    }
    rest
}

/// Reads `length` IBAN characters from `at`: compact, or in groups of four separated by
/// single spaces (the last group shorter). Returns the characters and where they end.
fn read(bytes: &[u8], at: usize, length: usize) -> Option<(Vec<u8>, usize)> {
    let alnum = |b: u8| b.is_ascii_digit() || b.is_ascii_uppercase();
    let grouped = bytes.get(at + 4) == Some(&b' ');
    let mut chars = Vec::with_capacity(length);
    let mut p = at;
    while chars.len() < length {
        let b = *bytes.get(p)?;
        if alnum(b) {
            chars.push(b);
            p += 1;
        } else if grouped && b == b' ' && chars.len() % 4 == 0 && bytes.get(p + 1).is_some_and(|&n| alnum(n)) {
            p += 1;
        } else {
            return None;
        }
    }
    // Nothing may continue the value: no letter, digit or `-` right after it.
    let continues = bytes.get(p).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-');
    (!continues).then_some((chars, p))
}

/// Pushes the IBANs in `text`.
pub(super) fn find(text: &str, out: &mut Vec<PiiSpan>) {
    let bytes = text.as_bytes();
    let mut p = 0;
    while p + 4 <= bytes.len() {
        let starts = bytes[p].is_ascii_uppercase()
            && bytes[p + 1].is_ascii_uppercase()
            && bytes[p + 2].is_ascii_digit()
            && bytes[p + 3].is_ascii_digit()
            && (p == 0 || !bytes[p - 1].is_ascii_alphanumeric());
        let hit = starts
            .then(|| country_length(&bytes[p..p + 2]))
            .flatten()
            .and_then(|length| read(bytes, p, length))
            .filter(|(chars, _)| mod97(chars) == 1);
        match hit {
            Some((_, end)) => {
                out.push(PiiSpan { kind: PiiKind::Iban, start: p, end });
                p = end;
            }
            None => p += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::super::PiiKind;

    #[test]
    fn ibans_compact_and_grouped() {
        for (text, iban) in [
            ("IBAN: DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
            ("an DE89370400440532013000 bitte", "DE89370400440532013000"),
            ("GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
            ("NL91ABNA0417164300", "NL91ABNA0417164300"),
            ("FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606"),
            ("BE68 5390 0754 7034", "BE68 5390 0754 7034"),
        ] {
            assert_eq!(found(text), vec![(PiiKind::Iban, iban)], "{text}");
        }
        for negative in [
            "DE89 3704 0044 0532 0130 01",
            "DE89370400440532013000123",
            "XDE89370400440532013000",
            "VAT ID DE123456789",
            "DE89 3704 0044 0532 0130",
            "ZZ89370400440532013000",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }
}
