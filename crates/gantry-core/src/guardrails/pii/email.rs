//! E-mail addresses: a local part, `@`, and a domain of two or more labels ending in an
//! alphabetic top-level domain.

use super::{PiiKind, PiiSpan};

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// A domain with at least two labels, no empty label, no label at a hyphen's edge, and an
/// alphabetic top-level domain of two letters or more that is not an image file's
/// extension (`icon@2x.png` is an asset name, not an address).
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && !matches!(tld.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp")
}

/// Pushes the e-mail addresses in `text`. Only ASCII bytes are matched, so every offset is a
/// char boundary.
pub(super) fn find(text: &str, out: &mut Vec<PiiSpan>) {
    let bytes = text.as_bytes();
    let mut last_end = 0;
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
        if start < at && start >= last_end && valid_domain(&text[at + 1..end]) {
            out.push(PiiSpan { kind: PiiKind::Email, start, end });
            last_end = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;
    use super::super::*;

    #[test]
    fn emails_are_found_and_lookalikes_are_not() {
        assert_eq!(
            found("Write to Ada.Lovelace+news@mail.example.co.uk, or bob@x.io."),
            vec![(PiiKind::Email, "Ada.Lovelace+news@mail.example.co.uk"), (PiiKind::Email, "bob@x.io")]
        );
        for negative in [
            "ping @channel now",
            "user@localhost",
            "a@b.c",
            "me@host.c0m",
            "x@-bad.com",
            "@@",
            "a@.com",
            "use icon@2x.png here",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
        // Non-ASCII text around an address keeps the offsets on char boundaries.
        let text = "schreib an → ada@ex.de, grüße";
        let spans = detect(text);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].start..spans[0].end], "ada@ex.de");
    }
}
