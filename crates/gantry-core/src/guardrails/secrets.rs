//! Credentials in text: provider API keys and tokens recognised by their documented prefixes
//! and shapes, PEM private-key blocks, JSON Web Tokens, and a generic rule for a value
//! assigned to a secret-sounding name (`DB_PASSWORD=…`, `"client_secret": "…"`) that looks
//! random rather than like a word, a placeholder or a code reference.
//!
//! Prefixes carry most of the evidence, so each prefixed kind also checks the shape of what
//! follows (exact length where the issuer fixes one, its alphabet, a word boundary on both
//! sides): `task-force` does not become an OpenAI key because it contains `sk-`. The generic
//! rule needs a name *and* a random-looking value, because either alone is common in ordinary
//! text (`max_tokens: 256`; a git SHA or a UUID in a URL).

mod generic;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// What kind of secret a span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    OpenaiKey,
    AnthropicKey,
    AwsAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    HuggingfaceToken,
    Jwt,
    PrivateKey,
    GenericSecret,
}

/// Every kind, in declaration order.
pub const ALL_KINDS: &[SecretKind] = &[
    SecretKind::OpenaiKey,
    SecretKind::AnthropicKey,
    SecretKind::AwsAccessKey,
    SecretKind::GithubToken,
    SecretKind::GitlabToken,
    SecretKind::SlackToken,
    SecretKind::StripeKey,
    SecretKind::GoogleApiKey,
    SecretKind::HuggingfaceToken,
    SecretKind::Jwt,
    SecretKind::PrivateKey,
    SecretKind::GenericSecret,
];

impl SecretKind {
    /// Stable name, as reports and configuration use it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::OpenaiKey => "openai_key",
            SecretKind::AnthropicKey => "anthropic_key",
            SecretKind::AwsAccessKey => "aws_access_key",
            SecretKind::GithubToken => "github_token",
            SecretKind::GitlabToken => "gitlab_token",
            SecretKind::SlackToken => "slack_token",
            SecretKind::StripeKey => "stripe_key",
            SecretKind::GoogleApiKey => "google_api_key",
            SecretKind::HuggingfaceToken => "huggingface_token",
            SecretKind::Jwt => "jwt",
            SecretKind::PrivateKey => "private_key",
            SecretKind::GenericSecret => "generic_secret",
        }
    }
}

/// One finding: its kind and byte offsets in the text (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretSpan {
    pub kind: SecretKind,
    pub start: usize,
    pub end: usize,
}

/// Every secret in `text`, in order, none overlapping; a prefixed kind wins over the generic
/// rule where both match (`GITHUB_TOKEN=ghp_…` is a GitHub token).
pub fn detect(text: &str) -> Vec<SecretSpan> {
    let mut candidates = prefixed(text);
    candidates.extend(generic::find(text));
    // Specific kinds first, then by position; a candidate overlapping a kept one is dropped.
    candidates.sort_by_key(|s| (s.kind == SecretKind::GenericSecret, s.start, std::cmp::Reverse(s.end)));
    let mut kept: BTreeMap<usize, SecretSpan> = BTreeMap::new();
    for span in candidates {
        let overlaps = kept.range(..span.end).next_back().is_some_and(|(_, k)| k.end > span.start);
        if !overlaps && span.start < span.end {
            kept.insert(span.start, span);
        }
    }
    kept.into_values().collect()
}

// ------------------------------------------------------------------ prefixed kinds

/// How a prefix's body is read and checked.
#[derive(Clone, Copy)]
enum Body {
    /// Exactly `n` characters of the alphabet, then a boundary.
    Exact(fn(u8) -> bool, usize),
    /// At least `n` characters of the alphabet, up to a boundary.
    AtLeast(fn(u8) -> bool, usize),
    /// `-----BEGIN … PRIVATE KEY-----` through its END line.
    Pem,
    /// `header.payload.signature`, the header decoding to JSON with `alg`.
    Jwt,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}
fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
fn gitlab_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Documented prefixes and the shape of what follows each (issuers' docs and the formats
/// the common secret scanners agree on).
#[rustfmt::skip]
const PREFIXES: &[(&str, SecretKind, Body)] = &[
    // Anthropic: `sk-ant-api03-` + 93 base64url characters + `AA`; admin and OAuth keys alike.
    ("sk-ant-", SecretKind::AnthropicKey, Body::AtLeast(base64url, 40)),
    // OpenAI: legacy `sk-` + 48 alphanumerics; project, service-account and admin keys are
    // `sk-proj-`/`sk-svcacct-`/`sk-admin-` + a long base64url body.
    ("sk-", SecretKind::OpenaiKey, Body::AtLeast(base64url, 32)),
    ("AKIA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("ASIA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("AGPA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("AIDA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("AROA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("AIPA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("ANPA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("ANVA", SecretKind::AwsAccessKey, Body::Exact(upper_alnum, 16)),
    ("ghp_", SecretKind::GithubToken, Body::Exact(alnum, 36)),
    ("gho_", SecretKind::GithubToken, Body::Exact(alnum, 36)),
    ("ghu_", SecretKind::GithubToken, Body::Exact(alnum, 36)),
    ("ghs_", SecretKind::GithubToken, Body::Exact(alnum, 36)),
    ("ghr_", SecretKind::GithubToken, Body::Exact(alnum, 36)),
    // Fine-grained: 22 characters, `_`, 59 characters.
    ("github_pat_", SecretKind::GithubToken, Body::AtLeast(alnum_underscore, 70)),
    ("glpat-", SecretKind::GitlabToken, Body::AtLeast(gitlab_char, 20)),
    ("glptt-", SecretKind::GitlabToken, Body::AtLeast(gitlab_char, 20)),
    ("gldt-", SecretKind::GitlabToken, Body::AtLeast(gitlab_char, 20)),
    ("glrt-", SecretKind::GitlabToken, Body::AtLeast(gitlab_char, 20)),
    ("glft-", SecretKind::GitlabToken, Body::AtLeast(gitlab_char, 20)),
    // Bot, user, app-level, refresh and configuration tokens: `xoxb-<team>-<bot>-<secret>`.
    ("xoxb-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxp-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxa-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxr-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxs-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxe-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xoxe.xoxp-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    ("xapp-", SecretKind::SlackToken, Body::AtLeast(alnum_dash, 20)),
    // Secret and restricted keys and webhook signing secrets; publishable `pk_` keys are
    // public by design.
    ("sk_live_", SecretKind::StripeKey, Body::AtLeast(alnum, 24)),
    ("sk_test_", SecretKind::StripeKey, Body::AtLeast(alnum, 24)),
    ("rk_live_", SecretKind::StripeKey, Body::AtLeast(alnum, 24)),
    ("rk_test_", SecretKind::StripeKey, Body::AtLeast(alnum, 24)),
    ("whsec_", SecretKind::StripeKey, Body::AtLeast(alnum, 24)),
    ("AIza", SecretKind::GoogleApiKey, Body::Exact(base64url, 35)),
    ("hf_", SecretKind::HuggingfaceToken, Body::Exact(alnum, 34)),
    ("eyJ", SecretKind::Jwt, Body::Jwt),
    ("-----BEGIN ", SecretKind::PrivateKey, Body::Pem),
];

static PREFIX_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(PREFIXES.iter().map(|(p, _, _)| p)).ok()
});

/// The prefixed secrets in `text`, possibly overlapping.
fn prefixed(text: &str) -> Vec<SecretSpan> {
    let Some(matcher) = PREFIX_MATCHER.as_ref() else { return Vec::new() };
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for m in matcher.find_iter(text) {
        let (_, kind, body) = PREFIXES[m.pattern().as_usize()];
        // Inside a longer word the prefix is a coincidence (`task-…`, `KAKIA…`).
        if m.start() > 0 && alnum(bytes[m.start() - 1]) {
            continue;
        }
        let end = match body {
            Body::Exact(class, n) => run_end(bytes, m.end(), class).filter(|&e| e - m.end() == n),
            Body::AtLeast(class, n) => run_end(bytes, m.end(), class)
                .map(|e| trim_separators(bytes, m.end(), e))
                .filter(|&e| e - m.end() >= n && bytes[m.end()..e].iter().any(u8::is_ascii_digit)),
            Body::Pem => pem_end(text, m.start()),
            Body::Jwt => jwt_end(text, m.start()),
        };
        if let Some(end) = end {
            found.push(SecretSpan { kind, start: m.start(), end });
        }
    }
    found
}

/// Where the run of `class` bytes from `from` ends, if nothing word-like follows it.
fn run_end(bytes: &[u8], from: usize, class: fn(u8) -> bool) -> Option<usize> {
    let end = from + bytes[from..].iter().take_while(|&&b| class(b)).count();
    let continues = bytes.get(end).is_some_and(|&b| alnum(b) || b == b'_' || b == b'-');
    (!continues).then_some(end)
}

/// `end` without trailing separators, which belong to the sentence (`…xyz.` / `…xyz-`).
fn trim_separators(bytes: &[u8], from: usize, mut end: usize) -> usize {
    while end > from && matches!(bytes[end - 1], b'.' | b'-' | b'_') {
        end -= 1;
    }
    end
}

/// The end of a PEM block whose label names a private key (`RSA PRIVATE KEY`, `PRIVATE KEY`,
/// `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`): past its END
/// line, or, for a block cut off before it, past the last line of its body, so a truncated
/// paste is still covered whole.
fn pem_end(text: &str, start: usize) -> Option<usize> {
    let label_start = start + "-----BEGIN ".len();
    let label_len = text[label_start..].find("-----")?;
    let label = &text[label_start..label_start + label_len];
    if !label.contains("PRIVATE KEY") || label.len() > 40 || label.contains('\n') {
        return None;
    }
    let body_start = label_start + label_len + 5;
    let end_line = format!("-----END {label}-----");
    if let Some(at) = text[body_start..].find(&end_line) {
        return Some(body_start + at + end_line.len());
    }
    // Cut off before its END line: the base64 lines, the encryption headers
    // (`Proc-Type: 4,ENCRYPTED`) and blank lines that follow, lines split by real newlines
    // or by escaped ones (`\n` inside a JSON string).
    let mut end = body_start;
    let mut p = body_start;
    while p < text.len() {
        let rest = &text[p..];
        let (line_len, sep_len) = match (rest.find('\n'), rest.find("\\n")) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 1),
            (None, Some(b)) => (b, 2),
            (None, None) => (rest.len(), 0),
        };
        let line = rest[..line_len].trim_end_matches('\r');
        let base64 =
            !line.is_empty() && line.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        let header = ["Proc-Type:", "DEK-Info:", "Comment:", "Version:"].iter().any(|h| line.starts_with(h));
        if base64 || header {
            end = p + line.len();
        } else if !line.is_empty() {
            break;
        }
        p += line_len + sep_len;
        if sep_len == 0 {
            break;
        }
    }
    Some(end)
}

/// The end of a JSON Web Token starting at `start`: three base64url parts joined by dots,
/// a signature present (unsigned tokens carry no credential), and a header that decodes to
/// a JSON object naming its algorithm.
fn jwt_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut parts = [(0usize, 0usize); 3];
    let mut p = start;
    for (i, part) in parts.iter_mut().enumerate() {
        let end = p + bytes[p..].iter().take_while(|&&b| base64url(b)).count();
        *part = (p, end);
        if i < 2 {
            if bytes.get(end) != Some(&b'.') {
                return None;
            }
            p = end + 1;
        } else {
            p = end;
        }
    }
    // A fourth part makes it something else (`a.b.c.d`); a full stop ends the sentence.
    let fourth = bytes.get(p) == Some(&b'.') && bytes.get(p + 1).is_some_and(|&b| base64url(b));
    if parts.iter().any(|&(s, e)| s == e) || fourth {
        return None;
    }
    let header = URL_SAFE_NO_PAD.decode(&text[parts[0].0..parts[0].1]).ok()?;
    let header: HashMap<String, serde_json::Value> = serde_json::from_slice(&header).ok()?;
    header.contains_key("alg").then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(SecretKind, &str)> {
        detect(text).into_iter().map(|s| (s.kind, &text[s.start..s.end])).collect()
    }

    /// Made-up values in each issuer's format (none of them was ever issued).
    const OPENAI_LEGACY: &str = "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";
    const OPENAI_PROJECT: &str = "sk-proj-u2RJtBRnlWmTSHf6pWkLUyifDLkDmWJ6UuVTAIjvFu7WICPhDeOZIiBOB_Y6";
    const ANTHROPIC: &str = "sk-ant-api03-sHrFH2ZUCr_lgotu2iXW7GboIRoL3u6aHwnMztVuaP-coUNEhEkk-iqq8vH2AA";
    const AWS: &str = "AKIAN8MTZX272HPOEVB9";
    const GITHUB: &str = "ghp_oLoaeTOdoe5c3veGprQFnIiU74KKEpYEZAmg";
    const GITHUB_PAT: &str =
        "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";
    const GITLAB: &str = "glpat-sn9dLVIdVuddLEG62Hkd";
    const SLACK: &str = "xoxb-812191361939-9091699854353-qziQPtDu7W7eaDNKgeInGqi7";
    const STRIPE: &str = "sk_live_w4e4pxskC1ITtNZPHaQ0Jt7Q";
    const GOOGLE: &str = "AIzanrHontIKARAH-Ggl2JfaQqHu42bojteVs3q";
    const HUGGINGFACE: &str = "hf_ctx57Y3c5wnRpQgwXJ43ANVj77p3kZZl4A";
    /// `{"alg":"HS256","typ":"JWT"}` . `{"sub":"1234567890","name":"Ada","iat":1516239022}` . signature
    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSIsImlhdCI6MTUxNjIzOTAyMn0.dwQ0FIunWe8Cz6SNDCdyZQJiJSZQdoHwHen3SO3oXyG";

    #[test]
    fn every_prefixed_kind_in_context() {
        for (kind, value) in [
            (SecretKind::OpenaiKey, OPENAI_LEGACY),
            (SecretKind::OpenaiKey, OPENAI_PROJECT),
            (SecretKind::AnthropicKey, ANTHROPIC),
            (SecretKind::AwsAccessKey, AWS),
            (SecretKind::GithubToken, GITHUB),
            (SecretKind::GithubToken, GITHUB_PAT),
            (SecretKind::GitlabToken, GITLAB),
            (SecretKind::SlackToken, SLACK),
            (SecretKind::StripeKey, STRIPE),
            (SecretKind::GoogleApiKey, GOOGLE),
            (SecretKind::HuggingfaceToken, HUGGINGFACE),
            (SecretKind::Jwt, JWT),
        ] {
            for text in [
                value.to_string(),
                format!("export KEY={value}"),
                format!("use \"{value}\", then"),
                format!("my key is {value}."),
                format!("Authorization: Bearer {value}\n"),
            ] {
                assert_eq!(found(&text), vec![(kind, value)], "{text}");
            }
        }
    }

    #[test]
    fn prefixes_inside_words_or_with_the_wrong_shape_are_not_keys() {
        for negative in [
            "the task-force-1234567890abcdefghijklmnopqrstuvwxyz met",
            "sk-short123",
            "sk-learn is a library",
            "sk-this-is-a-very-long-hyphenated-phrase-without-digits",
            "AKIA1234",
            "AKIAN8MTZX272HPOEVB9X",
            "XAKIAN8MTZX272HPOEVB9",
            "ghp_oLoaeTOdoe5c3veGprQFnIiU74KKEpYEZAm",
            "ghp_oLoaeTOdoe5c3veGprQFnIiU74KKEpYEZAmgX",
            "pk_live_w4e4pxskC1ITtNZPHaQ0Jt7Q",
            "sk_live_short1",
            "AIzanrHontIKARAH-Ggl2JfaQqHu42bojteVs3",
            "hf_ctx57Y3c5wnRpQgwXJ43",
            "xoxb-token",
            "glpat-short1",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }

    #[test]
    fn jwts_need_a_header_with_an_algorithm_and_a_signature() {
        let no_alg =
            "eyJ0eXAiOiJ4In0.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSIsImlhdCI6MTUxNjIzOTAyMn0.f3azU3iQOpMN0PZ";
        let (header, payload) = JWT.split_once('.').unwrap();
        let payload = payload.rsplit_once('.').unwrap().0;
        for negative in [
            no_alg.to_string(),
            format!("{header}.{payload}"),
            format!("{header}.{payload}."),
            format!("{header}.{payload}.abc.def"),
            "eyJnotbase64!.eyJ.x".to_string(),
        ] {
            assert_eq!(found(&negative), vec![], "{negative}");
        }
    }

    #[test]
    fn private_key_blocks_whole_truncated_and_escaped() {
        let block =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpF\n\
                     uSeXWrDdPv4gQfMjkVvMVtvD0ZrqKdrw0gKQ7LKQ/8Jt0Zc0Bv8E6n1I7dF6Z1T0\n-----END RSA PRIVATE KEY-----";
        let text = format!("here is the key:\n{block}\nthanks");
        assert_eq!(found(&text), vec![(SecretKind::PrivateKey, block)]);

        let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(found(openssh), vec![(SecretKind::PrivateKey, openssh)]);

        // Inside a JSON service-account file the newlines are escaped.
        let escaped = r"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
        let json = format!("{{\"private_key\": \"{escaped}\", \"client_email\": \"x\"}}");
        let key = &escaped[..escaped.len() - 2];
        assert_eq!(found(&json), vec![(SecretKind::PrivateKey, key)]);

        // Cut off mid-paste: everything up to the last base64 line.
        let cut = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oFbsHQ3rVyh\nMHcCAQEEIBkg4LV";
        assert_eq!(found(&format!("{cut}\n\nCan you help?")), vec![(SecretKind::PrivateKey, cut)]);

        for negative in [
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----",
            "a PEM file starts with -----BEGIN and ends with -----END",
        ] {
            assert_eq!(found(negative), vec![], "{negative}");
        }
    }

    #[test]
    fn a_known_prefix_wins_over_the_generic_rule() {
        assert_eq!(found(&format!("GITHUB_TOKEN={GITHUB}")), vec![(SecretKind::GithubToken, GITHUB)]);
    }

    #[test]
    fn spans_are_sorted_and_disjoint_across_kinds() {
        let text = format!("a={AWS} b={JWT}\npassword: an2Cw^7gFp6r7O4#25 and {STRIPE}");
        let spans = detect(&text);
        let kinds: Vec<SecretKind> = spans.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [SecretKind::AwsAccessKey, SecretKind::Jwt, SecretKind::GenericSecret, SecretKind::StripeKey]
        );
        assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
        let names: Vec<&str> = ALL_KINDS.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 12);
        assert!(names.contains(&"openai_key") && names.contains(&"generic_secret"));
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
