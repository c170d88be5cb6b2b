//! ROUGE-1, ROUGE-2 and ROUGE-L as Google's `rouge-score` package computes them
//! (`RougeScorer(['rouge1', 'rouge2', 'rougeL'], use_stemmer=...)`), its tokenizer included.

use super::porter::porter_stem;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Precision, recall and F-measure of one ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScore {
    /// Overlap divided by the prediction's size.
    pub precision: f64,
    /// Overlap divided by the target's size.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub fmeasure: f64,
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one prediction against one target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScores {
    /// Unigram overlap.
    pub rouge1: RougeScore,
    /// Bigram overlap.
    pub rouge2: RougeScore,
    /// Longest common subsequence.
    pub rouge_l: RougeScore,
}

/// `RougeScorer(['rouge1','rouge2','rougeL'], use_stemmer).score(target, prediction)`.
pub fn rouge_scores(target: &str, prediction: &str, use_stemmer: bool) -> RougeScores {
    let target_tokens = rouge_tokenize(target, use_stemmer);
    let prediction_tokens = rouge_tokenize(prediction, use_stemmer);
    RougeScores {
        rouge1: ngram_overlap(&target_tokens, &prediction_tokens, 1),
        rouge2: ngram_overlap(&target_tokens, &prediction_tokens, 2),
        rouge_l: longest_common_subsequence_score(&target_tokens, &prediction_tokens),
    }
}

/// rouge-score's tokenizer: lowercase, every run of characters other than `a-z0-9` becomes a
/// separator, and (with the stemmer) tokens longer than 3 characters are Porter-stemmed.
pub fn rouge_tokenize(text: &str, use_stemmer: bool) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|token| !token.is_empty())
        .map(|token| if use_stemmer && token.len() > 3 { porter_stem(token) } else { token.to_string() })
        // The stemmer can only shorten a token, never empty it, but rouge-score filters again anyway.
        .filter(|token| !token.is_empty())
        .collect()
}

fn score(overlap: usize, prediction_size: usize, target_size: usize) -> RougeScore {
    let precision = overlap as f64 / prediction_size.max(1) as f64;
    let recall = overlap as f64 / target_size.max(1) as f64;
    let fmeasure = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    RougeScore { precision, recall, fmeasure }
}

fn ngram_overlap(target: &[String], prediction: &[String], order: usize) -> RougeScore {
    let target_counts = ngram_counts(target, order);
    let prediction_counts = ngram_counts(prediction, order);
    let overlap: usize =
        target_counts.iter().map(|(ngram, &count)| count.min(prediction_counts.get(ngram).copied().unwrap_or(0))).sum();
    score(overlap, prediction.len().saturating_sub(order - 1), target.len().saturating_sub(order - 1))
}

fn ngram_counts(tokens: &[String], order: usize) -> FxHashMap<&[String], usize> {
    let mut counts: FxHashMap<&[String], usize> = FxHashMap::default();
    for ngram in tokens.windows(order) {
        *counts.entry(ngram).or_insert(0) += 1;
    }
    counts
}

fn longest_common_subsequence_score(target: &[String], prediction: &[String]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore { precision: 0.0, recall: 0.0, fmeasure: 0.0 };
    }
    score(longest_common_subsequence(target, prediction), prediction.len(), target.len())
}

/// Length of the longest common subsequence, with one row of the dynamic-programming table.
fn longest_common_subsequence(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for a_token in a {
        let mut diagonal = 0;
        for (j, b_token) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if a_token == b_token { diagonal + 1 } else { above.max(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_only_ascii_alphanumerics() {
        assert_eq!(rouge_tokenize("Héllo, WORLD-2024! café", false), ["h", "llo", "world", "2024", "caf"]);
        assert_eq!(rouge_tokenize("The cats were running", true), ["the", "cat", "were", "run"]);
        assert!(rouge_tokenize("  ¿¡ ", true).is_empty());
    }

    #[test]
    fn empty_sides_score_zero() {
        let scores = rouge_scores("", "anything", false);
        assert_eq!(scores.rouge1, RougeScore { precision: 0.0, recall: 0.0, fmeasure: 0.0 });
        assert_eq!(scores.rouge_l.fmeasure, 0.0);
        let same = rouge_scores("a b c", "a b c", false);
        assert_eq!((same.rouge1.fmeasure, same.rouge2.fmeasure, same.rouge_l.fmeasure), (1.0, 1.0, 1.0));
    }
}
