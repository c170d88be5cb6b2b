//! The statistics drift is measured with: the population-stability index over bins, quantile
//! bins, seeded k-means and centroid distance. Pure functions, no I/O.

/// Added to every bin's share (then renormalised) so an empty bin does not make PSI infinite.
pub const PSI_EPSILON: f64 = 1e-4;

/// Shares of `counts`, smoothed by [`PSI_EPSILON`]; all equal when there are no counts.
fn smoothed_shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    let k = counts.len() as f64;
    counts
        .iter()
        .map(|&c| {
            let share = if total == 0 { 1.0 / k } else { c as f64 / total as f64 };
            (share + PSI_EPSILON) / (1.0 + k * PSI_EPSILON)
        })
        .collect()
}

/// The population-stability index `sum (r - b) * ln(r / b)` between the bin shares of a baseline
/// and a recent sample (bins in the same order; the shorter list is padded with empty bins).
pub fn psi(baseline: &[u64], recent: &[u64]) -> f64 {
    let bins = baseline.len().max(recent.len());
    if bins < 2 {
        return 0.0;
    }
    let pad = |c: &[u64]| {
        let mut v = c.to_vec();
        v.resize(bins, 0);
        v
    };
    let (b, r) = (smoothed_shares(&pad(baseline)), smoothed_shares(&pad(recent)));
    b.iter().zip(&r).map(|(b, r)| (r - b) * (r / b).ln()).sum::<f64>().max(0.0)
}

/// The PSI that two samples of `n1` and `n2` drawn from one distribution stay below about 19
/// times in 20 over `bins` bins. PSI is close to a chi-square statistic with `bins - 1` degrees
/// of freedom scaled by `1/n1 + 1/n2`; its 95th percentile is near `dof + 2 * sqrt(2 * dof)`
/// (3.83 for one degree against the exact 3.84). Small windows are noisy: 20 calls against 20
/// over 8 bins often read 0.7 with no drift at all, so the drift score counts only what PSI
/// shows beyond this.
pub fn psi_noise(bins: usize, n1: usize, n2: usize) -> f64 {
    if bins < 2 || n1 == 0 || n2 == 0 {
        return 0.0;
    }
    let dof = (bins - 1) as f64;
    (dof + 2.0 * (2.0 * dof).sqrt()) * (1.0 / n1 as f64 + 1.0 / n2 as f64)
}

/// How many of the bins hold anything in either sample: the bins the noise estimate counts.
pub fn occupied_bins(baseline: &[u64], recent: &[u64]) -> usize {
    let bins = baseline.len().max(recent.len());
    (0..bins).filter(|&i| baseline.get(i).copied().unwrap_or(0) + recent.get(i).copied().unwrap_or(0) > 0).count()
}

/// Interior bin edges at the quantiles of `values` (up to `bins` bins); repeated values give
/// fewer, so a 0/1 score gets two bins and a constant gets one. A value equal to an edge falls
/// in the bin below it.
pub fn quantile_edges(values: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() || bins < 2 {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mut edges: Vec<f64> = Vec::with_capacity(bins - 1);
    for i in 1..bins {
        let at = (i * n / bins).saturating_sub(1);
        let edge = sorted[at.min(n - 1)];
        // The largest value as an edge would leave the top bin empty in the baseline.
        if edge < sorted[n - 1] && edges.last().is_none_or(|last| *last < edge) {
            edges.push(edge);
        }
    }
    edges
}

/// How many `values` fall in each bin of `edges` (`edges.len() + 1` bins).
pub fn bin_counts(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for v in values.iter().filter(|v| v.is_finite()) {
        counts[edges.partition_point(|e| e < v)] += 1;
    }
    counts
}

/// A small, fixed pseudo-random generator (SplitMix64): k-means must pick the same seeds on
/// every run and every build, so the generator is part of this code rather than a dependency
/// whose algorithm may change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seeded random half of `0..n`: `true` for the indices in the first half. Used to measure
/// chance between two halves of one sample; alternate indices would follow any periodic
/// pattern in the order calls arrived.
pub fn random_half(n: usize, seed: u64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut first = vec![false; n];
    for &i in &order[..n / 2] {
        first[i] = true;
    }
    first
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y) * f64::from(x - y)).sum()
}

/// The index of the centroid nearest to `point`.
pub fn nearest(centroids: &[Vec<f32>], point: &[f32]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, c) in centroids.iter().enumerate() {
        let d = squared_distance(c, point);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// Lloyd's k-means with k-means++ seeding from `seed`: the same points and seed always give the
/// same centroids. Returns fewer than `k` centroids when there are fewer distinct points.
pub fn kmeans(points: &[Vec<f32>], k: usize, seed: u64, max_iterations: usize) -> Vec<Vec<f32>> {
    if points.is_empty() || k == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64(seed);
    let first = (rng.next_u64() % points.len() as u64) as usize;
    let mut centroids = vec![points[first].clone()];
    let mut nearest_d: Vec<f64> = points.iter().map(|p| squared_distance(p, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = nearest_d.iter().sum();
        if total <= 0.0 {
            break; // every point coincides with a centroid already
        }
        // k-means++: the next seed is drawn with probability proportional to squared distance.
        let mut target = rng.next_f64() * total;
        let mut chosen = nearest_d.len() - 1;
        for (i, d) in nearest_d.iter().enumerate() {
            if target < *d {
                chosen = i;
                break;
            }
            target -= d;
        }
        let centroid = points[chosen].clone();
        for (d, p) in nearest_d.iter_mut().zip(points) {
            *d = d.min(squared_distance(p, &centroid));
        }
        centroids.push(centroid);
    }
    let dims = points[0].len();
    let mut assignment: Vec<usize> = points.iter().map(|p| nearest(&centroids, p)).collect();
    for _ in 0..max_iterations {
        let mut sums = vec![vec![0f64; dims]; centroids.len()];
        let mut sizes = vec![0usize; centroids.len()];
        for (p, &c) in points.iter().zip(&assignment) {
            sizes[c] += 1;
            for (s, x) in sums[c].iter_mut().zip(p) {
                *s += f64::from(*x);
            }
        }
        for ((centroid, sum), size) in centroids.iter_mut().zip(&sums).zip(&sizes) {
            // An emptied cluster keeps its centroid rather than becoming NaN.
            if *size > 0 {
                *centroid = sum.iter().map(|s| (s / *size as f64) as f32).collect();
            }
        }
        let next: Vec<usize> = points.iter().map(|p| nearest(&centroids, p)).collect();
        if next == assignment {
            break;
        }
        assignment = next;
    }
    centroids
}

/// How many points fall nearest to each centroid.
pub fn cluster_counts(centroids: &[Vec<f32>], points: &[Vec<f32>]) -> Vec<u64> {
    let mut counts = vec![0u64; centroids.len()];
    for p in points {
        counts[nearest(centroids, p)] += 1;
    }
    counts
}

/// The mean of `points`; `None` when there are none.
pub fn centroid(points: &[Vec<f32>]) -> Option<Vec<f64>> {
    let first = points.first()?;
    let mut sum = vec![0f64; first.len()];
    for p in points {
        for (s, x) in sum.iter_mut().zip(p) {
            *s += f64::from(*x);
        }
    }
    let n = points.len() as f64;
    Some(sum.into_iter().map(|s| s / n).collect())
}

/// `1 - cos(a, b)`, clamped to [0, 2]; 0 when either vector is zero.
pub fn cosine_distance(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let (na, nb) = (a.iter().map(|x| x * x).sum::<f64>().sqrt(), b.iter().map(|x| x * x).sum::<f64>().sqrt());
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (1.0 - dot / (na * nb)).clamp(0.0, 2.0)
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 })
}

/// The mean of `values`; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_matches_a_hand_computed_value() {
        // (0.8-0.5)*ln(0.8/0.5) + (0.2-0.5)*ln(0.2/0.5) = 0.141000 + 0.274887
        let by_hand = 0.3 * (1.6f64).ln() + 0.3 * (2.5f64).ln();
        assert!((by_hand - 0.415888).abs() < 1e-5);
        let value = psi(&[50, 50], &[80, 20]);
        assert!((value - by_hand).abs() < 1e-3, "{value} vs {by_hand}");
        assert_eq!(psi(&[10, 20, 30], &[10, 20, 30]), 0.0);
        assert!(psi(&[10, 20, 30], &[20, 40, 60]).abs() < 1e-12, "same shares, other sizes");
        // An empty bin makes PSI large but finite.
        let empty = psi(&[100, 0], &[50, 50]);
        assert!(empty.is_finite() && empty > 2.0, "{empty}");
    }

    #[test]
    fn psi_noise_is_the_chi_square_95th_percentile() {
        // 7 degrees of freedom: 7 + 2 * sqrt(14) = 14.483 (the exact percentile is 14.067).
        assert!((psi_noise(8, 100, 100) - 14.483_314_773_547_882 * 0.02).abs() < 1e-9);
        assert_eq!(psi_noise(1, 100, 100), 0.0);
        assert_eq!(occupied_bins(&[3, 0, 1], &[0, 0, 2]), 2);
    }

    #[test]
    fn quantile_bins_split_evenly_and_merge_ties() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let edges = quantile_edges(&values, 4);
        assert_eq!(edges, vec![25.0, 50.0, 75.0]);
        assert_eq!(bin_counts(&values, &edges), vec![25, 25, 25, 25]);
        let thumbs = [0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let edges = quantile_edges(&thumbs, 10);
        assert_eq!(edges, vec![0.0]);
        assert_eq!(bin_counts(&thumbs, &edges), vec![2, 8]);
        assert!(quantile_edges(&[5.0; 30], 10).is_empty());
    }

    fn blobs() -> Vec<Vec<f32>> {
        let mut points = Vec::new();
        for (cx, cy) in [(0.0f32, 0.0f32), (10.0, 0.0), (0.0, 10.0)] {
            for i in 0..20 {
                let jitter = (i as f32 * 0.37).sin() * 0.5;
                points.push(vec![cx + jitter, cy - jitter * 0.5]);
            }
        }
        points
    }

    #[test]
    fn kmeans_is_deterministic_and_finds_the_blobs() {
        let points = blobs();
        let a = kmeans(&points, 3, 42, 50);
        let b = kmeans(&points, 3, 42, 50);
        assert_eq!(a, b, "same seed, same centroids");
        let mut counts = cluster_counts(&a, &points);
        counts.sort_unstable();
        assert_eq!(counts, vec![20, 20, 20]);
        // Fewer distinct points than k: no duplicate centroids.
        assert_eq!(kmeans(&[vec![1.0, 1.0], vec![1.0, 1.0]], 4, 7, 10).len(), 1);
        assert!(kmeans(&[], 3, 1, 10).is_empty());
        let half = random_half(11, 3);
        assert_eq!((half.iter().filter(|h| **h).count(), half), (5, random_half(11, 3)));
    }

    #[test]
    fn centroid_distance_of_identical_sets_is_zero() {
        let points = blobs();
        let (a, b) = (centroid(&points).unwrap(), centroid(&points).unwrap());
        assert!(cosine_distance(&a, &b).abs() < 1e-12);
        let far = cosine_distance(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((far - 1.0).abs() < 1e-12);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(mean(&[]), None);
    }
}
