//! Cleaning: steps the caller picks, applied in order to one version's items, giving a new
//! version whose parent is that one. Each step reports what it removed or changed and why.

use super::minhash::near_duplicates;
use super::text::{char_count, exact_key, full_text, input_text, token_count};
use super::{get_version, load_version_items, store_version, DatasetError};
use gantry_core::guardrails::pii::{self, PiiKind};
use gantry_store::Store;
use gantry_types::{DatasetItem, DatasetVersionInfo, ItemInput, MessageContent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The default Jaccard similarity at which two items count as near-duplicates.
pub const DEFAULT_NEAR_DUPLICATE_THRESHOLD: f64 = 0.8;
/// Example indexes a reason lists.
const MAX_EXAMPLES: usize = 5;

fn default_threshold() -> f64 {
    DEFAULT_NEAR_DUPLICATE_THRESHOLD
}

/// One cleaning step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum CleanStep {
    /// Drops items whose input and expected output equal an earlier item's.
    ExactDuplicates,
    /// Drops items whose text (input and expected) is at least `threshold` similar to an
    /// earlier kept item's (Jaccard similarity of word 3-shingles).
    NearDuplicates {
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
    /// Drops items whose input has no text.
    Empty,
    /// Drops items whose input is outside the bounds (characters, whitespace tokens).
    Length {
        #[serde(default)]
        min_chars: Option<usize>,
        #[serde(default)]
        max_chars: Option<usize>,
        #[serde(default)]
        min_tokens: Option<usize>,
        #[serde(default)]
        max_tokens: Option<usize>,
    },
    /// Replaces e-mails, phone and card numbers in inputs and expected outputs with
    /// placeholders (`<EMAIL_1>`).
    RedactPii,
}

impl CleanStep {
    /// The step's name with its settings, as the new version's source shows it.
    pub fn label(&self) -> String {
        match self {
            CleanStep::ExactDuplicates => "exact_duplicates".into(),
            CleanStep::NearDuplicates { threshold } => format!("near_duplicates({threshold})"),
            CleanStep::Empty => "empty".into(),
            CleanStep::Length { min_chars, max_chars, min_tokens, max_tokens } => {
                let bounds: Vec<String> = [
                    ("min_chars", min_chars),
                    ("max_chars", max_chars),
                    ("min_tokens", min_tokens),
                    ("max_tokens", max_tokens),
                ]
                .iter()
                .filter_map(|(name, v)| v.map(|v| format!("{name}={v}")))
                .collect();
                format!("length({})", bounds.join(","))
            }
            CleanStep::RedactPii => "redact_pii".into(),
        }
    }

    fn check(&self) -> Result<(), DatasetError> {
        match self {
            CleanStep::NearDuplicates { threshold } if !(*threshold > 0.0 && *threshold <= 1.0) => {
                Err(DatasetError::parameter(
                    format!("the near-duplicate threshold must be above 0 and at most 1, got {threshold}"),
                    "threshold",
                ))
            }
            CleanStep::Length { min_chars, max_chars, min_tokens, max_tokens } => {
                if [min_chars, max_chars, min_tokens, max_tokens].iter().all(|b| b.is_none()) {
                    return Err(DatasetError::parameter(
                        "the length step needs a bound (min_chars, max_chars, min_tokens, max_tokens)",
                        "steps",
                    ));
                }
                for (min, max, unit) in [(min_chars, max_chars, "chars"), (min_tokens, max_tokens, "tokens")] {
                    if let (Some(min), Some(max)) = (min, max) {
                        if min > max {
                            return Err(DatasetError::parameter(
                                format!("min_{unit} {min} is above max_{unit} {max}"),
                                "steps",
                            ));
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// `POST /api/datasets/{name}/clean` and `gantry datasets clean`: which version, which steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanRequest {
    /// The version to clean; default the newest.
    #[serde(default)]
    pub version: Option<u32>,
    pub steps: Vec<CleanStep>,
    #[serde(default)]
    pub author: Option<String>,
}

/// An item a reason applied to, by its index in the cleaned version, with specifics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub index: u32,
    pub detail: String,
}

/// Why items were removed or changed, how many, and a few of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub reason: String,
    pub count: u64,
    pub examples: Vec<Example>,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: String,
    pub items_before: u64,
    pub removed: u64,
    pub changed: u64,
    pub reasons: Vec<Reason>,
}

/// What a cleaning did, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    pub name: String,
    pub from_version: u32,
    pub items_before: u64,
    pub items_after: u64,
    pub steps: Vec<StepReport>,
}

/// The new version and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanOutcome {
    pub version: DatasetVersionInfo,
    pub report: CleanReport,
}

/// Collects reasons in the order they first occur.
#[derive(Default)]
struct Reasons(Vec<Reason>);

impl Reasons {
    fn add(&mut self, reason: &str, index: u32, detail: String) {
        let entry = match self.0.iter().position(|r| r.reason == reason) {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(Reason { reason: reason.to_string(), count: 0, examples: Vec::new() });
                let last = self.0.len() - 1;
                &mut self.0[last]
            }
        };
        entry.count += 1;
        if entry.examples.len() < MAX_EXAMPLES {
            entry.examples.push(Example { index, detail });
        }
    }
}

/// Items with their index in the version being cleaned.
type Working = Vec<(u32, DatasetItem)>;

/// Applies `steps` in order to `items`; the items left and one report per step.
pub fn apply_steps(items: Working, steps: &[CleanStep]) -> Result<(Working, Vec<StepReport>), DatasetError> {
    if steps.is_empty() {
        return Err(DatasetError::parameter("name at least one cleaning step", "steps"));
    }
    for step in steps {
        step.check()?;
    }
    let mut items = items;
    let mut reports = Vec::with_capacity(steps.len());
    for step in steps {
        let before = items.len() as u64;
        let mut reasons = Reasons::default();
        let mut changed = 0;
        items = match step {
            CleanStep::ExactDuplicates => exact_duplicates(items, &mut reasons),
            CleanStep::NearDuplicates { threshold } => near(items, *threshold, &mut reasons),
            CleanStep::Empty => items
                .into_iter()
                .filter(|(index, item)| {
                    let empty = input_text(item).trim().is_empty();
                    if empty {
                        reasons.add("the input has no text", *index, String::new());
                    }
                    !empty
                })
                .collect(),
            CleanStep::Length { min_chars, max_chars, min_tokens, max_tokens } => items
                .into_iter()
                .filter(|(index, item)| {
                    let text = input_text(item);
                    let (chars, tokens) = (char_count(&text), token_count(&text));
                    let failed = [
                        (
                            min_chars.is_some_and(|m| chars < m),
                            format!("fewer than {} characters", min_chars.unwrap_or(0)),
                            chars,
                            "characters",
                        ),
                        (
                            max_chars.is_some_and(|m| chars > m),
                            format!("more than {} characters", max_chars.unwrap_or(0)),
                            chars,
                            "characters",
                        ),
                        (
                            min_tokens.is_some_and(|m| tokens < m),
                            format!("fewer than {} tokens", min_tokens.unwrap_or(0)),
                            tokens,
                            "tokens",
                        ),
                        (
                            max_tokens.is_some_and(|m| tokens > m),
                            format!("more than {} tokens", max_tokens.unwrap_or(0)),
                            tokens,
                            "tokens",
                        ),
                    ]
                    .into_iter()
                    .find(|(failed, ..)| *failed);
                    if let Some((_, reason, n, unit)) = &failed {
                        reasons.add(reason, *index, format!("{n} {unit}"));
                    }
                    failed.is_none()
                })
                .collect(),
            CleanStep::RedactPii => items
                .into_iter()
                .map(|(index, mut item)| {
                    let mut found: BTreeMap<PiiKind, usize> = BTreeMap::new();
                    redact_item(&mut item, &mut found);
                    if !found.is_empty() {
                        changed += 1;
                        let detail: Vec<String> = found.iter().map(|(k, n)| format!("{n} {}", k.as_str())).collect();
                        for kind in found.keys() {
                            reasons.add(kind.as_str(), index, detail.join(", "));
                        }
                    }
                    (index, item)
                })
                .collect(),
        };
        reports.push(StepReport {
            step: step.label(),
            items_before: before,
            removed: before - items.len() as u64,
            changed,
            reasons: reasons.0,
        });
    }
    Ok((items, reports))
}

fn exact_duplicates(items: Working, reasons: &mut Reasons) -> Working {
    let mut first: HashMap<String, u32> = HashMap::new();
    items
        .into_iter()
        .filter(|(index, item)| match first.get(&exact_key(item)) {
            Some(kept) => {
                reasons.add(
                    "same input and expected output as an earlier item",
                    *index,
                    format!("same as item {kept}"),
                );
                false
            }
            None => {
                first.insert(exact_key(item), *index);
                true
            }
        })
        .collect()
}

fn near(items: Working, threshold: f64, reasons: &mut Reasons) -> Working {
    let texts: Vec<String> = items.iter().map(|(_, item)| full_text(item)).collect();
    let found = near_duplicates(&texts, threshold);
    let indexes: Vec<u32> = items.iter().map(|(index, _)| *index).collect();
    items
        .into_iter()
        .zip(found)
        .filter_map(|(entry, dup)| match dup {
            Some((j, similarity)) => {
                let detail = format!("{similarity:.2} similar to item {}", indexes[j]);
                reasons.add(&format!("near-duplicate of an earlier item (similarity >= {threshold})"), entry.0, detail);
                None
            }
            None => Some(entry),
        })
        .collect()
}

fn redact_text(text: &mut String, found: &mut BTreeMap<PiiKind, usize>) {
    let redacted = pii::redact(text);
    for span in &redacted.spans {
        *found.entry(span.kind).or_insert(0) += 1;
    }
    if !redacted.spans.is_empty() {
        *text = redacted.text;
    }
}

fn redact_value(value: &mut Value, found: &mut BTreeMap<PiiKind, usize>) {
    match value {
        Value::String(s) => redact_text(s, found),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, found)),
        Value::Object(map) => map.values_mut().for_each(|v| redact_value(v, found)),
        _ => {}
    }
}

/// Redacts the input's texts and the expected output (metadata is left alone: it holds ids).
fn redact_item(item: &mut DatasetItem, found: &mut BTreeMap<PiiKind, usize>) {
    match &mut item.input {
        ItemInput::Messages(messages) => {
            for message in messages {
                match &mut message.content {
                    Some(MessageContent::Text(text)) => redact_text(text, found),
                    Some(MessageContent::Parts(parts)) => {
                        for part in parts {
                            if let gantry_types::ContentPart::Text { text } = part {
                                redact_text(text, found);
                            }
                        }
                    }
                    None => {}
                }
            }
        }
        ItemInput::Variables(vars) => vars.values_mut().for_each(|v| redact_value(v, found)),
    }
    if let Some(expected) = &mut item.expected {
        redact_value(expected, found);
    }
}

/// Cleans `version` (default the newest) of `name` into a new version; the old one is untouched.
pub async fn clean(
    store: &dyn Store,
    name: &str,
    request: &CleanRequest,
    author: &str,
) -> Result<CleanOutcome, DatasetError> {
    for step in &request.steps {
        step.check()?;
    }
    let from = get_version(store, name, request.version).await?;
    let items = load_version_items(store, &from).await?;
    let working: Working = items.into_iter().map(|s| (s.index, s.item)).collect();
    let (kept, steps) = apply_steps(working, &request.steps)?;
    if kept.is_empty() {
        return Err(DatasetError::Empty(format!(
            "cleaning would remove all {} items of {name}@{}; nothing was stored",
            from.items, from.version
        )));
    }
    let labels: Vec<String> = request.steps.iter().map(CleanStep::label).collect();
    let source = format!("clean of v{}: {}", from.version, labels.join(", "));
    let items: Vec<DatasetItem> = kept.into_iter().map(|(_, item)| item).collect();
    let version = store_version(store, name, &source, Some(from.version), author, &items).await?;
    tracing::info!(
        dataset = name,
        from = from.version,
        version = version.version,
        items = items.len(),
        "dataset cleaned"
    );
    let report = CleanReport {
        name: name.to_string(),
        from_version: from.version,
        items_before: from.items,
        items_after: items.len() as u64,
        steps,
    };
    Ok(CleanOutcome { version, report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(question: &str, answer: &str) -> DatasetItem {
        serde_json::from_value(json!({"input": {"q": question}, "expected": answer})).unwrap()
    }

    fn indexed(items: Vec<DatasetItem>) -> Working {
        items.into_iter().enumerate().map(|(i, item)| (i as u32, item)).collect()
    }

    #[test]
    fn steps_remove_and_change_with_reasons() {
        let long = "how can I change the billing address on my company account before the next invoice is sent";
        let items = indexed(vec![
            item(long, "Settings > Billing."),
            item("short", "x"),
            item(long, "Settings > Billing."),
            item(&format!("{long}?"), "Settings > Billing!"),
            item("   ", "nothing"),
            item("mail me at ada@example.com or call 555-123-4567", "ok ada@example.com"),
        ]);
        let steps = vec![
            CleanStep::Empty,
            CleanStep::ExactDuplicates,
            CleanStep::NearDuplicates { threshold: 0.8 },
            CleanStep::Length { min_chars: Some(6), max_chars: None, min_tokens: None, max_tokens: None },
            CleanStep::RedactPii,
        ];
        let (kept, reports) = apply_steps(items, &steps).unwrap();
        assert_eq!(kept.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 5]);
        let summary: Vec<(&str, u64, u64, u64)> =
            reports.iter().map(|r| (r.step.as_str(), r.items_before, r.removed, r.changed)).collect();
        assert_eq!(
            summary,
            vec![
                ("empty", 6, 1, 0),
                ("exact_duplicates", 5, 1, 0),
                ("near_duplicates(0.8)", 4, 1, 0),
                ("length(min_chars=6)", 3, 1, 0),
                ("redact_pii", 2, 0, 1)
            ]
        );
        assert_eq!(reports[1].reasons[0].examples, vec![Example { index: 2, detail: "same as item 0".into() }]);
        assert_eq!(reports[2].reasons[0].examples[0].index, 3);
        assert!(reports[2].reasons[0].examples[0].detail.ends_with("similar to item 0"), "{:?}", reports[2]);
        assert_eq!(reports[3].reasons[0].reason, "fewer than 6 characters");
        assert_eq!(reports[3].reasons[0].examples[0], Example { index: 1, detail: "5 characters".into() });
        let pii: Vec<(&str, u64)> = reports[4].reasons.iter().map(|r| (r.reason.as_str(), r.count)).collect();
        assert_eq!(pii, vec![("email", 1), ("phone", 1)]);
        assert_eq!(reports[4].reasons[0].examples[0].detail, "2 email, 1 phone");
        assert_eq!(kept[1].1, item("mail me at <EMAIL_1> or call <PHONE_1>", "ok <EMAIL_1>"));
    }

    #[test]
    fn bad_steps_are_refused() {
        let err = apply_steps(Vec::new(), &[]).unwrap_err();
        assert_eq!(err.code(), "invalid_parameter");
        let err = apply_steps(Vec::new(), &[CleanStep::NearDuplicates { threshold: 1.5 }]).unwrap_err();
        assert!(err.to_string().contains("threshold"), "{err}");
        let err = apply_steps(
            Vec::new(),
            &[CleanStep::Length { min_chars: Some(9), max_chars: Some(3), min_tokens: None, max_tokens: None }],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "min_chars 9 is above max_chars 3");
        let parsed: CleanRequest =
            serde_json::from_value(json!({"steps": [{"step": "near_duplicates"}, {"step": "redact_pii"}]})).unwrap();
        assert_eq!(parsed.steps[0], CleanStep::NearDuplicates { threshold: 0.8 });
    }
}
