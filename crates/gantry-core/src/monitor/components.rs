//! The components of a drift report, each from the observations of the two windows: a value
//! per window, a raw statistic, and a contribution on one scale (see [`contribution`]).

use super::features::Observation;
use super::stats;
use super::{DriftComponent, DriftLevel, SkippedComponent};
use gantry_types::TraceId;
use std::collections::{BTreeMap, HashMap};

/// Fewest values in each window before a component is compared: below this, shares and
/// quantiles are mostly noise.
pub const MIN_SAMPLES: usize = 20;
/// Most quantile bins a length or score distribution is cut into.
const MAX_QUANTILE_BINS: usize = 10;
/// Most clusters the baseline's input embeddings are grouped into.
pub const MAX_CLUSTERS: usize = 8;
/// Seed of the k-means initialisation, fixed so a report can be reproduced.
pub const KMEANS_SEED: u64 = 0x6761_6e74_7279; // "gantry"
const KMEANS_ITERATIONS: usize = 50;
/// The centroid distance (beyond chance) that counts as significant drift, i.e. a contribution
/// of 0.25. Measured with MiniLM: two samples of one support topic lie ~0.01 apart, support
/// against an unrelated topic (cooking, travel) ~0.3 and more.
pub const SIGNIFICANT_CENTROID_DISTANCE: f64 = 0.05;

/// A statistic on the PSI scale, less what chance alone gives, clamped to [0, 1]: PSI's own
/// conventions (0.1 moderate, 0.25 significant) then read directly off every contribution.
pub fn contribution(psi: f64, noise: f64) -> f64 {
    (psi - noise).clamp(0.0, 1.0)
}

/// Values per window of one aspect.
pub(crate) struct Pair<T> {
    pub baseline: Vec<T>,
    pub recent: Vec<T>,
}

impl<T> Pair<T> {
    pub fn of(baseline: &[Observation], recent: &[Observation], f: impl Fn(&Observation) -> Option<T>) -> Self {
        Self { baseline: baseline.iter().filter_map(&f).collect(), recent: recent.iter().filter_map(&f).collect() }
    }

    /// Why the pair is too small to compare, if it is.
    fn shortage(&self, what: &str) -> Option<String> {
        let (b, r) = (self.baseline.len(), self.recent.len());
        (b < MIN_SAMPLES || r < MIN_SAMPLES).then(|| {
            format!("too few {what} to compare: {b} in the baseline, {r} recent (at least {MIN_SAMPLES} each)")
        })
    }
}

fn skipped(name: &str, label: &str, reason: String) -> SkippedComponent {
    SkippedComponent { name: name.to_string(), label: label.to_string(), reason }
}

fn component(
    name: String,
    label: String,
    (baseline, recent): (Option<f64>, Option<f64>),
    (statistic, noise): (f64, f64),
    counts: (usize, usize),
    detail: String,
) -> DriftComponent {
    let contribution = contribution(statistic, noise);
    DriftComponent {
        name,
        label,
        baseline,
        recent,
        statistic,
        chance: noise,
        contribution,
        level: DriftLevel::of(contribution),
        baseline_samples: counts.0 as u64,
        recent_samples: counts.1 as u64,
        detail,
    }
}

fn quantile_bins(n: usize) -> usize {
    (n / 10).clamp(2, MAX_QUANTILE_BINS)
}

/// A numeric distribution compared over the baseline's quantile bins; baseline and recent
/// values are medians (`use_mean`: means).
pub(crate) fn distribution(
    name: &str,
    label: &str,
    unit: &str,
    pair: &Pair<f64>,
    use_mean: bool,
) -> Result<DriftComponent, SkippedComponent> {
    if let Some(reason) = pair.shortage(unit) {
        return Err(skipped(name, label, reason));
    }
    let edges = stats::quantile_edges(&pair.baseline, quantile_bins(pair.baseline.len()));
    let (b, r) = (stats::bin_counts(&pair.baseline, &edges), stats::bin_counts(&pair.recent, &edges));
    let psi = stats::psi(&b, &r);
    let noise = stats::psi_noise(stats::occupied_bins(&b, &r), pair.baseline.len(), pair.recent.len());
    let centre = |v: &[f64]| if use_mean { stats::mean(v) } else { stats::median(v) };
    let (bc, rc) = (centre(&pair.baseline), centre(&pair.recent));
    let what = if use_mean { "mean" } else { "median" };
    let detail = format!(
        "{what} {} -> {} {unit}; PSI {psi:.3} over {} bins ({:.3} by chance)",
        fmt(bc),
        fmt(rc),
        b.len(),
        noise
    );
    Ok(component(
        name.to_string(),
        label.to_string(),
        (bc, rc),
        (psi, noise),
        (pair.baseline.len(), pair.recent.len()),
        detail,
    ))
}

/// A yes/no rate compared as a two-bin PSI.
pub(crate) fn rate(name: &str, label: &str, what: &str, pair: &Pair<bool>) -> Result<DriftComponent, SkippedComponent> {
    if let Some(reason) = pair.shortage(what) {
        return Err(skipped(name, label, reason));
    }
    let count = |v: &[bool]| {
        let yes = v.iter().filter(|x| **x).count() as u64;
        [yes, v.len() as u64 - yes]
    };
    let (b, r) = (count(&pair.baseline), count(&pair.recent));
    let psi = stats::psi(&b, &r);
    let noise = stats::psi_noise(stats::occupied_bins(&b, &r), pair.baseline.len(), pair.recent.len());
    let share = |c: [u64; 2]| c[0] as f64 / (c[0] + c[1]) as f64;
    let (bs, rs) = (share(b), share(r));
    let detail = format!("{:.1}% -> {:.1}% of {what}; PSI {psi:.3} ({noise:.3} by chance)", bs * 100.0, rs * 100.0);
    Ok(component(
        name.to_string(),
        label.to_string(),
        (Some(bs), Some(rs)),
        (psi, noise),
        (pair.baseline.len(), pair.recent.len()),
        detail,
    ))
}

/// The two embedding components: PSI over k-means clusters fitted on the baseline, and the
/// cosine distance between the window centroids.
pub(crate) fn embeddings(model: &str, baseline: &[Vec<f32>], recent: &[Vec<f32>]) -> [DriftComponent; 2] {
    let (nb, nr) = (baseline.len(), recent.len());
    let k = (nb / 10).clamp(2, MAX_CLUSTERS);
    let centroids = stats::kmeans(baseline, k, KMEANS_SEED, KMEANS_ITERATIONS);
    let (b, r) = (stats::cluster_counts(&centroids, baseline), stats::cluster_counts(&centroids, recent));
    let psi = stats::psi(&b, &r);
    let noise = stats::psi_noise(stats::occupied_bins(&b, &r), nb, nr);
    // The cluster whose share moved most is the one worth naming.
    let shares = |c: &[u64], i: usize| c[i] as f64 / c.iter().sum::<u64>().max(1) as f64;
    let moved = (0..centroids.len())
        .max_by(|&i, &j| {
            let d = |x: usize| (shares(&r, x) - shares(&b, x)).abs();
            d(i).total_cmp(&d(j)).then(j.cmp(&i))
        })
        .unwrap_or(0);
    let (bs, rs) = (shares(&b, moved), shares(&r, moved));
    let clusters = component(
        "input_topics".into(),
        "input topics (embedding clusters)".into(),
        (Some(bs), Some(rs)),
        (psi, noise),
        (nb, nr),
        format!(
            "{model} inputs in {} clusters of the baseline: cluster {} holds {:.0}% -> {:.0}%; PSI {psi:.3} ({noise:.3} by chance)",
            centroids.len(),
            moved + 1,
            bs * 100.0,
            rs * 100.0
        ),
    );

    let distance = match (stats::centroid(baseline), stats::centroid(recent)) {
        (Some(a), Some(c)) => stats::cosine_distance(&a, &c),
        _ => 0.0,
    };
    let chance = centroid_noise(baseline, nr);
    // On the PSI scale: the significant distance maps to 0.25.
    let scale = 0.25 / SIGNIFICANT_CENTROID_DISTANCE;
    let centroid = component(
        "input_centroid".into(),
        "input meaning (centroid distance)".into(),
        // A distance between the windows has no value of the baseline's own.
        (None, Some(distance)),
        (distance * scale, chance * scale),
        (nb, nr),
        format!("cosine distance {distance:.4} between the {model} centroids ({chance:.4} by chance)"),
    );
    [clusters, centroid]
}

/// The centroid distance chance alone gives between the baseline and a sample of `recent_n`:
/// measured between two random halves of the baseline, then rescaled, as the squared distance
/// between sample means shrinks with `1/n1 + 1/n2`.
fn centroid_noise(baseline: &[Vec<f32>], recent_n: usize) -> f64 {
    let first = stats::random_half(baseline.len(), KMEANS_SEED);
    let (a, b): (Vec<Vec<f32>>, Vec<Vec<f32>>) = {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (p, in_first) in baseline.iter().zip(&first) {
            if *in_first {
                a.push(p.clone())
            } else {
                b.push(p.clone())
            }
        }
        (a, b)
    };
    let (Some(ca), Some(cb)) = (stats::centroid(&a), stats::centroid(&b)) else {
        return 0.0;
    };
    let halves = stats::cosine_distance(&ca, &cb);
    let split = 1.0 / a.len() as f64 + 1.0 / b.len() as f64;
    let wanted = 1.0 / baseline.len() as f64 + 1.0 / recent_n.max(1) as f64;
    halves * wanted / split
}

/// One component per feedback or online-score name that both windows hold enough of.
pub(crate) fn scores(
    baseline: &HashMap<TraceId, Vec<(String, f64)>>,
    recent: &HashMap<TraceId, Vec<(String, f64)>>,
) -> (Vec<DriftComponent>, Vec<SkippedComponent>) {
    let by_name = |scores: &HashMap<TraceId, Vec<(String, f64)>>| {
        let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (name, value) in scores.values().flatten() {
            out.entry(name.clone()).or_default().push(*value);
        }
        out
    };
    let (mut b, mut r) = (by_name(baseline), by_name(recent));
    let names: std::collections::BTreeSet<String> = b.keys().chain(r.keys()).cloned().collect();
    let (mut found, mut left) = (Vec::new(), Vec::new());
    if names.is_empty() {
        left.push(skipped("scores", "feedback and online-eval scores", "no scores in either window".into()));
    }
    for name in names {
        let pair = Pair { baseline: b.remove(&name).unwrap_or_default(), recent: r.remove(&name).unwrap_or_default() };
        let key = format!("score:{name}");
        let label = format!("score '{name}' (feedback, online evals)");
        match distribution(&key, &label, "scores", &pair, true) {
            Ok(c) => found.push(c),
            Err(s) => left.push(s),
        }
    }
    (found, left)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.3}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributions_discount_chance_and_stay_in_range() {
        assert_eq!(contribution(0.05, 0.1), 0.0);
        assert!((contribution(0.3, 0.1) - 0.2).abs() < 1e-12);
        assert_eq!(contribution(3.0, 0.0), 1.0);
    }

    #[test]
    fn rates_show_the_shift() {
        let pair = Pair {
            baseline: (0..100).map(|i| i < 5).collect::<Vec<_>>(),
            recent: (0..100).map(|i| i < 60).collect::<Vec<_>>(),
        };
        let c = rate("refusal_rate", "refusals", "answers", &pair).unwrap();
        assert_eq!((c.baseline, c.recent), (Some(0.05), Some(0.6)));
        assert!(c.contribution > 0.9, "{c:?}");
        let few = Pair { baseline: vec![true; 5], recent: vec![false; 50] };
        assert!(rate("x", "x", "answers", &few).unwrap_err().reason.contains("too few"));
    }
}
