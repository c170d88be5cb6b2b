//! The statistics behind comparing two arms of a route: confidence intervals for a rate
//! (Wilson) and a mean (Student's t), and the tests that say whether two arms differ beyond
//! chance (a pooled two-proportion z-test for rates, Welch's t-test for means, which does not
//! assume the arms share a variance: a canary's latency rarely does).

use gantry_types::MomentSums;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Two-sided confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// A p-value below this calls a difference significant.
pub const ALPHA: f64 = 0.05;

/// A value with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    /// How many observations it rests on.
    pub n: u64,
}

/// The outcome of a test of "the two arms are the same".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The arm's value minus the baseline's.
    pub difference: f64,
    /// z for rates, t for means.
    pub statistic: f64,
    pub p_value: f64,
    pub significant: bool,
}

fn standard_normal() -> Option<Normal> {
    Normal::new(0.0, 1.0).ok()
}

/// The two-sided critical value of the standard normal at `CONFIDENCE` (1.959964...).
fn z_critical() -> f64 {
    standard_normal().map(|n| n.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)).unwrap_or(1.959_963_984_540_054)
}

/// Wilson score interval of `successes` out of `n`: unlike the normal approximation it stays
/// inside 0..1 and is honest for the small counts and rare errors a young canary has.
pub fn wilson(successes: u64, n: u64) -> Option<Estimate> {
    if n == 0 {
        return None;
    }
    let (k, n_f) = (successes.min(n) as f64, n as f64);
    let p = k / n_f;
    let z = z_critical();
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
    let half = z / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Some(Estimate { value: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0), n })
}

/// The mean and its Student-t interval; with one observation the interval is the point.
pub fn mean_interval(sums: &MomentSums) -> Option<Estimate> {
    let mean = sums.mean()?;
    let Some(variance) = sums.variance() else {
        return Some(Estimate { value: mean, low: mean, high: mean, n: sums.n });
    };
    let df = (sums.n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, df).map(|d| d.inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)).ok()?;
    let half = t * (variance / sums.n as f64).sqrt();
    Some(Estimate { value: mean, low: mean - half, high: mean + half, n: sums.n })
}

fn two_sided(statistic: f64, cdf: impl Fn(f64) -> f64) -> f64 {
    (2.0 * (1.0 - cdf(statistic.abs()))).clamp(0.0, 1.0)
}

/// Whether every value summed is 0 or 1 (thumbs, pass/fail): then x² = x for each, so the
/// sum of squares equals the sum, and the scores are a proportion.
pub fn is_binary(sums: &MomentSums) -> bool {
    sums.n > 0 && (sums.sum_sq - sums.sum).abs() < 1e-9 && sums.sum >= 0.0 && sums.sum <= sums.n as f64
}

/// A score's interval: Wilson for 0/1 scores (it stays inside 0..1), Student's t otherwise.
pub fn score_interval(sums: &MomentSums) -> Option<Estimate> {
    if is_binary(sums) {
        wilson(sums.sum.round() as u64, sums.n)
    } else {
        mean_interval(sums)
    }
}

/// A score's test: the two-proportion z-test when both arms' scores are 0/1, Welch's t-test
/// otherwise.
pub fn score_test(arm: &MomentSums, baseline: &MomentSums) -> Option<TestResult> {
    if is_binary(arm) && is_binary(baseline) {
        two_proportion_test((arm.sum.round() as u64, arm.n), (baseline.sum.round() as u64, baseline.n))
    } else {
        welch_test(arm, baseline)
    }
}

/// A mean of a quantity that cannot be negative (latency, cost): the interval's low end is
/// clipped at 0.
pub fn nonnegative_interval(sums: &MomentSums) -> Option<Estimate> {
    mean_interval(sums).map(|e| Estimate { low: e.low.max(0.0), ..e })
}

/// Pooled two-proportion z-test of `arm` (k of n) against `baseline`.
pub fn two_proportion_test(arm: (u64, u64), baseline: (u64, u64)) -> Option<TestResult> {
    let ((k1, n1), (k2, n2)) = (arm, baseline);
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    let difference = p1 - p2;
    if se == 0.0 {
        // Both arms all-success or all-failure: identical, nothing to test.
        return Some(TestResult { difference, statistic: 0.0, p_value: 1.0, significant: false });
    }
    let z = difference / se;
    let normal = standard_normal()?;
    let p_value = two_sided(z, |x| normal.cdf(x));
    Some(TestResult { difference, statistic: z, p_value, significant: p_value < ALPHA })
}

/// Welch's t-test of `arm`'s mean against `baseline`'s (Welch–Satterthwaite degrees of freedom).
pub fn welch_test(arm: &MomentSums, baseline: &MomentSums) -> Option<TestResult> {
    let (m1, m2) = (arm.mean()?, baseline.mean()?);
    let (v1, v2) = (arm.variance()?, baseline.variance()?);
    let (n1, n2) = (arm.n as f64, baseline.n as f64);
    let (a, b) = (v1 / n1, v2 / n2);
    let difference = m1 - m2;
    if a + b == 0.0 {
        // Two constant samples: the t statistic is undefined (0/0 or infinite), and a p-value
        // of 0 from a handful of identical values would overstate the evidence.
        return None;
    }
    let t = difference / (a + b).sqrt();
    let df = (a + b).powi(2) / (a * a / (n1 - 1.0) + b * b / (n2 - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = two_sided(t, |x| dist.cdf(x));
    Some(TestResult { difference, statistic: t, p_value, significant: p_value < ALPHA })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(values: &[f64]) -> MomentSums {
        let mut s = MomentSums::default();
        values.iter().for_each(|v| s.push(*v));
        s
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() < tolerance, "{actual} is not {expected} (± {tolerance})");
    }

    // Expected values computed independently with SciPy 1.17: scipy.stats.ttest_ind(equal_var=False)
    // for Welch, scipy.stats.t.interval for the mean, and the Wilson and pooled z formulas
    // evaluated with scipy.stats.norm.

    #[test]
    fn wilson_interval_matches_reference_values() {
        let e = wilson(12, 200).unwrap();
        close(e.value, 0.06, 1e-12);
        close(e.low, 0.034_652_2, 1e-6);
        close(e.high, 0.101_931_7, 1e-6);
        let zero = wilson(0, 50).unwrap();
        assert_eq!(zero.low, 0.0);
        close(zero.high, 0.071_347_6, 1e-6);
        assert!(wilson(3, 0).is_none());
    }

    #[test]
    fn two_proportion_test_matches_reference_values() {
        // 45 errors in 500 canary requests against 30 in 500 stable ones.
        let r = two_proportion_test((45, 500), (30, 500)).unwrap();
        close(r.difference, 0.03, 1e-12);
        close(r.statistic, 1.800_900_7, 1e-6);
        close(r.p_value, 0.071_718_5, 1e-6);
        assert!(!r.significant);
        let r = two_proportion_test((90, 1000), (60, 1000)).unwrap();
        close(r.p_value, 0.010_869_8, 1e-6);
        assert!(r.significant);
        let same = two_proportion_test((0, 10), (0, 20)).unwrap();
        assert_eq!(same.p_value, 1.0);
    }

    #[test]
    fn welch_test_matches_reference_values() {
        let a = sums(&[27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]);
        let b = sums(&[27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]);
        let r = welch_test(&a, &b).unwrap();
        close(r.statistic, -2.455_356_4, 1e-6);
        close(r.p_value, 0.021_378_0, 1e-6);
        assert!(r.significant);
        assert!(welch_test(&sums(&[1.0, 1.0]), &sums(&[2.0, 2.0, 2.0])).is_none(), "no variance, no t");
        assert!(welch_test(&sums(&[1.0]), &b).is_none(), "one value has no variance");
    }

    #[test]
    fn binary_scores_are_tested_as_proportions() {
        let thumbs = sums(&[1.0, 1.0, 0.0, 1.0]);
        assert!(is_binary(&thumbs) && !is_binary(&sums(&[0.5, 1.0])));
        let e = score_interval(&thumbs).unwrap();
        assert_eq!((e.value, e.n), (0.75, 4));
        assert!(e.low >= 0.0 && e.high <= 1.0);
        // All up against all down on 45 and 30 scores: the z-test of 45/45 against 0/30.
        let test = score_test(&sums(&[1.0; 45]), &sums(&[0.0; 30])).unwrap();
        assert_eq!(Some(test), two_proportion_test((45, 45), (0, 30)));
        assert!(test.significant);
        let latency = nonnegative_interval(&sums(&[1.0, 100.0, 2.0])).unwrap();
        assert_eq!(latency.low, 0.0);
    }

    #[test]
    fn mean_interval_matches_reference_values() {
        let e = mean_interval(&sums(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])).unwrap();
        close(e.value, 5.0, 1e-12);
        close(e.low, 3.212_512_1, 1e-6);
        close(e.high, 6.787_487_9, 1e-6);
        let one = mean_interval(&sums(&[3.0])).unwrap();
        assert_eq!((one.low, one.high), (3.0, 3.0));
    }
}
