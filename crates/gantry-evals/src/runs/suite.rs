//! Eval suite files (TOML or YAML): a dataset version, a target, evaluators with thresholds,
//! concurrency. Checked whole before anything runs, so a typo fails at once, not after an hour.

use super::error::EvalError;
use gantry_core::prompts::{parse_structured, FileFormat};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Items run at once when the suite names no concurrency.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The most items a suite may run at once.
pub const MAX_CONCURRENCY: usize = 64;

/// A suite as written in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Runs of the same suite are compared with each other (the baseline is the last one).
    pub name: String,
    /// `NAME` (its newest version) or `NAME@VERSION`.
    pub dataset: String,
    pub target: TargetSpec,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Only the first `limit` items of the dataset version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many items may fail (upstream errors) before the gate fails; default none.
    #[serde(default)]
    pub max_failed_items: u32,
    pub evaluators: Vec<EvaluatorConfig>,
}

fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}

/// What each item is sent to: a model, a prompt version (with its model, or `model`), or a
/// chain version. Sampling settings apply to model and prompt targets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `NAME`, `NAME@LABEL` or `NAME@VERSION`; without a suffix the `production` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `NAME`, `NAME@LABEL` or `NAME@VERSION`; without a suffix the `latest` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// For a chain whose output is an object: the field (dot path) holding the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

/// One evaluator of a suite: its type and options, and what the gate checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorConfig {
    /// The name its scores are stored under.
    pub name: String,
    #[serde(flatten)]
    pub kind: EvaluatorKind,
    /// The lowest aggregate value that passes the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Which aggregate the threshold and the regression check look at (default: the
    /// evaluator's main one, e.g. `mean`, `corpus_bleu`, `accuracy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// How far below the baseline run the aggregate may fall before the gate fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
}

/// Which ROUGE score an evaluator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RougeVariant {
    #[default]
    Rouge1,
    Rouge2,
    RougeL,
}

/// The evaluator types and their options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvaluatorKind {
    /// Output equals expected; `normalize` applies SQuAD's normalisation to both first.
    ExactMatch {
        #[serde(default)]
        normalize: bool,
    },
    /// Output contains `value` (default: the expected output).
    Contains {
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        case_sensitive: bool,
    },
    /// Output matches a regular expression.
    Regex { pattern: String },
    /// Output parses as JSON.
    JsonValid,
    /// Output parses as JSON and satisfies a JSON Schema.
    JsonSchema { schema: Value },
    /// Output is a class label compared with the expected one: accuracy, precision, recall, F1.
    Classification,
    /// SQuAD token F1 against the expected output.
    TokenF1,
    /// sacreBLEU: sentence BLEU per item, corpus BLEU overall.
    Bleu,
    /// ROUGE F-measure (rouge-score's definition).
    Rouge {
        #[serde(default)]
        variant: RougeVariant,
        #[serde(default)]
        stemmer: bool,
    },
    /// Character Levenshtein similarity (1 - distance / longer length).
    Levenshtein,
    /// The last number in the output equals the expected number (after `####` when present,
    /// as GSM8K writes answers), within `tolerance`.
    NumericMatch {
        #[serde(default)]
        tolerance: f64,
    },
    /// Cosine similarity of output and expected, embedded with an embedding model.
    EmbeddingSimilarity {
        #[serde(default = "default_embedding_model")]
        model: String,
    },
    /// A judge model scores the output with a rubric prompt from the registry; the prompt
    /// gets the variables `input`, `output` and `expected` and must answer with a score and
    /// a reason.
    LlmJudge {
        prompt: String,
        #[serde(default)]
        model: Option<String>,
        #[serde(default = "default_judge_min")]
        min: f64,
        #[serde(default = "default_judge_max")]
        max: f64,
    },
}

fn default_embedding_model() -> String {
    gantry_core::config::DEFAULT_EMBEDDING_MODEL.to_string()
}

fn default_judge_min() -> f64 {
    1.0
}

fn default_judge_max() -> f64 {
    5.0
}

impl EvaluatorKind {
    /// The type name, as the suite file writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            EvaluatorKind::ExactMatch { .. } => "exact_match",
            EvaluatorKind::Contains { .. } => "contains",
            EvaluatorKind::Regex { .. } => "regex",
            EvaluatorKind::JsonValid => "json_valid",
            EvaluatorKind::JsonSchema { .. } => "json_schema",
            EvaluatorKind::Classification => "classification",
            EvaluatorKind::TokenF1 => "token_f1",
            EvaluatorKind::Bleu => "bleu",
            EvaluatorKind::Rouge { .. } => "rouge",
            EvaluatorKind::Levenshtein => "levenshtein",
            EvaluatorKind::NumericMatch { .. } => "numeric_match",
            EvaluatorKind::EmbeddingSimilarity { .. } => "embedding_similarity",
            EvaluatorKind::LlmJudge { .. } => "llm_judge",
        }
    }

    /// Whether a score needs the item's expected output.
    pub fn needs_expected(&self) -> bool {
        match self {
            EvaluatorKind::Contains { value, .. } => value.is_none(),
            EvaluatorKind::Regex { .. }
            | EvaluatorKind::JsonValid
            | EvaluatorKind::JsonSchema { .. }
            | EvaluatorKind::LlmJudge { .. } => false,
            _ => true,
        }
    }
}

impl Suite {
    /// Parses a suite from `text`; `source_name` names it in errors.
    pub fn parse(text: &str, format: FileFormat, source_name: &str) -> Result<Self, EvalError> {
        let suite: Suite = parse_structured(text, format, source_name)
            .map_err(|e| EvalError::InvalidSuite { source_name: source_name.to_string(), message: e.to_string() })?;
        suite.validate(source_name)?;
        Ok(suite)
    }

    /// Reads a suite file, choosing the syntax by extension.
    pub fn read(path: &Path) -> Result<Self, EvalError> {
        let source_name = path.display().to_string();
        let invalid = |message: String| EvalError::InvalidSuite { source_name: source_name.clone(), message };
        let format = FileFormat::from_path(path)
            .ok_or_else(|| invalid("a suite file ends in .toml, .yaml or .yml".to_string()))?;
        let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
        Self::parse(&text, format, &source_name)
    }

    /// A suite sent as JSON (the API).
    pub fn from_json(value: Value) -> Result<Self, EvalError> {
        let suite: Suite = serde_path_to_error::deserialize(value).map_err(|e| EvalError::InvalidSuite {
            source_name: "request body".to_string(),
            message: format!("field '{}': {}", e.path(), e.inner()),
        })?;
        suite.validate("request body")?;
        Ok(suite)
    }

    /// Checks what the types alone cannot: names, the target, options, thresholds.
    pub fn validate(&self, source_name: &str) -> Result<(), EvalError> {
        let invalid = |message: String| EvalError::InvalidSuite { source_name: source_name.to_string(), message };
        if self.name.trim().is_empty() {
            return Err(invalid("'name' is empty".to_string()));
        }
        if self.dataset.trim().is_empty() {
            return Err(invalid("'dataset' is empty".to_string()));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(invalid(format!("'concurrency' must be between 1 and {MAX_CONCURRENCY}")));
        }
        let target = &self.target;
        match (&target.model, &target.prompt, &target.chain) {
            (_, Some(_), Some(_)) => return Err(invalid("the target names both a prompt and a chain".to_string())),
            (Some(_), None, Some(_)) => {
                return Err(invalid("a chain target uses the models its steps name; drop 'model'".to_string()))
            }
            (None, None, None) => {
                return Err(invalid("the target names nothing: set target.model, target.prompt or target.chain".into()))
            }
            _ => {}
        }
        if target.output_field.is_some() && target.chain.is_none() {
            return Err(invalid("'output_field' applies to chain targets only".to_string()));
        }
        if self.evaluators.is_empty() {
            return Err(invalid("a suite needs at least one evaluator".to_string()));
        }
        let mut seen = std::collections::HashSet::new();
        for evaluator in &self.evaluators {
            let name = evaluator.name.trim();
            if name.is_empty() {
                return Err(invalid("an evaluator has an empty 'name'".to_string()));
            }
            if !seen.insert(name) {
                return Err(invalid(format!("two evaluators are named '{name}'")));
            }
            validate_evaluator(evaluator).map_err(|m| invalid(format!("evaluator '{name}': {m}")))?;
        }
        Ok(())
    }
}

fn validate_evaluator(evaluator: &EvaluatorConfig) -> Result<(), String> {
    for (what, value) in [("threshold", evaluator.threshold), ("max_regression", evaluator.max_regression)] {
        if value.is_some_and(|v| !v.is_finite()) {
            return Err(format!("'{what}' must be a finite number"));
        }
    }
    if evaluator.max_regression.is_some_and(|v| v < 0.0) {
        return Err("'max_regression' cannot be negative".to_string());
    }
    match &evaluator.kind {
        EvaluatorKind::Regex { pattern } => {
            regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
        }
        EvaluatorKind::JsonSchema { schema } => {
            jsonschema::validator_for(schema).map_err(|e| format!("bad schema: {e}"))?;
        }
        EvaluatorKind::NumericMatch { tolerance } if !(tolerance.is_finite() && *tolerance >= 0.0) => {
            return Err("'tolerance' must be a number ≥ 0".to_string());
        }
        EvaluatorKind::LlmJudge { min, max, .. } if !(min.is_finite() && max.is_finite() && min < max) => {
            return Err("'min' must be below 'max'".to_string());
        }
        _ => {}
    }
    Ok(())
}
