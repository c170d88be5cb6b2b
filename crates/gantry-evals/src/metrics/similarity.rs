//! Similarity of two outputs: Levenshtein similarity of their characters, cosine of their embeddings.

use super::levenshtein::levenshtein_distance;
use super::MetricError;

/// 1 − (character edit distance / length of the longer text); 1.0 for two empty texts
/// (rapidfuzz's `Levenshtein.normalized_similarity`).
pub fn levenshtein_similarity(a: &str, b: &str) -> f64 {
    let longer = a.chars().count().max(b.chars().count());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein_distance(a, b) as f64 / longer as f64
}

/// Cosine similarity of two embeddings, accumulated in f64; mismatched, empty, zero or
/// non-finite vectors are typed errors.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> Result<f64, MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::VectorLengthMismatch { left: a.len(), right: b.len() });
    }
    for (vector, which) in [(a, "first"), (b, "second")] {
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(MetricError::NonFiniteVector { which });
        }
    }
    let (mut dot, mut norm_a, mut norm_b) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    for (norm, which) in [(norm_a, "first"), (norm_b, "second")] {
        if norm == 0.0 {
            return Err(MetricError::ZeroVector { which });
        }
    }
    // Rounding can push the quotient a hair outside [-1, 1].
    Ok((dot / (norm_a.sqrt() * norm_b.sqrt())).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_vectors_are_errors() {
        assert_eq!(cosine_similarity(&[1.0], &[1.0, 2.0]).unwrap_err().code(), "vector_length_mismatch");
        assert_eq!(cosine_similarity(&[], &[]).unwrap_err().code(), "zero_vector");
        assert_eq!(
            cosine_similarity(&[0.0, 0.0], &[1.0, 2.0]).unwrap_err(),
            MetricError::ZeroVector { which: "first" }
        );
        assert_eq!(cosine_similarity(&[f32::NAN], &[1.0]).unwrap_err().code(), "non_finite_vector");
    }

    #[test]
    fn cosine_and_levenshtein_values() {
        assert!((cosine_similarity(&[1.0, 0.0], &[1.0, 1.0]).unwrap() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert_eq!(cosine_similarity(&[2.0, 0.0], &[-1.0, 0.0]).unwrap(), -1.0);
        assert_eq!(levenshtein_similarity("", ""), 1.0);
        assert_eq!(levenshtein_similarity("abc", ""), 0.0);
        assert!((levenshtein_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)).abs() < 1e-12);
    }
}
