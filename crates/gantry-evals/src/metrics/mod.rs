//! Evaluators as pure functions, each checked against its reference implementation.
//!
//! Every function here is pure (no I/O); the eval-run layer feeds them outputs and expectations.

mod bleu;
mod classification;
mod error;
mod judge;
mod levenshtein;
mod normalize;
pub mod porter;
mod rouge;
mod similarity;
mod squad;
mod text;

pub use bleu::{corpus_bleu, sentence_bleu, BleuScore};
pub use classification::{accuracy, classification_report, ClassScores, ClassificationReport, PrecisionRecallF1};
pub use error::{JudgeParseError, MetricError};
pub use judge::{parse_judge_output, JudgeVerdict};
pub use levenshtein::levenshtein_distance;
pub use normalize::{normalize_text, squad_normalize, NormalizeOptions};
pub use rouge::{rouge_scores, rouge_tokenize, RougeScore, RougeScores};
pub use similarity::{cosine_similarity, levenshtein_similarity};
pub use squad::{squad_exact_match, squad_token_f1};
pub use text::{
    compile_regex, contains, exact_match, is_valid_json, json_schema_check, regex_is_match, regex_match,
    JsonSchemaValidator, SchemaCheck,
};
