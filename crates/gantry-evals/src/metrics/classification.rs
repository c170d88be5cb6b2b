//! Classification metrics as scikit-learn's `accuracy_score` and `precision_recall_fscore_support`
//! compute them with `zero_division=0`, over the sorted union of the true and predicted labels.

use super::MetricError;
use serde::Serialize;
use std::collections::BTreeMap;

/// Precision, recall and F1 of one class, or one average over the classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecisionRecallF1 {
    /// Of the items predicted as the class, the share that truly are.
    pub precision: f64,
    /// Of the items truly of the class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// The scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    /// The class label.
    pub label: String,
    /// Precision, recall and F1 of this class.
    #[serde(flatten)]
    pub scores: PrecisionRecallF1,
    /// How many items truly belong to this class.
    pub support: usize,
}

/// Accuracy, per-class scores and the micro, macro and support-weighted averages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// Share of items whose predicted label equals the true one.
    pub accuracy: f64,
    /// One entry per label, sorted by label.
    pub per_class: Vec<ClassScores>,
    /// Scores from the pooled true/false positive counts.
    pub micro: PrecisionRecallF1,
    /// Unweighted mean of the per-class scores.
    pub macro_avg: PrecisionRecallF1,
    /// Mean of the per-class scores weighted by their support.
    pub weighted: PrecisionRecallF1,
    /// Number of items.
    pub support: usize,
}

/// Share of positions where `y_pred` equals `y_true` (sklearn's `accuracy_score`).
pub fn accuracy<S: AsRef<str>, T: AsRef<str>>(y_true: &[S], y_pred: &[T]) -> Result<f64, MetricError> {
    check_pairs(y_true.len(), y_pred.len())?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t.as_ref() == p.as_ref()).count();
    Ok(correct as f64 / y_true.len() as f64)
}

/// The full report, with labels being the sorted union of `y_true` and `y_pred`.
pub fn classification_report<S: AsRef<str>, T: AsRef<str>>(
    y_true: &[S],
    y_pred: &[T],
) -> Result<ClassificationReport, MetricError> {
    check_pairs(y_true.len(), y_pred.len())?;
    #[derive(Default)]
    struct Counts {
        true_positives: usize,
        predicted: usize,
        actual: usize,
    }
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    for (truth, prediction) in y_true.iter().zip(y_pred) {
        let (truth, prediction) = (truth.as_ref(), prediction.as_ref());
        counts.entry(truth).or_default().actual += 1;
        counts.entry(prediction).or_default().predicted += 1;
        if truth == prediction {
            counts.entry(truth).or_default().true_positives += 1;
        }
    }
    let per_class: Vec<ClassScores> = counts
        .iter()
        .map(|(label, c)| ClassScores {
            label: label.to_string(),
            scores: scores_from_counts(c.true_positives, c.predicted, c.actual),
            support: c.actual,
        })
        .collect();
    let total_true_positives: usize = counts.values().map(|c| c.true_positives).sum();
    let items = y_true.len();
    Ok(ClassificationReport {
        accuracy: total_true_positives as f64 / items as f64,
        micro: scores_from_counts(total_true_positives, items, items),
        macro_avg: weighted_mean(&per_class, |_| 1.0),
        weighted: weighted_mean(&per_class, |class| class.support as f64),
        per_class,
        support: items,
    })
}

fn check_pairs(true_len: usize, pred_len: usize) -> Result<(), MetricError> {
    if true_len != pred_len {
        return Err(MetricError::LengthMismatch {
            left_name: "y_true",
            left: true_len,
            right_name: "y_pred",
            right: pred_len,
        });
    }
    if true_len == 0 {
        return Err(MetricError::EmptyInput { what: "y_true" });
    }
    Ok(())
}

/// sklearn's definitions; every 0/0 is 0 (`zero_division=0`). F1 is 2tp / (2tp + fp + fn),
/// which equals the harmonic mean of precision and recall whenever both are defined.
fn scores_from_counts(true_positives: usize, predicted: usize, actual: usize) -> PrecisionRecallF1 {
    let ratio = |numerator: usize, denominator: usize| {
        if denominator == 0 {
            0.0
        } else {
            numerator as f64 / denominator as f64
        }
    };
    PrecisionRecallF1 {
        precision: ratio(true_positives, predicted),
        recall: ratio(true_positives, actual),
        f1: ratio(2 * true_positives, predicted + actual),
    }
}

/// A weighted mean of the per-class scores; with all weights zero it is 0 (`zero_division=0`).
fn weighted_mean(per_class: &[ClassScores], weight: impl Fn(&ClassScores) -> f64) -> PrecisionRecallF1 {
    let total_weight: f64 = per_class.iter().map(&weight).sum();
    let mean = |value: fn(&PrecisionRecallF1) -> f64| {
        if total_weight == 0.0 {
            0.0
        } else {
            per_class.iter().map(|class| weight(class) * value(&class.scores)).sum::<f64>() / total_weight
        }
    };
    PrecisionRecallF1 { precision: mean(|s| s.precision), recall: mean(|s| s.recall), f1: mean(|s| s.f1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatched_or_empty_labels_are_errors() {
        assert_eq!(accuracy(&["a"], &["a", "b"]).unwrap_err().code(), "length_mismatch");
        let empty: [&str; 0] = [];
        assert_eq!(classification_report(&empty, &empty).unwrap_err().code(), "empty_input");
    }

    #[test]
    fn a_class_never_predicted_scores_zero_precision() {
        let report = classification_report(&["a", "a", "b", "c"], &["a", "b", "b", "b"]).unwrap();
        let labels: Vec<&str> = report.per_class.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "c"]);
        let c = &report.per_class[2];
        assert_eq!((c.scores.precision, c.scores.recall, c.scores.f1, c.support), (0.0, 0.0, 0.0, 1));
        assert_eq!(report.accuracy, 0.5);
        assert_eq!(report.micro.f1, 0.5);
        let b = &report.per_class[1].scores;
        assert_eq!((b.precision, b.recall), (1.0 / 3.0, 1.0));
    }
}
