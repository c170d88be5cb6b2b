//! The generic secret rule: a value assigned to a secret-sounding name (`DB_PASSWORD=…`,
//! `"client_secret": "…"`, `Authorization: Bearer …`) that looks random rather than like a
//! word, a placeholder or a code reference. The name alone is common in ordinary text
//! (`max_tokens: 256`), and so are random-looking values without one (git SHAs, UUIDs in
//! URLs), so the rule needs both.

use super::{trim_separators, SecretKind, SecretSpan};
use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::LazyLock;

/// Parts of a name that make the value assigned to it a secret (matched case-insensitively
/// anywhere inside the name: `DB_PASSWORD`, `aws_secret_access_key`, `x-api-key`).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "auth_key",
    "private_key",
    "credential",
    "credentials",
    "authorization",
    "bearer",
];

static NAME_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder().ascii_case_insensitive(true).match_kind(MatchKind::LeftmostLongest).build(SECRET_NAMES).ok()
});

/// Values with a digit: below this many bits per character a value reads as a word, a date
/// or a number with some letters (`2024-01-15T10:30:00Z` is 3.0, random 16-character
/// base62 values are 3.5 on the 5th percentile). Chosen in `entropy_threshold_separates`.
const MIN_ENTROPY_WITH_DIGIT: f64 = 3.3;
/// Values without a digit: entropy alone does not tell camel-case names
/// (`AbstractTokenProvider` is 3.9) from random letters (16 random base62 letters are 3.5 on
/// the 5th percentile), so these also need upper and lower case in similar measure, which
/// random letters have and names, with one capital a word, do not.
const MIN_ENTROPY_WITHOUT_DIGIT: f64 = 3.5;
/// The share of capitals among the letters of a digit-free value, for it to look random.
const CAPITALS_SHARE: std::ops::RangeInclusive<f64> = 0.25..=0.75;
/// Hexadecimal values use 16 symbols, so their entropy tops out at 4 bits: a 16-digit
/// random hex value is 2.85 on the 5th percentile.
const MIN_ENTROPY_HEX: f64 = 2.8;
/// Shorter values are too often ordinary settings (`true`, `bearer`, `4096`, `hunter2`).
const MIN_VALUE_LEN: usize = 12;

/// Shannon entropy of the bytes of `value`, in bits per byte.
fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
}

/// Whether a value assigned to a secret-sounding name is itself a credential rather than a
/// placeholder, a reference to one, or a word.
fn looks_random(value: &str) -> bool {
    if value.len() < MIN_VALUE_LEN || value.len() > 1024 || is_reference_or_placeholder(value) {
        return false;
    }
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_alpha = value.bytes().any(|b| b.is_ascii_alphabetic());
    if !has_alpha {
        return false;
    }
    let hex = value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let h = entropy(value);
    if hex && has_digit {
        h >= MIN_ENTROPY_HEX
    } else if has_digit {
        h >= MIN_ENTROPY_WITH_DIGIT
    } else {
        let letters = value.bytes().filter(u8::is_ascii_alphabetic).count() as f64;
        let capitals = value.bytes().filter(u8::is_ascii_uppercase).count() as f64;
        h >= MIN_ENTROPY_WITHOUT_DIGIT && CAPITALS_SHARE.contains(&(capitals / letters))
    }
}

/// Template variables, environment references, calls, masked values and dotted or
/// upper-case names: what configuration files put where a secret would go.
fn is_reference_or_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let marker = ["${", "{{", "<", "(", "[", "%(", "xxxx", "****", "...", "•", "your_", "your-", "example", "changeme"]
        .iter()
        .any(|m| lower.contains(m));
    let sigil = value.starts_with(['$', '%', '@', '&', '*', '!', '#']);
    let identifier = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
    };
    let dotted = value.contains('.') && value.split('.').all(identifier);
    let constant =
        value.contains('_') && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let path = value.starts_with(['/', '~', '.']) || (value.starts_with("http") && !value.contains(['?', '@']));
    marker || sigil || dotted || constant || path
}

/// Whether the keyword ending at `end` ends a word of the name: `api_token`, `apiToken` and
/// `TOKEN` do, `tokenizer` and `tokens` (counts and models, not credentials) do not.
fn keyword_ends_word(text: &str, end: usize) -> bool {
    let bytes = text.as_bytes();
    match bytes.get(end) {
        Some(b) if b.is_ascii_lowercase() => false,
        Some(b) if b.is_ascii_uppercase() => bytes[end - 1].is_ascii_lowercase(),
        _ => true,
    }
}

fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Values assigned to a secret-sounding name, which look random.
pub(super) fn find(text: &str) -> Vec<SecretSpan> {
    let Some(matcher) = NAME_MATCHER.as_ref() else { return Vec::new() };
    let bytes = text.as_bytes();
    let mut found: Vec<SecretSpan> = Vec::new();
    let mut name_end_seen = 0;
    for m in matcher.find_iter(text) {
        // The whole name around the keyword, checked once (`API_TOKEN_SECRET` has two).
        let name_end = m.end() + bytes[m.end()..].iter().take_while(|&&b| name_byte(b)).count();
        if name_end <= name_end_seen || !keyword_ends_word(text, m.end()) {
            continue;
        }
        name_end_seen = name_end;
        let bearer = text[m.start()..m.end()].eq_ignore_ascii_case("bearer");
        if let Some((start, end)) = assigned_value(text, name_end, bearer) {
            if looks_random(&text[start..end]) {
                found.push(SecretSpan { kind: SecretKind::GenericSecret, start, end });
            }
        }
    }
    found
}

/// The value after a name: `= v`, `: v`, `:= v`, `=> v`, `"name": "v"`, optionally behind an
/// auth scheme (`Authorization: Bearer v`); after `Bearer` itself a space is enough.
fn assigned_value(text: &str, mut p: usize, bearer: bool) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let skip = |p: &mut usize, set: &[u8]| {
        while bytes.get(*p).is_some_and(|b| set.contains(b)) {
            *p += 1;
        }
    };
    skip(&mut p, b"\"'`");
    skip(&mut p, b" \t");
    let before_sep = p;
    match (bytes.get(p), bytes.get(p + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => p += 2,
        (Some(b':' | b'='), _) => p += 1,
        _ if bearer && before_sep > 0 && bytes[before_sep - 1] == b' ' => {}
        _ => return None,
    }
    skip(&mut p, b" \t");
    for scheme in ["Bearer ", "bearer ", "Basic ", "Token ", "token "] {
        if text[p..].starts_with(scheme) {
            p += scheme.len();
        }
    }
    let quote = bytes.get(p).copied().filter(|b| matches!(b, b'"' | b'\'' | b'`'));
    if let Some(q) = quote {
        let start = p + 1;
        let len = bytes[start..].iter().position(|&b| b == q || b == b'\n')?;
        return (bytes[start + len] == q).then_some((start, start + len));
    }
    let start = p;
    let len = bytes[start..]
        .iter()
        .take_while(|&&b| {
            !b.is_ascii_whitespace()
                && !matches!(b, b',' | b';' | b'&' | b'"' | b'\'' | b'`' | b')' | b']' | b'}' | b'>')
        })
        .count();
    let end = trim_separators(bytes, start, start + len);
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::super::{detect, SecretKind};
    use super::*;

    fn found(text: &str) -> Vec<(SecretKind, &str)> {
        detect(text).into_iter().map(|s| (s.kind, &text[s.start..s.end])).collect()
    }

    #[test]
    fn generic_secrets_are_random_values_assigned_to_secret_names() {
        for (text, value) in [
            ("DB_PASSWORD=an2Cw^7gFp6r7O4#25", "an2Cw^7gFp6r7O4#25"),
            ("\"client_secret\": \"d8f7a6b5c4e3f2a1b0c9d8e7f6a5b4c3\",", "d8f7a6b5c4e3f2a1b0c9d8e7f6a5b4c3"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9x8kP2",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9x8kP2",
            ),
            ("Authorization: Bearer jbcpEN2XeDA4OKmTSyFzpjPS\r\n", "jbcpEN2XeDA4OKmTSyFzpjPS"),
            ("curl -H 'x-api-key: jbcpEN2XeDA4OKmTSyFzpjPS'", "jbcpEN2XeDA4OKmTSyFzpjPS"),
            ("api_key: 550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"),
            ("password := \"s3cr3tP@ssw0rd!2024\"", "s3cr3tP@ssw0rd!2024"),
            ("https://api.example.com/v1?token=jbcpEN2XeDA4OKmTSyFzpjPS&page=2", "jbcpEN2XeDA4OKmTSyFzpjPS"),
            ("SLACK_SIGNING_SECRET => 'a8F3kQ9zL2mX7vB4nR6tY1wP'", "a8F3kQ9zL2mX7vB4nR6tY1wP"),
        ] {
            assert_eq!(found(text), vec![(SecretKind::GenericSecret, value)], "{text}");
        }
    }

    #[test]
    fn names_with_ordinary_values_and_random_values_without_names_are_not_secrets() {
        for negative in [
            "max_tokens: 256",
            "token_type: bearer",
            "password: hunter2",
            "password: ${DB_PASSWORD}",
            "token: {{ secrets.GITHUB_TOKEN }}",
            "secret_key_base: Rails.application.credentials",
            "api_key: your-api-key-here",
            "password = os.environ[\"DB_PASSWORD\"]",
            "SECRET_KEY = settings.SECRET_KEY",
            "api_key=REPLACE_WITH_YOUR_TOKEN",
            "token: getAccessTokenSilently",
            "password: ****************",
            "password_file: /run/secrets/db_password",
            "tokenizer: meta-llama/Llama-3.1-8B-Instruct",
            "The secret to good bread is patience.",
            "Your token: it expires at 2024-01-15T10:30:00Z.",
            "GET https://shop.example.com/orders/550e8400-e29b-41d4-a716-446655440000/items",
            "fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "Internationalization and localization are hard problems.",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }

    /// Deterministic pseudo-random strings for measuring the entropy thresholds.
    fn random_strings(alphabet: &[u8], len: usize, count: usize) -> Vec<String> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..count)
            .map(|_| {
                (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from(alphabet[(state % alphabet.len() as u64) as usize])
                    })
                    .collect()
            })
            .collect()
    }

    /// The thresholds are where they are because of these measurements: every word-like,
    /// placeholder or reference value falls below, and at least 95% of random values of
    /// the usual secret lengths and alphabets pass.
    #[test]
    fn entropy_threshold_separates_random_values_from_words() {
        let words = [
            "your-api-key-here",
            "not_a_real_secret",
            "ChangeMeLater",
            "placeholder-value",
            "correcthorsebatterystaple",
            "REPLACE_WITH_YOUR_TOKEN",
            "MySecretPassword",
            "RequiredFieldValidator",
            "AbstractTokenProvider",
            "getAccessTokenSilently",
            "application/json",
            "2024-01-15T10:30:00Z",
            "hunter2hunter2",
            "1234567890123456",
            "Rails.application.credentials",
            "process.env.API_KEY",
            "secrets.GITHUB_TOKEN",
        ];
        for word in words {
            assert!(!looks_random(word), "{word}: entropy {:.2}", entropy(word));
        }
        let base62: Vec<u8> = (b'a'..=b'z').chain(b'A'..=b'Z').chain(b'0'..=b'9').collect();
        let hex: Vec<u8> = (b'0'..=b'9').chain(b'a'..=b'f').collect();
        for (alphabet, len) in [(&base62, 16), (&base62, 24), (&base62, 40), (&hex, 20), (&hex, 32), (&hex, 40)] {
            let values = random_strings(alphabet, len, 1000);
            let passed = values.iter().filter(|v| looks_random(v)).count();
            assert!(passed >= 950, "{len} of {} symbols: {passed}/1000 pass", alphabet.len());
        }
        assert!((entropy("aaaa") - 0.0).abs() < 1e-9 && (entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
