//! Scoring items with a suite's evaluators, and the aggregates over a run. The metric
//! arithmetic lives in `crate::metrics`; this file picks the inputs (output, expected
//! references), makes the model calls the embedding and judge evaluators need, and records
//! why an item could not be scored instead of guessing.

use super::error::EvalError;
use super::suite::{EvaluatorConfig, EvaluatorKind, RougeVariant};
use crate::metrics::{self, JsonSchemaValidator, NormalizeOptions};
use gantry_core::prompts::{self, PromptVersion};
use gantry_core::registry::{Reference, DEFAULT_LABEL};
use gantry_core::Gateway;
use gantry_types::{
    value_text, ChatCompletionRequest, DatasetItem, EvalItemResult, EvaluatorSummary, ItemInput, ItemScore,
    RegistryKind, StoredItem, TraceId,
};
use regex::Regex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// An evaluator with what it needs prepared once per run (compiled patterns and schemas,
/// the judge's prompt version).
enum Prepared {
    Plain,
    Regex(Regex),
    Schema(JsonSchemaValidator),
    Judge { version: Box<PromptVersion>, label: Option<String> },
}

/// A suite's evaluators, ready to score items.
pub struct Scorers {
    gateway: Arc<Gateway>,
    evaluators: Vec<(EvaluatorConfig, Prepared)>,
}

/// The references an item's expected value gives: a list of strings is several acceptable
/// answers, anything else one.
fn references(item: &DatasetItem) -> Option<Vec<String>> {
    match item.expected.as_ref()? {
        Value::Null => None,
        Value::Array(values) if !values.is_empty() && values.iter().all(Value::is_string) => {
            Some(values.iter().map(value_text).collect())
        }
        other => Some(vec![value_text(other)]),
    }
}

fn scored(value: f64) -> ItemScore {
    ItemScore { value: Some(value), ..Default::default() }
}

fn unscored(error: impl Into<String>) -> ItemScore {
    ItemScore { value: None, reason: None, error: Some(error.into()) }
}

fn bool_score(ok: bool) -> f64 {
    if ok {
        1.0
    } else {
        0.0
    }
}

fn best_of(refs: &[String], score: impl Fn(&str) -> f64) -> f64 {
    refs.iter().map(|r| score(r)).fold(f64::NEG_INFINITY, f64::max)
}

/// The number GSM8K-style text ends with: after `####` when present, else the last number in
/// the text; thousands separators and a trailing period are dropped.
pub fn final_number(text: &str) -> Option<f64> {
    let tail = text.rsplit_once("####").map_or(text, |(_, after)| after);
    let mut last = None;
    let mut current = String::new();
    let flush = |current: &mut String, last: &mut Option<f64>| {
        let cleaned: String = current.trim_end_matches('.').chars().filter(|c| *c != ',').collect();
        if let Ok(n) = cleaned.parse::<f64>() {
            *last = Some(n);
        }
        current.clear();
    };
    for c in tail.chars() {
        let continues_number =
            c.is_ascii_digit() || ((c == '.' || c == ',') && !current.is_empty()) || (c == '-' && current.is_empty());
        if continues_number {
            current.push(c);
        } else if !current.is_empty() {
            flush(&mut current, &mut last);
        }
    }
    if !current.is_empty() {
        flush(&mut current, &mut last);
    }
    last
}

impl Scorers {
    /// Compiles patterns and schemas and resolves judge prompts, once for the whole run.
    pub async fn prepare(configs: &[EvaluatorConfig], gateway: &Arc<Gateway>) -> Result<Self, EvalError> {
        let mut evaluators = Vec::with_capacity(configs.len());
        for config in configs {
            let invalid = |message: String| EvalError::InvalidSuite {
                source_name: format!("evaluator '{}'", config.name),
                message,
            };
            let prepared = match &config.kind {
                EvaluatorKind::Regex { pattern } => {
                    Prepared::Regex(metrics::compile_regex(pattern).map_err(|e| invalid(e.to_string()))?)
                }
                EvaluatorKind::JsonSchema { schema } => {
                    Prepared::Schema(JsonSchemaValidator::new(schema).map_err(|e| invalid(e.to_string()))?)
                }
                EvaluatorKind::LlmJudge { prompt, model, .. } => {
                    let reference = Reference::parse(RegistryKind::Prompt, prompt, DEFAULT_LABEL)
                        .map_err(|e| invalid(e.to_string()))?;
                    let version = prompts::resolve_reference(gateway.store().as_ref(), &reference)
                        .await
                        .map_err(|e| invalid(format!("judge prompt: {e}")))?;
                    if model.is_none() && version.spec.model.is_none() {
                        return Err(invalid("the judge prompt names no model; set 'model'".to_string()));
                    }
                    Prepared::Judge { version: Box::new(version), label: reference.label().map(str::to_string) }
                }
                _ => Prepared::Plain,
            };
            evaluators.push((config.clone(), prepared));
        }
        Ok(Self { gateway: gateway.clone(), evaluators })
    }

    /// Every evaluator's score of one output. Model calls (embeddings, the judge) are traced
    /// as spans under the item's trace.
    pub async fn score(&self, item: &DatasetItem, output: &str, trace: Option<TraceId>) -> BTreeMap<String, ItemScore> {
        let refs = references(item);
        let mut scores = BTreeMap::new();
        for (config, prepared) in &self.evaluators {
            let score = match (&refs, config.kind.needs_expected()) {
                (None, true) => unscored("the item has no expected output"),
                _ => self.score_one(config, prepared, item, output, refs.as_deref().unwrap_or(&[]), trace).await,
            };
            scores.insert(config.name.clone(), score);
        }
        scores
    }

    async fn score_one(
        &self,
        config: &EvaluatorConfig,
        prepared: &Prepared,
        item: &DatasetItem,
        output: &str,
        refs: &[String],
        trace: Option<TraceId>,
    ) -> ItemScore {
        match (&config.kind, prepared) {
            (EvaluatorKind::ExactMatch { normalize }, _) => {
                let options = if *normalize { NormalizeOptions::SQUAD } else { NormalizeOptions::NONE };
                scored(best_of(refs, |r| bool_score(metrics::exact_match(output, r, options))))
            }
            (EvaluatorKind::Contains { value, case_sensitive }, _) => match value {
                Some(needle) => scored(bool_score(metrics::contains(output, needle, *case_sensitive))),
                None => scored(best_of(refs, |r| bool_score(metrics::contains(output, r, *case_sensitive)))),
            },
            (EvaluatorKind::Regex { .. }, Prepared::Regex(regex)) => {
                scored(bool_score(metrics::regex_is_match(regex, output)))
            }
            (EvaluatorKind::JsonValid, _) => scored(bool_score(metrics::is_valid_json(output))),
            (EvaluatorKind::JsonSchema { .. }, Prepared::Schema(validator)) => {
                let check = validator.check(output);
                ItemScore { value: Some(bool_score(check.valid)), reason: check.error, error: None }
            }
            (EvaluatorKind::Classification, _) => scored(best_of(refs, |r| bool_score(r.trim() == output.trim()))),
            (EvaluatorKind::TokenF1, _) => match metrics::squad_token_f1(output, refs) {
                Ok(f1) => scored(f1),
                Err(e) => unscored(e.to_string()),
            },
            (EvaluatorKind::Bleu, _) => match metrics::sentence_bleu(output, refs) {
                Ok(bleu) => scored(bleu.score),
                Err(e) => unscored(e.to_string()),
            },
            (EvaluatorKind::Rouge { variant, stemmer }, _) => scored(best_of(refs, |r| {
                let scores = metrics::rouge_scores(r, output, *stemmer);
                match variant {
                    RougeVariant::Rouge1 => scores.rouge1.fmeasure,
                    RougeVariant::Rouge2 => scores.rouge2.fmeasure,
                    RougeVariant::RougeL => scores.rouge_l.fmeasure,
                }
            })),
            (EvaluatorKind::Levenshtein, _) => scored(best_of(refs, |r| metrics::levenshtein_similarity(output, r))),
            (EvaluatorKind::NumericMatch { tolerance }, _) => {
                let expected: Vec<f64> = refs.iter().filter_map(|r| final_number(r)).collect();
                match (final_number(output), expected.is_empty()) {
                    (_, true) => unscored("the expected output holds no number"),
                    (None, false) => {
                        ItemScore { value: Some(0.0), reason: Some("the output holds no number".into()), error: None }
                    }
                    (Some(got), false) => {
                        scored(bool_score(expected.iter().any(|want| (got - want).abs() <= *tolerance)))
                    }
                }
            }
            (EvaluatorKind::EmbeddingSimilarity { model }, _) => {
                self.embedding_similarity(&config.name, model, output, refs, trace).await
            }
            (EvaluatorKind::LlmJudge { model, min, max, .. }, Prepared::Judge { version, label }) => {
                let judge =
                    JudgeCall { name: &config.name, version, label: label.as_deref(), model, min: *min, max: *max };
                self.judge(judge, item, output, trace).await
            }
            _ => unscored("the evaluator was not prepared"),
        }
    }

    async fn embedding_similarity(
        &self,
        name: &str,
        model: &str,
        output: &str,
        refs: &[String],
        trace: Option<TraceId>,
    ) -> ItemScore {
        let mut texts = vec![output.to_string()];
        texts.extend(refs.iter().cloned());
        let parent = trace.map(|t| (t, format!("eval:{name}")));
        let vectors = match self.gateway.embed_texts(model, texts, parent).await {
            Ok((vectors, _)) => vectors,
            Err(e) => return unscored(format!("embedding failed: {e}")),
        };
        let Some((first, rest)) = vectors.split_first() else {
            return unscored("no embedding came back");
        };
        let mut best = f64::NEG_INFINITY;
        for other in rest {
            match metrics::cosine_similarity(first, other) {
                Ok(similarity) => best = best.max(similarity),
                Err(e) => return unscored(e.to_string()),
            }
        }
        scored(best)
    }

    async fn judge(&self, judge: JudgeCall<'_>, item: &DatasetItem, output: &str, trace: Option<TraceId>) -> ItemScore {
        let input = match &item.input {
            ItemInput::Variables(v) => Value::Object(v.clone()),
            ItemInput::Messages(m) => json!(m),
        };
        let offered = [
            ("input", value_text(&input)),
            ("output", output.to_string()),
            ("expected", item.expected.as_ref().map(value_text).unwrap_or_default()),
        ];
        // The rubric prompt declares the variables it reads; only those are passed, so a
        // rubric that ignores the expected output need not declare it.
        let declared = &judge.version.spec.variables;
        let variables: serde_json::Map<String, Value> = offered
            .into_iter()
            .filter(|(name, _)| declared.iter().any(|v| v.name == *name))
            .map(|(name, value)| (name.to_string(), Value::String(value)))
            .collect();
        let variables = Value::Object(variables);
        let client = ChatCompletionRequest::new("", Vec::new());
        let call = match prompts::build_call(judge.version, judge.label, &variables, judge.model.clone(), client) {
            Ok(call) => call,
            Err(e) => return unscored(format!("judge prompt: {e}")),
        };
        let (request, mut context) = call.into_parts(trace.map(|t| (t, format!("eval:{}", judge.name))));
        // The judge's own schema check is not the point here; its verdict is parsed below.
        context.output_validator = None;
        let answer = match self.gateway.chat_with(request, context).await.result {
            Ok(completion) => completion.choices.first().map(|c| c.message.text_content()).unwrap_or_default(),
            Err(e) => return unscored(format!("judge call failed: {e}")),
        };
        match metrics::parse_judge_output(&answer, judge.min, judge.max) {
            Ok(verdict) => ItemScore { value: Some(verdict.score), reason: Some(verdict.reason), error: None },
            Err(e) => unscored(format!("invalid judge answer: {e}")),
        }
    }

    /// The aggregates of a run: per evaluator the mean item score, plus corpus BLEU for BLEU
    /// and the classification report for classification.
    pub fn summarize(&self, items: &[StoredItem], results: &[EvalItemResult]) -> Vec<EvaluatorSummary> {
        let by_index: HashMap<u32, &DatasetItem> = items.iter().map(|s| (s.index, &s.item)).collect();
        self.evaluators
            .iter()
            .map(|(config, _)| {
                let values: Vec<f64> =
                    results.iter().filter_map(|r| r.scores.get(&config.name).and_then(|s| s.value)).collect();
                let scored_count = values.len();
                let mut metrics_out = BTreeMap::new();
                if scored_count > 0 {
                    metrics_out.insert("mean".to_string(), values.iter().sum::<f64>() / scored_count as f64);
                }
                let answered: Vec<(&str, Vec<String>)> = results
                    .iter()
                    .filter_map(|r| {
                        let output = r.output.as_deref()?;
                        let refs = references(by_index.get(&r.index)?)?;
                        Some((output, refs))
                    })
                    .collect();
                let main = match config.kind {
                    EvaluatorKind::Bleu => {
                        corpus_bleu(&answered, &mut metrics_out);
                        "corpus_bleu"
                    }
                    EvaluatorKind::Classification => {
                        classification(&answered, &mut metrics_out);
                        "accuracy"
                    }
                    _ => "mean",
                };
                EvaluatorSummary {
                    evaluator: config.name.clone(),
                    kind: config.kind.type_name().to_string(),
                    metrics: metrics_out,
                    main: main.to_string(),
                    scored: u32::try_from(scored_count).unwrap_or(u32::MAX),
                    unscored: u32::try_from(results.len() - scored_count).unwrap_or(u32::MAX),
                }
            })
            .collect()
    }
}

/// One judge evaluator's settings for a call.
struct JudgeCall<'a> {
    name: &'a str,
    version: &'a PromptVersion,
    label: Option<&'a str>,
    model: &'a Option<String>,
    min: f64,
    max: f64,
}

fn corpus_bleu(answered: &[(&str, Vec<String>)], out: &mut BTreeMap<String, f64>) {
    if answered.is_empty() {
        return;
    }
    let hypotheses: Vec<&str> = answered.iter().map(|(o, _)| *o).collect();
    let references: Vec<Vec<String>> = answered.iter().map(|(_, r)| r.clone()).collect();
    if let Ok(bleu) = metrics::corpus_bleu(&hypotheses, &references) {
        out.insert("corpus_bleu".to_string(), bleu.score);
        out.insert("brevity_penalty".to_string(), bleu.brevity_penalty);
    }
}

fn classification(answered: &[(&str, Vec<String>)], out: &mut BTreeMap<String, f64>) {
    let y_true: Vec<&str> = answered.iter().filter_map(|(_, r)| r.first().map(|s| s.trim())).collect();
    let y_pred: Vec<&str> = answered.iter().map(|(o, _)| o.trim()).collect();
    if y_true.is_empty() || y_true.len() != y_pred.len() {
        return;
    }
    if let Ok(report) = metrics::classification_report(&y_true, &y_pred) {
        out.insert("accuracy".to_string(), report.accuracy);
        out.insert("macro_precision".to_string(), report.macro_avg.precision);
        out.insert("macro_recall".to_string(), report.macro_avg.recall);
        out.insert("macro_f1".to_string(), report.macro_avg.f1);
        out.insert("micro_f1".to_string(), report.micro.f1);
        out.insert("weighted_f1".to_string(), report.weighted.f1);
        for class in report.per_class {
            out.insert(format!("f1[{}]", class.label), class.scores.f1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::final_number;

    #[test]
    fn final_numbers_follow_gsm8k_conventions() {
        assert_eq!(final_number("She makes 9 * 2 = $18 every day.\n#### 18"), Some(18.0));
        assert_eq!(final_number("so the answer is 1,234."), Some(1234.0));
        assert_eq!(final_number("It is -3.5 degrees"), Some(-3.5));
        assert_eq!(final_number("first 3 then 7"), Some(7.0));
        assert_eq!(final_number("no numbers here"), None);
        assert_eq!(final_number("#### 72"), Some(72.0));
    }
}
