//! Typed placeholders for one request: the same value gets the same placeholder in every
//! message (`<EMAIL_1>` twice for one address), and the originals can be put back into the
//! response the client sees.

use super::scan::Finding;
use std::collections::HashMap;

/// The placeholders handed out within one request.
#[derive(Debug, Default, Clone)]
pub struct Vault {
    by_value: HashMap<(String, String), String>,
    next: HashMap<String, usize>,
    /// placeholder -> original, for the values a `restore` rule redacted.
    restorable: Vec<(String, String)>,
}

/// How values of a kind are compared: numbers by their digits, the rest case-insensitively.
fn comparable(entity: &str, value: &str) -> String {
    let digits: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
    match entity {
        "phone" | "credit_card" | "iban" | "us_ssn" | "de_tax_id" => digits.to_uppercase(),
        _ => value.to_lowercase(),
    }
}

impl Vault {
    /// The placeholder of `value` found as `entity`, handing out the next number if new.
    pub fn placeholder(&mut self, entity: &str, value: &str, restorable: bool) -> String {
        let key = (entity.to_string(), comparable(entity, value));
        let placeholder = match self.by_value.get(&key) {
            Some(p) => p.clone(),
            None => {
                let n = self.next.entry(entity.to_string()).or_insert(0);
                *n += 1;
                let tag: String = entity
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                    .collect();
                let p = format!("<{tag}_{n}>");
                self.by_value.insert(key, p.clone());
                p
            }
        };
        if restorable && !self.restorable.iter().any(|(p, _)| *p == placeholder) {
            self.restorable.push((placeholder.clone(), value.to_string()));
        }
        placeholder
    }

    /// `text` with each finding (sorted, not overlapping) replaced by its placeholder.
    pub fn redact(&mut self, text: &str, findings: &[Finding], restorable: bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for f in findings {
            let (Some(before), Some(value)) = (text.get(copied..f.start), text.get(f.start..f.end)) else { continue };
            out.push_str(before);
            out.push_str(&self.placeholder(&f.entity, value, restorable));
            copied = f.end;
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }

    /// Whether any value can be restored.
    pub fn can_restore(&self) -> bool {
        !self.restorable.is_empty()
    }

    /// `text` with every restorable placeholder replaced by its original value.
    pub fn restore(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (placeholder, original) in &self.restorable {
            if out.contains(placeholder.as_str()) {
                out = out.replace(placeholder.as_str(), original);
            }
        }
        out
    }

    /// Where a placeholder might be cut in two at the end of `text`: the byte offset of an
    /// unclosed `<` near the end, so a stream can hold the rest back until it closes.
    pub fn open_placeholder_at(text: &str) -> Option<usize> {
        let from = text.len().saturating_sub(32);
        let tail_start = (from..=text.len()).find(|&i| text.is_char_boundary(i))?;
        let open = tail_start + text[tail_start..].rfind('<')?;
        (!text[open..].contains('>')).then_some(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(entity: &str, start: usize, end: usize) -> Finding {
        Finding { entity: entity.to_string(), start, end, score: 1.0, reason: None }
    }

    #[test]
    fn one_value_one_placeholder_across_texts() {
        let mut vault = Vault::default();
        let a = vault.redact("mail Jane@x.io now", &[finding("email", 5, 14)], true);
        let b =
            vault.redact("again jane@x.io and bob@y.io", &[finding("email", 6, 15), finding("email", 20, 28)], true);
        assert_eq!(a, "mail <EMAIL_1> now");
        assert_eq!(b, "again <EMAIL_1> and <EMAIL_2>");
        assert_eq!(vault.restore("write to <EMAIL_2>, cc <EMAIL_1>"), "write to bob@y.io, cc Jane@x.io");
    }

    #[test]
    fn numbers_compare_by_digits_and_unrestorable_values_stay_hidden() {
        let mut vault = Vault::default();
        let p1 = vault.placeholder("phone", "+1 (415) 555-0100", false);
        let p2 = vault.placeholder("phone", "+1 415 555 0100", false);
        assert_eq!(p1, p2);
        assert!(!vault.can_restore());
        assert_eq!(vault.restore("call <PHONE_1>"), "call <PHONE_1>");
    }

    #[test]
    fn an_unclosed_placeholder_at_the_end_is_found() {
        assert_eq!(Vault::open_placeholder_at("hello <EMA"), Some(6));
        assert_eq!(Vault::open_placeholder_at("hello <EMAIL_1> there"), None);
        assert_eq!(Vault::open_placeholder_at("a < b is true and much more text follows after it"), None);
    }
}
