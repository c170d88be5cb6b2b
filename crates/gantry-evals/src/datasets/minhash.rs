//! Near-duplicate search: MinHash signatures over word shingles, bucketed by LSH bands, with
//! each candidate pair confirmed by the exact Jaccard similarity of its shingle sets.

use std::collections::{HashMap, HashSet};

/// Words per shingle.
const SHINGLE_WORDS: usize = 3;
/// Hash functions per signature; 32 bands of 4 rows make pairs with a Jaccard similarity
/// of about 0.42 or more candidates half of the time, and 0.8 almost always (1 - (1 - s^4)^32).
const HASHES: usize = 128;
const ROWS_PER_BAND: usize = 4;

/// One item's shingles (hashed) and signature.
struct Sketch {
    shingles: HashSet<u64>,
    signature: Vec<u64>,
}

/// The mixing step of SplitMix64: a cheap, well-distributed 64-bit permutation.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a stable hash (std's `DefaultHasher` may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Lower-cased words of letters and digits; punctuation separates words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn sketch(text: &str) -> Sketch {
    let words = words(text);
    let shingles: HashSet<u64> = if words.len() < SHINGLE_WORDS {
        // A short text is one shingle: two short texts match only when equal.
        std::iter::once(fnv1a(words.join(" ").as_bytes())).collect()
    } else {
        words.windows(SHINGLE_WORDS).map(|w| fnv1a(w.join(" ").as_bytes())).collect()
    };
    let signature =
        (0..HASHES as u64).map(|seed| shingles.iter().map(|&s| mix(s ^ mix(seed))).min().unwrap_or(u64::MAX)).collect();
    Sketch { shingles, signature }
}

fn jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    let shared = a.intersection(b).count();
    let union = a.len() + b.len() - shared;
    if union == 0 {
        1.0
    } else {
        shared as f64 / union as f64
    }
}

/// For each text, in order: `None` to keep it, or the earlier kept text it nearly duplicates
/// (Jaccard similarity of word shingles at least `threshold`) with that similarity.
pub fn near_duplicates(texts: &[String], threshold: f64) -> Vec<Option<(usize, f64)>> {
    let sketches: Vec<Sketch> = texts.iter().map(|t| sketch(t)).collect();
    let mut buckets: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    let mut out = Vec::with_capacity(texts.len());
    for (i, sketch) in sketches.iter().enumerate() {
        let keys: Vec<(usize, u64)> = sketch
            .signature
            .chunks(ROWS_PER_BAND)
            .enumerate()
            .map(|(band, rows)| (band, rows.iter().fold(0u64, |h, &r| mix(h ^ r))))
            .collect();
        let mut candidates: Vec<usize> = keys.iter().filter_map(|k| buckets.get(k)).flatten().copied().collect();
        candidates.sort_unstable();
        candidates.dedup();
        let best = candidates
            .into_iter()
            .map(|j| (j, jaccard(&sketch.shingles, &sketches[j].shingles)))
            .filter(|&(_, similarity)| similarity >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        if best.is_none() {
            // Only kept texts enter the buckets: a chain of small edits is judged against
            // what stays, not against what was dropped.
            for key in keys {
                buckets.entry(key).or_default().push(i);
            }
        }
        out.push(best);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_copies_are_found_and_different_texts_are_not() {
        let base = "How do I reset my password if I no longer have access to the email address on my account";
        let texts = vec![
            base.to_string(),
            "Where can I download my invoices for the last twelve months of my subscription".to_string(),
            format!("{base}?"),
            base.replace("no longer", "do not"),
            "How do I reset my password".to_string(),
            "completely unrelated text about the weather in the mountains this weekend".to_string(),
        ];
        let found = near_duplicates(&texts, 0.8);
        assert_eq!(found[0], None);
        assert_eq!(found[1], None);
        assert_eq!(found[2].map(|(j, s)| (j, (s * 100.0).round())), Some((0, 100.0)), "punctuation is ignored");
        // Two changed words of 19 leave 13 of 21 distinct shingles shared: 0.62 < 0.8, kept.
        assert_eq!(found[3], None);
        assert_eq!(found[4], None);
        assert_eq!(found[5], None);
        let loose = near_duplicates(&texts, 0.6);
        assert_eq!(loose[3].map(|(j, _)| j), Some(0));
    }

    #[test]
    fn signatures_estimate_jaccard() {
        let a = sketch("the quick brown fox jumps over the lazy dog near the river bank today");
        let b = sketch("the quick brown fox jumps over the lazy cat near the river bank today");
        let exact = jaccard(&a.shingles, &b.shingles);
        let estimate = a.signature.iter().zip(&b.signature).filter(|(x, y)| x == y).count() as f64 / HASHES as f64;
        assert!((exact - estimate).abs() < 0.15, "exact {exact}, estimate {estimate}");
    }
}
