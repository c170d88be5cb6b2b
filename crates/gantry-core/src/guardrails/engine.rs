//! The guardrails of a running gateway: the configured rules applied to a call's request and
//! response, the prompt-injection similarity corpus, and the hit counters.

use super::config::{GuardRule, GuardSettings, ScannerKind};
use super::injection::{self, SEED};
use super::scan::{scan, sensitive_findings, Finding};
use super::stream::StreamGuard;
use super::vault::Vault;
use crate::error::GatewayError;
use crate::gateway::Gateway;
use gantry_store::Store;
use gantry_types::{
    ChatMessage, ContentPart, GuardAction, GuardFinding, GuardHit, GuardHitCount, GuardScanRequest, GuardScanResponse,
    GuardStage, MessageContent, Role, TraceId,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Cosine similarity (MiniLM) to the nearest known attack from which a text scores 0.5, the
/// default threshold… Chosen on the corpus/test split of `scripts/guard_reference/injection_set.py`
/// (`gantry guard eval --corpus`): at 0.55 the benign questions there stay under 2% flagged.
pub const SIMILARITY_FLOOR: f32 = 0.55;
/// …rising linearly to a score of 1 here.
pub const SIMILARITY_CEILING: f32 = 0.95;
/// How a similarity finding's reason starts.
pub(crate) const SIMILARITY_REASON: &str = "close to a known attack:";
/// How long the corpus is used before the store is read again for examples added elsewhere.
const STORE_RECHECK: Duration = Duration::from_secs(30);
/// Texts embedded per call while building the corpus.
const CORPUS_BATCH: usize = 64;
/// Windows of one message embedded for the similarity check.
const MAX_WINDOWS: usize = 8;

/// Which call a check belongs to.
pub struct CallScope<'a> {
    pub model: &'a str,
    pub prompt: Option<&'a str>,
    pub trace_id: TraceId,
}

/// What the input check found and decided; carried to the output check.
#[derive(Default)]
pub struct GuardState {
    pub hits: Vec<GuardHit>,
    pub vault: Vault,
    output_rules: Vec<GuardRule>,
}

impl GuardState {
    /// Whether the response needs to pass through the guardrails.
    pub fn guards_output(&self) -> bool {
        !self.output_rules.is_empty() || self.vault.can_restore()
    }

    pub(crate) fn take_output_rules(&mut self) -> Vec<GuardRule> {
        std::mem::take(&mut self.output_rules)
    }

    /// A state that checks the output with `rules` (tests of the output side alone).
    #[cfg(test)]
    pub(crate) fn for_output(rules: Vec<GuardRule>) -> Self {
        Self { output_rules: rules, ..Self::default() }
    }
}

type CountKey = (String, String, String, GuardStage, GuardAction);

/// The embedded known attacks.
struct Corpus {
    /// A window's vector and the index of its example.
    vectors: Vec<(Vec<f32>, usize)>,
    /// (category, text) of each example.
    examples: Vec<(String, String)>,
}

/// Configured guardrails plus their state.
pub struct Guardrails {
    settings: GuardSettings,
    embedding_model: Option<String>,
    counts: Mutex<BTreeMap<CountKey, u64>>,
    /// The corpus and when the store was last read for it.
    corpus: tokio::sync::Mutex<Option<(Arc<Corpus>, Instant)>>,
    session_examples: Mutex<Vec<(String, String)>>,
    store: Arc<dyn Store>,
}

impl Guardrails {
    /// Guardrails from the config; `embedding_model` embeds texts for the similarity check.
    pub fn new(settings: GuardSettings, embedding_model: Option<String>, store: Arc<dyn Store>) -> Self {
        Self {
            settings,
            embedding_model,
            counts: Mutex::new(BTreeMap::new()),
            corpus: tokio::sync::Mutex::new(None),
            session_examples: Mutex::new(Vec::new()),
            store,
        }
    }

    /// Whether an embedding model is configured for the similarity check.
    pub fn has_similarity(&self) -> bool {
        self.embedding_model.is_some()
    }

    /// Whether stored traces must hold no PII or secrets.
    pub fn redact_traces(&self) -> bool {
        self.settings.redact_traces
    }

    fn rules_for(&self, scope: &CallScope<'_>, stage: GuardStage) -> Vec<GuardRule> {
        self.settings.rules.iter().filter(|r| r.applies(scope.model, scope.prompt, stage)).cloned().collect()
    }

    /// Scans and rewrites the request's messages. Returns the state for the response, or the
    /// error that blocks the call; the hits are in the state either way.
    pub async fn check_input(
        &self,
        gateway: &Gateway,
        scope: &CallScope<'_>,
        messages: &mut [ChatMessage],
    ) -> (GuardState, Option<GatewayError>) {
        let mut state = GuardState { output_rules: self.rules_for(scope, GuardStage::Output), ..GuardState::default() };
        let rules = self.rules_for(scope, GuardStage::Input);
        if rules.is_empty() {
            return (state, None);
        }
        for (index, message) in messages.iter_mut().enumerate() {
            // Injection comes from what users and tools put in; the developer's system prompt
            // and earlier assistant turns are not attacker-controlled.
            let untrusted = matches!(message.role, Role::User | Role::Tool);
            for text in texts_mut(message) {
                for rule in &rules {
                    let findings = match &rule.scanner {
                        ScannerKind::Injection { threshold } if untrusted => {
                            self.injection_findings(gateway, text, *threshold, scope.trace_id).await
                        }
                        ScannerKind::Injection { .. } => continue,
                        scanner => scan(scanner, text),
                    };
                    let findings: Vec<Finding> = findings.into_iter().filter(|f| rule.wants(&f.entity)).collect();
                    if findings.is_empty() {
                        continue;
                    }
                    self.record(&mut state.hits, rule, GuardStage::Input, Some(index), &findings);
                    match rule.action {
                        GuardAction::Block => return (state, Some(blocked(rule, GuardStage::Input, &findings))),
                        GuardAction::Redact => *text = state.vault.redact(text, &findings, rule.restore),
                        GuardAction::Flag => {}
                    }
                }
            }
        }
        (state, None)
    }

    /// Scans one response text (choice `index`): blocks, redacts or flags, then puts restored
    /// values back.
    pub fn check_output(&self, state: &mut GuardState, index: usize, text: &mut String) -> Result<(), GatewayError> {
        let GuardState { hits, vault, output_rules } = state;
        for rule in output_rules.iter() {
            let findings: Vec<Finding> =
                scan(&rule.scanner, text).into_iter().filter(|f| rule.wants(&f.entity)).collect();
            if findings.is_empty() {
                continue;
            }
            self.record(hits, rule, GuardStage::Output, Some(index), &findings);
            match rule.action {
                GuardAction::Block => return Err(blocked(rule, GuardStage::Output, &findings)),
                GuardAction::Redact => *text = vault.redact(text, &findings, false),
                GuardAction::Flag => {}
            }
        }
        if vault.can_restore() {
            *text = vault.restore(text);
        }
        Ok(())
    }

    /// The guard a streamed response passes through, when it needs one.
    pub fn stream_guard(self: &Arc<Self>, state: GuardState) -> StreamGuard {
        StreamGuard::new(self.clone(), state)
    }

    /// Counts and records `findings` of `rule` as hits.
    pub(crate) fn record(
        &self,
        hits: &mut Vec<GuardHit>,
        rule: &GuardRule,
        stage: GuardStage,
        message: Option<usize>,
        findings: &[Finding],
    ) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for f in findings {
            let key = (rule.name.clone(), rule.scanner.name().to_string(), f.entity.clone(), stage, rule.action);
            *counts.entry(key).or_insert(0) += 1;
            hits.push(GuardHit {
                guardrail: rule.name.clone(),
                scanner: rule.scanner.name().to_string(),
                entity: f.entity.clone(),
                stage,
                action: rule.action,
                message,
                start: f.start,
                end: f.end,
                score: f.score,
                reason: f.reason.clone(),
            });
        }
    }

    /// Hits since start, by guardrail, entity, stage and action.
    pub fn counts(&self) -> Vec<GuardHitCount> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((guardrail, scanner, entity, stage, action), count)| GuardHitCount {
                guardrail: guardrail.clone(),
                scanner: scanner.clone(),
                entity: entity.clone(),
                stage: *stage,
                action: *action,
                count: *count,
            })
            .collect()
    }

    /// Rules first; the similarity check when the rules found nothing at the threshold.
    async fn injection_findings(&self, gateway: &Gateway, text: &str, threshold: f64, trace: TraceId) -> Vec<Finding> {
        self.detect_injection(Some(gateway), text, threshold, Some(trace))
            .await
            .filter(|f| f.score >= threshold)
            .into_iter()
            .collect()
    }

    /// The strongest prompt-injection finding in `text`: the rules, then (when they score
    /// below `threshold` and a gateway is given) the similarity to the known attacks.
    pub async fn detect_injection(
        &self,
        gateway: Option<&Gateway>,
        text: &str,
        threshold: f64,
        trace: Option<TraceId>,
    ) -> Option<Finding> {
        let ruled = scan(&ScannerKind::Injection { threshold: 0.0 }, text).into_iter().next();
        if ruled.as_ref().is_some_and(|f| f.score >= threshold) {
            return ruled;
        }
        let similar = match gateway {
            Some(gateway) => self.similarity(gateway, text, trace).await,
            None => None,
        };
        match (ruled, similar) {
            (ruled, Some((score, category, nearest)))
                if score > 0.0 && ruled.as_ref().is_none_or(|r| r.score < score) =>
            {
                Some(Finding {
                    entity: category,
                    start: 0,
                    end: text.len(),
                    score,
                    reason: Some(format!("{SIMILARITY_REASON} \"{}\"", preview(&nearest))),
                })
            }
            (ruled, _) => ruled,
        }
    }

    /// The similarity score of `text` to the nearest known attack, its category and text.
    /// `None` when no embedding model is available (the rules still run).
    pub async fn similarity(
        &self,
        gateway: &Gateway,
        text: &str,
        parent: Option<TraceId>,
    ) -> Option<(f64, String, String)> {
        let model = self.embedding_model.as_deref()?;
        let corpus = self.corpus(gateway).await?;
        let windows = injection::windows(text, MAX_WINDOWS);
        let span = parent.map(|p| (p, "guardrail:injection".to_string()));
        let (vectors, _) = match gateway.embed_texts(model, windows, span).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "prompt-injection similarity check skipped");
                return None;
            }
        };
        let mut best: Option<(f32, usize)> = None;
        for v in &vectors {
            for (known, example) in &corpus.vectors {
                let cos = cosine(v, known);
                if best.is_none_or(|(b, _)| cos > b) {
                    best = Some((cos, *example));
                }
            }
        }
        let (cos, example) = best?;
        let (category, nearest) = corpus.examples.get(example).cloned().unwrap_or_default();
        Some((injection::similarity_score(cos, SIMILARITY_FLOOR, SIMILARITY_CEILING), category, nearest))
    }

    /// Adds known attacks (category, text) to the similarity corpus of this process only, not
    /// to the store: an evaluation's corpus split.
    pub async fn add_session_examples(&self, examples: Vec<(String, String)>) {
        self.session_examples.lock().unwrap_or_else(|e| e.into_inner()).extend(examples);
        *self.corpus.lock().await = None;
    }

    /// The embedded corpus (seed, stored and session examples), built on first use. Every
    /// window of a long example is embedded, so a known attack is found wherever its telling
    /// part sits.
    async fn corpus(&self, gateway: &Gateway) -> Option<Arc<Corpus>> {
        let model = self.embedding_model.as_deref()?;
        // Examples added or deleted through this process clear the cache at once; the store is
        // re-read at most every STORE_RECHECK for what other processes (the CLI) added, so a
        // guarded call does not query it every time.
        if let Some((c, read_at)) = self.corpus.lock().await.as_ref() {
            if read_at.elapsed() < STORE_RECHECK {
                return Some(c.clone());
            }
        }
        let mut examples: Vec<(String, String)> = SEED.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect();
        match self.store.list_injection_examples().await {
            Ok(stored) => examples.extend(stored.into_iter().map(|e| (e.category, e.text))),
            Err(e) => tracing::warn!(error = %e, "stored prompt-injection examples could not be read"),
        }
        examples.extend(self.session_examples.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned());
        let mut cached = self.corpus.lock().await;
        if let Some((c, read_at)) = cached.as_mut() {
            if c.examples.len() == examples.len() {
                *read_at = Instant::now();
                return Some(c.clone());
            }
        }
        let mut windows = Vec::new();
        let mut owners = Vec::new();
        for (i, (_, text)) in examples.iter().enumerate() {
            for window in injection::windows(text, MAX_WINDOWS) {
                windows.push(window);
                owners.push(i);
            }
        }
        let mut vectors = Vec::with_capacity(windows.len());
        for batch in windows.chunks(CORPUS_BATCH) {
            match gateway.embed_texts(model, batch.to_vec(), None).await {
                Ok((v, _)) => vectors.extend(v),
                Err(e) => {
                    tracing::warn!(error = %e, "the prompt-injection corpus could not be embedded");
                    return None;
                }
            }
        }
        let corpus = Arc::new(Corpus { vectors: vectors.into_iter().zip(owners).collect(), examples });
        *cached = Some((corpus.clone(), Instant::now()));
        Some(corpus)
    }

    /// Scans `request.text` on demand with the named scanners (all three by default); without a
    /// gateway, prompt injection is the rule layer only.
    pub async fn scan_on_demand(
        &self,
        gateway: Option<&Gateway>,
        request: &GuardScanRequest,
    ) -> Result<GuardScanResponse, GatewayError> {
        let names: Vec<&str> = if request.scanners.is_empty() {
            vec!["pii", "secrets", "injection"]
        } else {
            request.scanners.iter().map(String::as_str).collect()
        };
        let text = &request.text;
        let mut findings = Vec::new();
        let mut injection_score: f64 = 0.0;
        for name in names {
            let found = match name {
                "pii" => scan(&ScannerKind::Pii, text),
                "secrets" => scan(&ScannerKind::Secrets, text),
                "injection" => {
                    let found = self.detect_injection(gateway, text, 1.0, None).await;
                    injection_score = found.as_ref().map_or(0.0, |f| f.score);
                    found.into_iter().collect()
                }
                other => {
                    return Err(GatewayError::invalid(
                        format!("unknown scanner '{other}': use pii, secrets or injection"),
                        "scanners",
                    ))
                }
            };
            findings.extend(found.into_iter().map(|f| GuardFinding {
                scanner: name.to_string(),
                text: text.get(f.start..f.end).unwrap_or_default().to_string(),
                entity: f.entity,
                start: f.start,
                end: f.end,
                score: f.score,
                reason: f.reason,
            }));
        }
        findings.sort_by_key(|f| f.start);
        let redacted = request.redact.then(|| redact_sensitive(text));
        Ok(GuardScanResponse { findings, injection_score, redacted })
    }

    /// Adds a known attack to the similarity corpus.
    pub async fn add_example(
        &self,
        text: &str,
        category: Option<&str>,
    ) -> Result<gantry_types::InjectionExample, GatewayError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(GatewayError::invalid("the example text is empty", "text"));
        }
        let category = category.unwrap_or("instruction_override");
        if !injection::CATEGORIES.contains(&category) {
            return Err(GatewayError::invalid(
                format!("unknown category '{category}': use one of {}", injection::CATEGORIES.join(", ")),
                "category",
            ));
        }
        let added = self
            .store
            .add_injection_example(text, category)
            .await
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        *self.corpus.lock().await = None;
        Ok(added)
    }

    /// The examples users added, oldest first (the built-in seed is not listed).
    pub async fn examples(&self) -> Result<Vec<gantry_types::InjectionExample>, GatewayError> {
        self.store.list_injection_examples().await.map_err(|e| GatewayError::Internal(e.to_string()))
    }

    /// Removes an added example; false when there is none with that id.
    pub async fn delete_example(&self, id: i64) -> Result<bool, GatewayError> {
        let deleted =
            self.store.delete_injection_example(id).await.map_err(|e| GatewayError::Internal(e.to_string()))?;
        *self.corpus.lock().await = None;
        Ok(deleted)
    }

    /// How many examples the similarity check compares with: the seed plus those added.
    pub fn seed_size(&self) -> usize {
        SEED.len()
    }

    /// The configured rules, by name and scanner.
    pub fn rules(&self) -> &[GuardRule] {
        &self.settings.rules
    }
}

/// `text` with every PII value and secret replaced by a typed placeholder.
pub fn redact_sensitive(text: &str) -> String {
    let findings = sensitive_findings(text);
    if findings.is_empty() {
        return text.to_string();
    }
    Vault::default().redact(text, &findings, false)
}

/// Every string in `value` with PII and secrets redacted (for stored traces).
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let redacted = redact_sensitive(s);
            if redacted != *s {
                *s = redacted;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// `record` with PII and secrets replaced by placeholders everywhere text can hold them:
/// request, response, prompt variables, error messages (upstreams echo input back in them).
pub fn redact_record(record: &mut gantry_types::TraceRecord) {
    redact_json(&mut record.request);
    if let Some(response) = record.response.as_mut() {
        redact_json(response);
    }
    if let Some(prompt) = record.prompt.as_mut() {
        redact_json(&mut prompt.variables);
    }
    if let Some(error) = record.error.as_mut() {
        error.message = redact_sensitive(&error.message);
    }
    for attempt in &mut record.attempts {
        if let Some(error) = attempt.error.as_mut() {
            *error = redact_sensitive(error);
        }
    }
    if let Some(error) = record.output_check.as_mut().and_then(|c| c.error.as_mut()) {
        *error = redact_sensitive(error);
    }
}

/// The error a blocked call gets: the guardrail, the scanner and what it found, never the text.
pub(crate) fn blocked(rule: &GuardRule, stage: GuardStage, findings: &[Finding]) -> GatewayError {
    let mut entities: Vec<&str> = findings.iter().map(|f| f.entity.as_str()).collect();
    entities.dedup();
    let side = match stage {
        GuardStage::Input => "request",
        GuardStage::Output => "response",
    };
    let why = findings.iter().find_map(|f| f.reason.as_deref()).map(|r| format!(": {r}")).unwrap_or_default();
    GatewayError::Rejected {
        status: 400,
        code: rule.scanner.block_code(),
        message: format!(
            "The {side} was blocked by the guardrail '{}' ({} scanner found {}){why}.",
            rule.name,
            rule.scanner.name(),
            entities.join(", ")
        ),
        param: (stage == GuardStage::Input).then(|| "messages".to_string()),
    }
}

/// The text slots of a message a guardrail reads and may rewrite.
pub(crate) fn texts_mut(message: &mut ChatMessage) -> Vec<&mut String> {
    match message.content.as_mut() {
        Some(MessageContent::Text(t)) => vec![t],
        Some(MessageContent::Parts(parts)) => parts
            .iter_mut()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

fn preview(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}
