//! SQuAD v1.1 answer metrics: exact match and token F1, maximised over the ground truths.

use super::normalize::{python_split_whitespace, squad_normalize};
use super::MetricError;
use rustc_hash::FxHashMap;

/// SQuAD exact match (1.0 or 0.0) of `prediction` against its best ground truth.
pub fn squad_exact_match<S: AsRef<str>>(prediction: &str, ground_truths: &[S]) -> Result<f64, MetricError> {
    let prediction = squad_normalize(prediction);
    best_over(ground_truths, |truth| if squad_normalize(truth) == prediction { 1.0 } else { 0.0 })
}

/// SQuAD token F1 of `prediction` against its best ground truth.
pub fn squad_token_f1<S: AsRef<str>>(prediction: &str, ground_truths: &[S]) -> Result<f64, MetricError> {
    let prediction = squad_normalize(prediction);
    let prediction_tokens: Vec<&str> = python_split_whitespace(&prediction).collect();
    let mut prediction_counts: FxHashMap<&str, usize> = FxHashMap::default();
    for token in &prediction_tokens {
        *prediction_counts.entry(token).or_default() += 1;
    }
    best_over(ground_truths, |truth| {
        let truth = squad_normalize(truth);
        let truth_tokens: Vec<&str> = python_split_whitespace(&truth).collect();
        token_f1(prediction_tokens.len(), &prediction_counts, &truth_tokens)
    })
}

/// F1 of the multiset overlap, 0 when nothing overlaps (also when either side has no tokens).
fn token_f1(prediction_len: usize, prediction_counts: &FxHashMap<&str, usize>, truth_tokens: &[&str]) -> f64 {
    let mut unused = prediction_counts.clone();
    let mut same = 0usize;
    for token in truth_tokens {
        if let Some(count) = unused.get_mut(token) {
            if *count > 0 {
                *count -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / prediction_len as f64;
    let recall = same as f64 / truth_tokens.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

fn best_over<S: AsRef<str>>(ground_truths: &[S], score: impl Fn(&str) -> f64) -> Result<f64, MetricError> {
    if ground_truths.is_empty() {
        return Err(MetricError::NoReferences { index: 0 });
    }
    Ok(ground_truths.iter().map(|truth| score(truth.as_ref())).fold(f64::NEG_INFINITY, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ground_truth_is_an_error() {
        let none: [&str; 0] = [];
        assert_eq!(squad_token_f1("x", &none).unwrap_err().code(), "no_references");
        assert_eq!(squad_exact_match("x", &none).unwrap_err().code(), "no_references");
    }

    #[test]
    fn token_f1_counts_repeated_tokens_once_each() {
        // prediction "a cat cat" -> [cat, cat]; truth [cat] -> p 1/2, r 1 -> f1 2/3
        let f1 = squad_token_f1("a cat cat", &["the cat"]).unwrap();
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(squad_token_f1("", &[""]).unwrap(), 0.0);
        assert_eq!(squad_exact_match("The cat.", &["dog", "cat"]).unwrap(), 1.0);
    }
}
