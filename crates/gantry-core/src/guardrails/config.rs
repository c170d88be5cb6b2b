//! `[guardrails]` in `gantry.toml`: which scanners run on which models and prompts, on which
//! side of the call, and what they do when they find something.

use gantry_types::{GuardAction, GuardStage};
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// `[guardrails]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrails {
    /// Stored traces hold placeholders instead of every PII value and secret found in them.
    pub redact_traces: Option<bool>,
    #[serde(default)]
    pub rules: Vec<RawGuardRule>,
}

/// `[[guardrails.rules]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardRule {
    pub name: Option<String>,
    pub scanner: String,
    pub action: String,
    /// `input`, `output` or both (the default; prompt injection defaults to input only).
    pub stages: Option<Vec<String>>,
    /// With `redact` on the input: put the original values back into the response.
    pub restore: Option<bool>,
    /// Entity types to act on (`email`, `iban`, `aws_access_key`, ...); every type when absent.
    pub entities: Option<Vec<String>>,
    /// Prompt injection: the score from which a text counts as an attack.
    pub threshold: Option<f64>,
    /// Regex scanner: entity name -> pattern.
    pub patterns: Option<BTreeMap<String, String>>,
    /// Banned-substring scanner: matched case-insensitively.
    pub words: Option<Vec<String>>,
    /// Model names (as clients send them) the rule applies to; every model when absent.
    pub models: Option<Vec<String>>,
    /// Registered prompt names the rule applies to (calls through `prompt:NAME`).
    pub prompts: Option<Vec<String>>,
}

/// The detector a rule runs.
#[derive(Debug, Clone)]
pub enum ScannerKind {
    Pii,
    Secrets,
    Injection { threshold: f64 },
    Regex { patterns: Vec<(String, Regex)> },
    Banned { words: Vec<String> },
}

impl ScannerKind {
    /// The scanner's name, as hits and error codes carry it.
    pub fn name(&self) -> &'static str {
        match self {
            ScannerKind::Pii => "pii",
            ScannerKind::Secrets => "secrets",
            ScannerKind::Injection { .. } => "injection",
            ScannerKind::Regex { .. } => "regex",
            ScannerKind::Banned { .. } => "banned",
        }
    }

    /// The error code of a call this scanner blocked.
    pub fn block_code(&self) -> &'static str {
        match self {
            ScannerKind::Pii => "guardrail_pii",
            ScannerKind::Secrets => "guardrail_secrets",
            ScannerKind::Injection { .. } => "guardrail_injection",
            ScannerKind::Regex { .. } => "guardrail_regex",
            ScannerKind::Banned { .. } => "guardrail_banned",
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct GuardRule {
    pub name: String,
    pub scanner: ScannerKind,
    pub action: GuardAction,
    pub stages: BTreeSet<GuardStage>,
    pub restore: bool,
    pub entities: Option<BTreeSet<String>>,
    pub models: Option<BTreeSet<String>>,
    pub prompts: Option<BTreeSet<String>>,
}

impl GuardRule {
    /// Whether the rule covers a call to `model` (made from `prompt`, if any) at `stage`.
    pub fn applies(&self, model: &str, prompt: Option<&str>, stage: GuardStage) -> bool {
        if !self.stages.contains(&stage) {
            return false;
        }
        let model_ok = self.models.as_ref().is_none_or(|m| m.contains(model));
        let prompt_ok = match (&self.prompts, prompt) {
            (None, _) => true,
            (Some(names), Some(p)) => names.contains(p),
            (Some(_), None) => false,
        };
        model_ok && prompt_ok
    }

    /// Whether a finding of `entity` is this rule's business.
    pub fn wants(&self, entity: &str) -> bool {
        self.entities.as_ref().is_none_or(|e| e.contains(entity))
    }
}

/// Validated `[guardrails]`.
#[derive(Debug, Clone, Default)]
pub struct GuardSettings {
    pub redact_traces: bool,
    pub rules: Vec<GuardRule>,
}

/// The default score from which a text counts as a prompt-injection attempt.
pub const DEFAULT_INJECTION_THRESHOLD: f64 = 0.5;

/// Checks `[guardrails]`, adding every problem to `problems`.
pub fn validate(raw: &RawGuardrails, problems: &mut Vec<String>) -> GuardSettings {
    let mut rules = Vec::new();
    let mut names = BTreeSet::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let at = format!("guardrails.rules[{i}]");
        let name = r.name.clone().unwrap_or_else(|| format!("{}-{i}", r.scanner));
        if !names.insert(name.clone()) {
            problems.push(format!("{at}: the name '{name}' is used twice"));
        }
        let action = match r.action.as_str() {
            "block" => GuardAction::Block,
            "redact" => GuardAction::Redact,
            "flag" => GuardAction::Flag,
            other => {
                problems.push(format!("{at}.action: '{other}' is not one of block, redact, flag"));
                continue;
            }
        };
        let Some(scanner) = scanner(r, &at, problems) else { continue };
        if action == GuardAction::Redact && matches!(scanner, ScannerKind::Injection { .. }) {
            problems.push(format!("{at}: prompt injection cannot be redacted; use block or flag"));
        }
        let default_stages: &[&str] =
            if matches!(scanner, ScannerKind::Injection { .. }) { &["input"] } else { &["input", "output"] };
        let mut stages = BTreeSet::new();
        let written: Vec<String> =
            r.stages.clone().unwrap_or_else(|| default_stages.iter().map(|s| s.to_string()).collect());
        for s in &written {
            match s.as_str() {
                "input" => stages.insert(GuardStage::Input),
                "output" => stages.insert(GuardStage::Output),
                other => {
                    problems.push(format!("{at}.stages: '{other}' is not input or output"));
                    false
                }
            };
        }
        if stages.is_empty() {
            problems.push(format!("{at}.stages: name at least one of input, output"));
        }
        let restore = r.restore.unwrap_or(false);
        if restore && action != GuardAction::Redact {
            problems.push(format!("{at}.restore: only a redact rule can restore values"));
        }
        let entities = r.entities.as_ref().map(|e| e.iter().cloned().collect::<BTreeSet<_>>());
        if let Some(entities) = &entities {
            let known = known_entities(&scanner);
            for e in entities {
                if !known.is_empty() && !known.contains(&e.as_str()) {
                    problems.push(format!("{at}.entities: '{e}' is not one of {}", known.join(", ")));
                }
            }
        }
        rules.push(GuardRule {
            name,
            scanner,
            action,
            stages,
            restore,
            entities,
            models: r.models.as_ref().map(|m| m.iter().cloned().collect()),
            prompts: r.prompts.as_ref().map(|p| p.iter().cloned().collect()),
        });
    }
    GuardSettings { redact_traces: raw.redact_traces.unwrap_or(false), rules }
}

fn scanner(r: &RawGuardRule, at: &str, problems: &mut Vec<String>) -> Option<ScannerKind> {
    let unused = |field: &str, set: bool, problems: &mut Vec<String>| {
        if set {
            problems.push(format!("{at}.{field} does not apply to the {} scanner", r.scanner));
        }
    };
    let kind = match r.scanner.as_str() {
        "pii" => ScannerKind::Pii,
        "secrets" => ScannerKind::Secrets,
        "injection" => {
            let threshold = r.threshold.unwrap_or(DEFAULT_INJECTION_THRESHOLD);
            if !(0.0..=1.0).contains(&threshold) {
                problems.push(format!("{at}.threshold: {threshold} is not between 0 and 1"));
            }
            ScannerKind::Injection { threshold }
        }
        "regex" => {
            let mut patterns = Vec::new();
            for (entity, pattern) in r.patterns.iter().flatten() {
                match Regex::new(pattern) {
                    Ok(re) => patterns.push((entity.clone(), re)),
                    Err(e) => problems.push(format!("{at}.patterns.{entity}: {e}")),
                }
            }
            if r.patterns.as_ref().is_none_or(BTreeMap::is_empty) {
                problems.push(format!("{at}.patterns: a regex rule needs at least one `name = \"pattern\"`"));
            }
            ScannerKind::Regex { patterns }
        }
        "banned" => {
            let words: Vec<String> =
                r.words.iter().flatten().map(|w| w.to_lowercase()).filter(|w| !w.trim().is_empty()).collect();
            if words.is_empty() {
                problems.push(format!("{at}.words: a banned rule needs at least one non-empty word"));
            }
            ScannerKind::Banned { words }
        }
        other => {
            problems.push(format!("{at}.scanner: '{other}' is not one of pii, secrets, injection, regex, banned"));
            return None;
        }
    };
    unused("threshold", r.threshold.is_some() && !matches!(kind, ScannerKind::Injection { .. }), problems);
    unused("patterns", r.patterns.is_some() && !matches!(kind, ScannerKind::Regex { .. }), problems);
    unused("words", r.words.is_some() && !matches!(kind, ScannerKind::Banned { .. }), problems);
    Some(kind)
}

/// The entity names a scanner reports (empty: names come from the rule itself).
pub fn known_entities(scanner: &ScannerKind) -> Vec<&'static str> {
    match scanner {
        ScannerKind::Pii => super::pii::PiiKind::ALL.iter().map(|k| k.as_str()).collect(),
        ScannerKind::Secrets => super::secrets::ALL_KINDS.iter().map(|k| k.as_str()).collect(),
        ScannerKind::Injection { .. } => super::injection::CATEGORIES.to_vec(),
        ScannerKind::Regex { .. } | ScannerKind::Banned { .. } => Vec::new(),
    }
}

/// Rules from the body of one `[[guardrails.rules]]` table (tests).
#[cfg(test)]
pub(crate) fn parse_rules_for_tests(rule_toml: &str) -> Vec<GuardRule> {
    let raw: RawGuardrails = toml::from_str(&format!("[[rules]]\n{rule_toml}")).expect("rule parses");
    let mut problems = Vec::new();
    let settings = validate(&raw, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    settings.rules
}
