//! Guarding a streamed response: text is held back until no entity can still be growing at
//! its end, so a client never receives part of a value before the guardrail has decided about
//! it. What is released has been scanned, redacted and restored like a whole response.

use super::config::GuardRule;
use super::engine::{blocked, GuardState, Guardrails};
use super::scan::{scan, Finding};
use super::vault::Vault;
use crate::error::GatewayError;
use gantry_types::{GuardAction, GuardHit, GuardStage};
use std::sync::Arc;

/// Characters held back at the end of the pending text: longer than any e-mail, phone, card,
/// IBAN, token or placeholder the scanners expect to see whole.
pub const HOLD_BACK_CHARS: usize = 96;

/// The output side of a guarded stream (one choice).
pub struct StreamGuard {
    guardrails: Arc<Guardrails>,
    state: GuardState,
    /// The output rules, taken from the state once rather than on every delta.
    rules: Vec<GuardRule>,
    pending: String,
    /// Bytes of model output already released, so hit offsets refer to the whole response.
    released: usize,
}

impl StreamGuard {
    pub(crate) fn new(guardrails: Arc<Guardrails>, mut state: GuardState) -> Self {
        let rules = state.take_output_rules();
        Self { guardrails, state, rules, pending: String::new(), released: 0 }
    }

    /// Takes a delta of model output; returns the text that may go to the client now.
    pub fn push(&mut self, delta: &str) -> Result<String, GatewayError> {
        self.pending.push_str(delta);
        let findings = self.scan_pending()?;
        let cut = self.safe_cut(&findings);
        self.release(cut, &findings)
    }

    /// The end of the output: everything still held, checked.
    pub fn finish(&mut self) -> Result<String, GatewayError> {
        let findings = self.scan_pending()?;
        self.release(self.pending.len(), &findings)
    }

    /// The hits so far (input and output), for the trace.
    pub fn take_hits(&mut self) -> Vec<GuardHit> {
        std::mem::take(&mut self.state.hits)
    }

    /// Findings of every output rule in the pending text; a block rule that finds anything
    /// stops the stream at once.
    fn scan_pending(&mut self) -> Result<Vec<(usize, Finding)>, GatewayError> {
        let mut all = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let findings: Vec<Finding> =
                scan(&rule.scanner, &self.pending).into_iter().filter(|f| rule.wants(&f.entity)).collect();
            if rule.action == GuardAction::Block && !findings.is_empty() {
                let shifted = self.shifted(&findings);
                self.guardrails.record(&mut self.state.hits, rule, GuardStage::Output, Some(0), &shifted);
                return Err(blocked(rule, GuardStage::Output, &findings));
            }
            all.extend(findings.into_iter().map(|f| (i, f)));
        }
        Ok(all)
    }

    fn shifted(&self, findings: &[Finding]) -> Vec<Finding> {
        findings
            .iter()
            .map(|f| Finding { start: f.start + self.released, end: f.end + self.released, ..f.clone() })
            .collect()
    }

    /// The largest prefix of the pending text that no entity can still extend.
    fn safe_cut(&self, findings: &[(usize, Finding)]) -> usize {
        let text = &self.pending;
        let held_from = text.char_indices().rev().nth(HOLD_BACK_CHARS - 1).map_or(0, |(i, _)| i);
        let mut cut = held_from;
        // A finding that reaches into the held part is released whole or not at all.
        for (_, f) in findings {
            if f.start < cut && f.end > cut {
                cut = f.start;
            }
        }
        // A private-key block can be longer than the hold-back: hold from its start to its end.
        if let Some(begin) = text[..cut].rfind("-----BEGIN") {
            if !text[begin..].contains("-----END") {
                cut = begin;
            }
        }
        if let Some(open) = Vault::open_placeholder_at(&text[..cut]) {
            cut = open;
        }
        cut
    }

    /// Releases `pending[..cut]` with the findings inside it applied.
    fn release(&mut self, cut: usize, findings: &[(usize, Finding)]) -> Result<String, GatewayError> {
        if cut == 0 {
            return Ok(String::new());
        }
        let head: String = self.pending.drain(..cut).collect();
        let mut inside: Vec<Finding> = Vec::new();
        for (i, f) in findings.iter().filter(|(_, f)| f.end <= cut) {
            let Some(rule) = self.rules.get(*i) else { continue };
            let shifted = self.shifted(std::slice::from_ref(f));
            self.guardrails.record(&mut self.state.hits, rule, GuardStage::Output, Some(0), &shifted);
            if rule.action == GuardAction::Redact {
                inside.push(f.clone());
            }
        }
        super::scan::without_overlaps(&mut inside);
        let mut text = if inside.is_empty() { head.clone() } else { self.state.vault.redact(&head, &inside, false) };
        if self.state.vault.can_restore() {
            text = self.state.vault.restore(&text);
        }
        self.released += head.len();
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::config::{parse_rules_for_tests, GuardSettings};

    async fn guard(rules_toml: &str) -> (tempfile::TempDir, StreamGuard) {
        let dir = tempfile::tempdir().unwrap();
        let store = gantry_store::open_store(None, dir.path()).await.unwrap();
        let settings = GuardSettings { redact_traces: false, rules: parse_rules_for_tests(rules_toml) };
        let guardrails = Arc::new(Guardrails::new(settings.clone(), None, store));
        let state = GuardState::for_output(settings.rules);
        (dir, StreamGuard::new(guardrails, state))
    }

    /// Feeds `text` in pieces of `size` characters; returns what each push released and the end.
    fn feed(guard: &mut StreamGuard, text: &str, size: usize) -> Result<Vec<String>, GatewayError> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        for piece in chars.chunks(size) {
            out.push(guard.push(&piece.iter().collect::<String>())?);
        }
        out.push(guard.finish()?);
        Ok(out)
    }

    #[tokio::test]
    async fn values_split_across_deltas_are_released_only_whole_and_redacted() {
        let text = "Write to anna.schmidt@example.org or call +49 30 901820 12, thanks! ".repeat(3);
        for size in [1, 3, 7, 50] {
            let (_dir, mut guard) = guard("scanner = \"pii\"\naction = \"redact\"\nstages = [\"output\"]").await;
            let released = feed(&mut guard, &text, size).unwrap();
            for piece in &released {
                for part in ["anna", "example.org", "901820"] {
                    assert!(!piece.contains(part), "size {size}: {piece:?} leaks {part}");
                }
            }
            let joined: String = released.concat();
            assert_eq!(joined, "Write to <EMAIL_1> or call <PHONE_1>, thanks! ".repeat(3), "size {size}");
            // Something was released before the end: the stream is not buffered whole.
            assert!(released[..released.len() - 1].iter().any(|p| !p.is_empty()), "size {size}");
            let hits = guard.take_hits();
            assert_eq!(hits.len(), 6, "size {size}: {hits:?}");
            let first = text.find("anna").unwrap();
            assert_eq!((hits[0].start, hits[0].end), (first, first + "anna.schmidt@example.org".len()));
            assert_eq!(hits[2].start, first + text.len() / 3);
        }
    }

    #[tokio::test]
    async fn a_block_rule_stops_before_the_value_is_released() {
        let (_dir, mut guard) =
            guard("scanner = \"banned\"\naction = \"block\"\nwords = [\"project falcon\"]\nstages = [\"output\"]")
                .await;
        let text = format!("{} The codename is Project Falcon and more.", "Some harmless words. ".repeat(10));
        let chars: Vec<char> = text.chars().collect();
        let mut released = String::new();
        let mut error = None;
        for piece in chars.chunks(4) {
            match guard.push(&piece.iter().collect::<String>()) {
                Ok(t) => released.push_str(&t),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let error = error.expect("the banned phrase blocks the stream");
        assert_eq!(error.code(), "guardrail_banned");
        assert!(!released.to_lowercase().contains("falcon"), "{released}");
        assert!(released.starts_with("Some harmless words."), "{released}");
    }

    #[tokio::test]
    async fn a_private_key_longer_than_the_hold_back_is_held_whole() {
        let body = "A".repeat(300);
        let key = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----");
        let (_dir, mut guard) = guard("scanner = \"secrets\"\naction = \"redact\"\nstages = [\"output\"]").await;
        let released = feed(&mut guard, &format!("key: {key} done"), 5).unwrap();
        assert!(released.iter().all(|p| !p.contains("AAAA")), "{released:?}");
        assert_eq!(released.concat(), "key: <PRIVATE_KEY_1> done");
    }
}
