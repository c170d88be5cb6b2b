//! Statistics of a dataset version: sizes, length distributions, labels, duplicates.

use super::text::{char_count, exact_key, input_text, token_count};
use gantry_types::{value_text, DatasetItem};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Bins of a histogram at most.
const MAX_BINS: u64 = 10;
/// `expected` counts as a label when it has at most this many distinct values.
const MAX_LABEL_VALUES: usize = 20;
/// The label an item without the key gets.
pub const NO_LABEL: &str = "(none)";

/// One histogram bin: values from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub start: u64,
    pub end: u64,
    pub count: u64,
}

/// A distribution of whole numbers: summary values and a histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub min: u64,
    pub mean: f64,
    pub median: u64,
    pub p95: u64,
    pub max: u64,
    pub histogram: Vec<Bin>,
}

impl Distribution {
    /// The distribution of `values`; `None` when there are none.
    pub fn of(values: &[u64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let n = sorted.len();
        // Nearest rank: the smallest value with at least q of the values at or below it.
        let rank = |q: f64| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let width = (max - min + 1).div_ceil(MAX_BINS);
        let bins = (max - min) / width + 1;
        let mut histogram: Vec<Bin> =
            (0..bins).map(|b| Bin { start: min + b * width, end: min + (b + 1) * width, count: 0 }).collect();
        for v in &sorted {
            let b = ((v - min) / width) as usize;
            if let Some(bin) = histogram.get_mut(b) {
                bin.count += 1;
            }
        }
        Some(Distribution {
            min,
            mean: sorted.iter().sum::<u64>() as f64 / n as f64,
            median: rank(0.5),
            p95: rank(0.95),
            max,
            histogram,
        })
    }
}

/// How often each label occurs, most frequent first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// The metadata key the labels came from, or `expected`.
    pub key: String,
    pub counts: Vec<LabelCount>,
}

/// One label and its count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCount {
    pub label: String,
    pub count: u64,
}

/// Statistics of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub name: String,
    pub version: u32,
    pub items: u64,
    /// Characters of the input text; absent for an empty version.
    pub input_chars: Option<Distribution>,
    /// Whitespace tokens of the input text.
    pub input_tokens: Option<Distribution>,
    /// Label counts from the metadata key asked for, else from `expected` when it has few
    /// distinct values; absent otherwise.
    pub labels: Option<LabelCounts>,
    /// Items equal (input and expected) to an earlier item.
    pub duplicates: u64,
    /// `duplicates / items`.
    pub duplicate_rate: f64,
    pub missing_expected: u64,
}

fn count_labels(key: &str, labels: impl Iterator<Item = String>) -> LabelCounts {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for label in labels {
        *counts.entry(label).or_insert(0) += 1;
    }
    let mut counts: Vec<LabelCount> = counts.into_iter().map(|(label, count)| LabelCount { label, count }).collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    LabelCounts { key: key.to_string(), counts }
}

/// The statistics of `items`; labels from metadata `label_key` when given.
pub fn compute_stats(name: &str, version: u32, items: &[DatasetItem], label_key: Option<&str>) -> DatasetStats {
    let texts: Vec<String> = items.iter().map(input_text).collect();
    let chars: Vec<u64> = texts.iter().map(|t| char_count(t) as u64).collect();
    let tokens: Vec<u64> = texts.iter().map(|t| token_count(t) as u64).collect();
    let mut seen = HashSet::new();
    let duplicates = items.iter().filter(|item| !seen.insert(exact_key(item))).count() as u64;
    let missing_expected = items.iter().filter(|item| item.expected.is_none()).count() as u64;
    let labels = match label_key {
        Some(key) => Some(count_labels(
            key,
            items.iter().map(|item| item.metadata.get(key).map_or_else(|| NO_LABEL.to_string(), value_text)),
        )),
        None => {
            let expected: Vec<String> = items.iter().filter_map(DatasetItem::expected_text).collect();
            let distinct = expected.iter().collect::<HashSet<_>>().len();
            // Few distinct values that repeat: a classification set.
            (!expected.is_empty() && distinct <= MAX_LABEL_VALUES && distinct < expected.len())
                .then(|| count_labels("expected", expected.into_iter()))
        }
    };
    DatasetStats {
        name: name.to_string(),
        version,
        items: items.len() as u64,
        input_chars: Distribution::of(&chars),
        input_tokens: Distribution::of(&tokens),
        labels,
        duplicates,
        duplicate_rate: if items.is_empty() { 0.0 } else { duplicates as f64 / items.len() as f64 },
        missing_expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(text: &str, expected: Option<&str>, category: Option<&str>) -> DatasetItem {
        let mut value = json!({"input": [{"role": "user", "content": text}]});
        if let Some(e) = expected {
            value["expected"] = json!(e);
        }
        if let Some(c) = category {
            value["metadata"] = json!({"category": c});
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn distributions_have_exact_summaries_and_bins() {
        let d = Distribution::of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100]).unwrap();
        assert_eq!((d.min, d.median, d.p95, d.max), (1, 6, 100, 100));
        assert!((d.mean - 155.0 / 11.0).abs() < 1e-9);
        assert_eq!(d.histogram.len(), 10);
        assert_eq!(d.histogram[0], Bin { start: 1, end: 11, count: 10 });
        assert_eq!(d.histogram[9], Bin { start: 91, end: 101, count: 1 });
        assert_eq!(d.histogram.iter().map(|b| b.count).sum::<u64>(), 11);
        let same = Distribution::of(&[4, 4]).unwrap();
        assert_eq!(same.histogram, vec![Bin { start: 4, end: 5, count: 2 }]);
        assert_eq!(Distribution::of(&[]), None);
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(Distribution::of(&twenty).unwrap().p95, 19);
    }

    #[test]
    fn labels_duplicates_and_missing_expected() {
        let items = vec![
            item("hello there", Some("greeting"), Some("small-talk")),
            item("hello there", Some("greeting"), Some("small-talk")),
            item("refund please", Some("billing"), Some("billing")),
            item("where is my parcel", Some("shipping"), None),
            item("my card was charged twice", Some("billing"), Some("billing")),
            item("no answer yet", None, Some("billing")),
        ];
        let stats = compute_stats("support", 3, &items, Some("category"));
        assert_eq!((stats.items, stats.duplicates, stats.missing_expected), (6, 1, 1));
        assert!((stats.duplicate_rate - 1.0 / 6.0).abs() < 1e-9);
        let labels = stats.labels.unwrap();
        assert_eq!(labels.key, "category");
        let counts: Vec<(&str, u64)> = labels.counts.iter().map(|c| (c.label.as_str(), c.count)).collect();
        assert_eq!(counts, vec![("billing", 3), ("small-talk", 2), ("(none)", 1)]);
        let tokens = stats.input_tokens.unwrap();
        assert_eq!((tokens.min, tokens.max), (2, 5));

        let by_expected = compute_stats("support", 3, &items, None).labels.unwrap();
        assert_eq!(by_expected.key, "expected");
        assert_eq!(by_expected.counts[0], LabelCount { label: "billing".into(), count: 2 });
        // Free-text answers are not labels.
        let free = vec![item("a", Some("one answer"), None), item("b", Some("another answer"), None)];
        assert_eq!(compute_stats("x", 1, &free, None).labels, None);
    }
}
