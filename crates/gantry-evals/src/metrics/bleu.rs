//! BLEU as sacrebleu computes it with its defaults: the `13a` tokenizer, four n-gram orders,
//! `exp` smoothing; `sentence_bleu` additionally uses the effective order.

use super::normalize::{is_python_whitespace, python_split_whitespace};
use super::MetricError;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// The highest n-gram order BLEU counts.
const MAX_ORDER: usize = 4;

/// A BLEU score and the statistics it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BleuScore {
    /// BLEU on the 0-100 scale.
    pub score: f64,
    /// The (smoothed) n-gram precisions for orders 1 to 4, on the 0-100 scale.
    pub precisions: [f64; MAX_ORDER],
    /// The brevity penalty.
    pub brevity_penalty: f64,
    /// Number of hypothesis tokens.
    pub sys_len: usize,
    /// Number of tokens of the closest-length references.
    pub ref_len: usize,
}

/// sacrebleu's `sentence_bleu(hypothesis, references)` with its defaults.
pub fn sentence_bleu<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> Result<BleuScore, MetricError> {
    if references.is_empty() {
        return Err(MetricError::NoReferences { index: 0 });
    }
    Ok(score_from_stats(&segment_statistics(hypothesis, references), true))
}

/// sacrebleu's `corpus_bleu` with its defaults; `references[i]` are the references of `hypotheses[i]`.
///
/// sacrebleu takes reference *streams* instead (`refs[k][i]`); a hypothesis with fewer references
/// corresponds to `None` entries in the streams.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> Result<BleuScore, MetricError> {
    if hypotheses.len() != references.len() {
        return Err(MetricError::LengthMismatch {
            left_name: "hypotheses",
            left: hypotheses.len(),
            right_name: "references",
            right: references.len(),
        });
    }
    let mut total = SegmentStatistics::default();
    for (index, (hypothesis, refs)) in hypotheses.iter().zip(references).enumerate() {
        if refs.is_empty() {
            return Err(MetricError::NoReferences { index });
        }
        total.add(&segment_statistics(hypothesis.as_ref(), refs));
    }
    Ok(score_from_stats(&total, false))
}

/// The counts BLEU sums over a corpus.
#[derive(Debug, Default, Clone)]
struct SegmentStatistics {
    sys_len: usize,
    ref_len: usize,
    matching: [usize; MAX_ORDER],
    possible: [usize; MAX_ORDER],
}

impl SegmentStatistics {
    fn add(&mut self, other: &SegmentStatistics) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for order in 0..MAX_ORDER {
            self.matching[order] += other.matching[order];
            self.possible[order] += other.possible[order];
        }
    }
}

fn segment_statistics<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> SegmentStatistics {
    let hypothesis = tokenize_13a(hypothesis);
    let hypothesis_tokens: Vec<&str> = hypothesis.split(' ').filter(|t| !t.is_empty()).collect();
    let references: Vec<String> = references.iter().map(|r| tokenize_13a(r.as_ref())).collect();
    let reference_tokens: Vec<Vec<&str>> =
        references.iter().map(|r| r.split(' ').filter(|t| !t.is_empty()).collect()).collect();

    // An n-gram is credited at most as often as it occurs in any single reference.
    let mut reference_max_counts: FxHashMap<&[&str], usize> = FxHashMap::default();
    for tokens in &reference_tokens {
        for (ngram, count) in ngram_counts(tokens) {
            let best = reference_max_counts.entry(ngram).or_default();
            *best = (*best).max(count);
        }
    }
    let reference_lengths: Vec<usize> = reference_tokens.iter().map(Vec::len).collect();
    let mut stats = SegmentStatistics {
        sys_len: hypothesis_tokens.len(),
        ref_len: closest_reference_length(hypothesis_tokens.len(), &reference_lengths),
        ..SegmentStatistics::default()
    };
    for (ngram, count) in ngram_counts(&hypothesis_tokens) {
        let order = ngram.len() - 1;
        stats.possible[order] += count;
        stats.matching[order] += count.min(reference_max_counts.get(ngram).copied().unwrap_or(0));
    }
    stats
}

/// Counts every n-gram of orders 1 to 4.
fn ngram_counts<'a, 'b>(tokens: &'a [&'b str]) -> FxHashMap<&'a [&'b str], usize> {
    let mut counts = FxHashMap::default();
    for order in 1..=MAX_ORDER {
        for ngram in tokens.windows(order) {
            *counts.entry(ngram).or_insert(0) += 1;
        }
    }
    counts
}

/// The reference length closest to the hypothesis length; on a tie, the shorter one.
fn closest_reference_length(hypothesis_length: usize, reference_lengths: &[usize]) -> usize {
    reference_lengths.iter().copied().min_by_key(|&length| (hypothesis_length.abs_diff(length), length)).unwrap_or(0)
}

fn score_from_stats(stats: &SegmentStatistics, effective_order: bool) -> BleuScore {
    let brevity_penalty = if stats.sys_len >= stats.ref_len {
        1.0
    } else if stats.sys_len == 0 {
        0.0
    } else {
        (1.0 - stats.ref_len as f64 / stats.sys_len as f64).exp()
    };
    let mut result = BleuScore {
        score: 0.0,
        precisions: [0.0; MAX_ORDER],
        brevity_penalty,
        sys_len: stats.sys_len,
        ref_len: stats.ref_len,
    };
    if stats.matching.iter().all(|&matching| matching == 0) {
        return result;
    }
    // `exp` smoothing: the k-th order without any match gets precision 100 / (2^k * possible).
    let mut smoothing = 1.0;
    let mut orders_used = MAX_ORDER;
    for order in 0..MAX_ORDER {
        let possible = stats.possible[order] as f64;
        if stats.possible[order] == 0 {
            break;
        }
        if effective_order {
            orders_used = order + 1;
        }
        result.precisions[order] = if stats.matching[order] == 0 {
            smoothing *= 2.0;
            100.0 / (smoothing * possible)
        } else {
            100.0 * stats.matching[order] as f64 / possible
        };
    }
    // sacrebleu's stand-in for log(0), so that a missing order drives the score to 0.
    const LOG_OF_ZERO: f64 = -9_999_999_999.0;
    let log_sum: f64 = result.precisions[..orders_used]
        .iter()
        .map(|&precision| if precision == 0.0 { LOG_OF_ZERO } else { precision.ln() })
        .sum();
    result.score = brevity_penalty * (log_sum / orders_used as f64).exp();
    result
}

/// sacrebleu's `13a` tokenizer (mteval-v13a), applied to the right-stripped segment.
pub(crate) fn tokenize_13a(segment: &str) -> String {
    let mut line = segment.trim_end_matches(is_python_whitespace).replace("<skipped>", "").replace("-\n", "");
    line = line.replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    let mut chars: Vec<char> = Vec::with_capacity(line.len() + 2);
    chars.push(' ');
    for c in line.chars() {
        // Most ASCII symbols become tokens of their own; `'`, `,`, `-` and `.` are handled below.
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    chars.push(' ');
    let is_period_or_comma = |c: char| c == '.' || c == ',';
    // Each pass replaces non-overlapping character pairs from left to right, as `re.sub` does.
    let chars =
        replace_pairs(&chars, |a, b| (!a.is_ascii_digit() && is_period_or_comma(b)).then_some([a, ' ', b, ' ']));
    let chars =
        replace_pairs(&chars, |a, b| (is_period_or_comma(a) && !b.is_ascii_digit()).then_some([' ', a, ' ', b]));
    let chars = replace_pairs(&chars, |a, b| (a.is_ascii_digit() && b == '-').then_some([a, ' ', b, ' ']));
    let text: String = chars.into_iter().collect();
    python_split_whitespace(&text).collect::<Vec<_>>().join(" ")
}

fn replace_pairs(chars: &[char], replacement: impl Fn(char, char) -> Option<[char; 4]>) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 4);
    let mut index = 0;
    while index < chars.len() {
        if let Some(&next) = chars.get(index + 1) {
            if let Some(replaced) = replacement(chars[index], next) {
                out.extend(replaced);
                index += 2;
                continue;
            }
        }
        out.push(chars[index]);
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_13a_splits_punctuation_but_not_numbers() {
        assert_eq!(
            tokenize_13a("Hello, world! It costs $3.50 (or 3,000).  "),
            "Hello , world ! It costs $ 3.50 ( or 3,000 ) ."
        );
        assert_eq!(tokenize_13a("2-3 a-b &amp; &lt;x&gt;"), "2 - 3 a-b & < x >");
    }

    #[test]
    fn missing_references_are_errors() {
        let none: [&str; 0] = [];
        assert_eq!(sentence_bleu("a", &none).unwrap_err().code(), "no_references");
        let refs: Vec<Vec<&str>> = vec![vec!["a"], vec![]];
        assert_eq!(corpus_bleu(&["a", "b"], &refs).unwrap_err(), MetricError::NoReferences { index: 1 });
        assert_eq!(corpus_bleu(&["a"], &refs).unwrap_err().code(), "length_mismatch");
    }

    #[test]
    fn identical_sentences_score_100() {
        let score = sentence_bleu("the cat sat on the mat", &["the cat sat on the mat"]).unwrap();
        assert!((score.score - 100.0).abs() < 1e-9);
        assert_eq!((score.sys_len, score.ref_len, score.brevity_penalty), (6, 6, 1.0));
    }
}
