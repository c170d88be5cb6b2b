//! The CI/CD gate: every threshold and allowed regression of a suite checked against a run's
//! aggregates, and the deltas to a baseline run.

use super::suite::Suite;
use gantry_types::{EvalRun, EvaluatorSummary, GateCheck, GateReport};
use serde::{Deserialize, Serialize};

/// One aggregate next to the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDelta {
    pub evaluator: String,
    pub metric: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// `value - baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
}

fn metric_of(summaries: &[EvaluatorSummary], evaluator: &str, metric: &str) -> Option<f64> {
    summaries.iter().find(|s| s.evaluator == evaluator).and_then(|s| s.metrics.get(metric).copied())
}

/// Every aggregate of `summaries`, with the baseline's value and the difference when known.
pub fn deltas(summaries: &[EvaluatorSummary], baseline: Option<&EvalRun>) -> Vec<MetricDelta> {
    let mut out = Vec::new();
    for summary in summaries {
        for (metric, &value) in &summary.metrics {
            let base = baseline.and_then(|b| metric_of(&b.summaries, &summary.evaluator, metric));
            out.push(MetricDelta {
                evaluator: summary.evaluator.clone(),
                metric: metric.clone(),
                value,
                baseline: base,
                delta: base.map(|b| value - b),
            });
        }
    }
    out
}

/// Checks the suite's thresholds, allowed regressions and allowed failed items.
pub fn check(
    suite: &Suite,
    summaries: &[EvaluatorSummary],
    baseline: Option<&EvalRun>,
    failed_items: u32,
) -> GateReport {
    let mut checks = Vec::new();
    for config in &suite.evaluators {
        if config.threshold.is_none() && config.max_regression.is_none() {
            continue;
        }
        let summary = summaries.iter().find(|s| s.evaluator == config.name);
        let metric = config.metric.clone().or_else(|| summary.map(|s| s.main.clone())).unwrap_or_default();
        let value = metric_of(summaries, &config.name, &metric);
        let base = baseline.and_then(|b| metric_of(&b.summaries, &config.name, &metric));
        let mut reasons = Vec::new();
        match value {
            None => reasons.push(format!("the evaluator has no aggregate '{metric}'")),
            Some(value) => {
                if let Some(threshold) = config.threshold.filter(|t| value < *t) {
                    reasons.push(format!("{value:.4} is below the threshold {threshold}"));
                }
                if let (Some(allowed), Some(base)) = (config.max_regression, base) {
                    if value < base - allowed {
                        reasons.push(format!(
                            "{value:.4} fell {:.4} below the baseline {base:.4} (at most {allowed} allowed)",
                            base - value
                        ));
                    }
                }
            }
        }
        checks.push(GateCheck {
            evaluator: config.name.clone(),
            metric,
            value: value.unwrap_or(f64::NAN),
            threshold: config.threshold,
            baseline: base,
            max_regression: config.max_regression,
            passed: reasons.is_empty(),
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        });
    }
    if failed_items > suite.max_failed_items || suite.max_failed_items > 0 {
        let passed = failed_items <= suite.max_failed_items;
        checks.push(GateCheck {
            evaluator: "run".to_string(),
            metric: "failed_items".to_string(),
            value: f64::from(failed_items),
            threshold: None,
            baseline: None,
            max_regression: None,
            passed,
            reason: (!passed).then(|| {
                format!("{failed_items} item(s) failed; the suite allows {} (max_failed_items)", suite.max_failed_items)
            }),
        });
    }
    GateReport { passed: checks.iter().all(|c| c.passed), checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::suite::{EvaluatorConfig, EvaluatorKind, TargetSpec};
    use std::collections::BTreeMap;

    fn summary(name: &str, value: f64) -> EvaluatorSummary {
        EvaluatorSummary {
            evaluator: name.into(),
            kind: "exact_match".into(),
            metrics: BTreeMap::from([("mean".to_string(), value)]),
            main: "mean".into(),
            scored: 10,
            unscored: 0,
        }
    }

    fn suite(threshold: Option<f64>, max_regression: Option<f64>) -> Suite {
        Suite {
            name: "s".into(),
            dataset: "d".into(),
            target: TargetSpec { model: Some("m".into()), ..Default::default() },
            concurrency: 1,
            limit: None,
            max_failed_items: 0,
            evaluators: vec![EvaluatorConfig {
                name: "em".into(),
                kind: EvaluatorKind::ExactMatch { normalize: false },
                threshold,
                metric: None,
                max_regression,
            }],
        }
    }

    fn run_with(value: f64) -> EvalRun {
        EvalRun {
            id: "base".into(),
            suite: "s".into(),
            dataset: "d".into(),
            dataset_version: 1,
            target: "model:m".into(),
            config: serde_json::Value::Null,
            status: gantry_types::EvalRunStatus::Completed,
            created_at: chrono::Utc::now(),
            finished_at: None,
            items_total: 10,
            items_done: 10,
            items_failed: 0,
            summaries: vec![summary("em", value)],
            gate: None,
            baseline_run_id: None,
        }
    }

    #[test]
    fn thresholds_pass_and_fail() {
        let report = check(&suite(Some(0.5), None), &[summary("em", 0.6)], None, 0);
        assert!(report.passed);
        let report = check(&suite(Some(0.7), None), &[summary("em", 0.6)], None, 0);
        assert!(!report.passed);
        assert_eq!(report.checks[0].reason.as_deref(), Some("0.6000 is below the threshold 0.7"));
    }

    #[test]
    fn regressions_against_the_baseline_fail_only_beyond_the_allowance() {
        let base = run_with(0.8);
        assert!(check(&suite(None, Some(0.05)), &[summary("em", 0.76)], Some(&base), 0).passed);
        let report = check(&suite(None, Some(0.05)), &[summary("em", 0.70)], Some(&base), 0);
        assert!(!report.passed);
        assert!(report.checks[0].reason.as_deref().unwrap_or("").contains("below the baseline 0.8000"));
        let d = deltas(&[summary("em", 0.70)], Some(&base));
        assert!((d[0].delta.unwrap() + 0.10).abs() < 1e-12);
    }

    #[test]
    fn failed_items_fail_the_gate_unless_allowed() {
        let report = check(&suite(None, None), &[summary("em", 1.0)], None, 2);
        assert!(!report.passed);
        assert_eq!(report.checks[0].metric, "failed_items");
        let mut allowing = suite(None, None);
        allowing.max_failed_items = 2;
        assert!(check(&allowing, &[summary("em", 1.0)], None, 2).passed);
    }
}
