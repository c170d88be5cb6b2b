//! Log-spaced histograms of durations in milliseconds: the form the trace rollups keep latency
//! and time to first token in, so percentiles of any window come from summed bucket counts.
//!
//! Bucket 0 holds `[0, MIN_MS)`; bucket `i >= 1` holds `[MIN_MS * G^(i-1), MIN_MS * G^i)` with
//! `G = 2^(1/16)` (16 buckets an octave, each 4.43% wider than the one below). A percentile is
//! read by finding the bucket that holds the nearest-rank sample and interpolating
//! geometrically inside it; the estimate and the exact nearest-rank value then lie in the same
//! bucket, so for values of at least `MIN_MS` the relative error is below `G - 1 = 4.43%`
//! ([`MAX_RELATIVE_ERROR`]). Values under `MIN_MS` are off by less than `MIN_MS` absolute.

use crate::StoreError;

/// Buckets per doubling of the value.
pub const BUCKETS_PER_OCTAVE: u32 = 16;
/// The upper edge of bucket 0, in milliseconds.
pub const MIN_MS: f64 = 0.01;
/// The highest bucket: `MIN_MS * 2^40` ms is about 127 days; anything longer is counted there.
pub const MAX_BUCKET: u16 = (BUCKETS_PER_OCTAVE * 40) as u16;
/// The worst relative error of a percentile read from these buckets (values >= `MIN_MS`).
pub const MAX_RELATIVE_ERROR: f64 = 0.044_273_782_427_413_84; // 2^(1/16) - 1

/// The bucket a duration falls in. Negative or non-finite durations count as 0.
pub fn bucket_of(ms: f64) -> u16 {
    if ms.is_nan() || ms < MIN_MS {
        return 0;
    }
    let index = ((ms / MIN_MS).log2() * f64::from(BUCKETS_PER_OCTAVE)).floor() + 1.0;
    if index >= f64::from(MAX_BUCKET) {
        MAX_BUCKET
    } else {
        // In 1..MAX_BUCKET, so the cast is exact.
        index as u16
    }
}

/// The lower and upper edge of a bucket, in milliseconds.
pub fn bucket_bounds(bucket: u16) -> (f64, f64) {
    if bucket == 0 {
        return (0.0, MIN_MS);
    }
    let edge = |i: u16| MIN_MS * (f64::from(i) / f64::from(BUCKETS_PER_OCTAVE)).exp2();
    (edge(bucket - 1), edge(bucket))
}

/// A sparse histogram: (bucket, count) pairs in bucket order, no zero counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<(u16, u64)>,
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&mut self, ms: f64) {
        self.add(bucket_of(ms), 1);
    }

    /// Adds `count` to `bucket`.
    pub fn add(&mut self, bucket: u16, count: u64) {
        if count == 0 {
            return;
        }
        let bucket = bucket.min(MAX_BUCKET);
        match self.counts.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(at) => self.counts[at].1 += count,
            Err(at) => self.counts.insert(at, (bucket, count)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.is_empty() {
            self.counts.clone_from(&other.counts);
            return;
        }
        let mut merged = Vec::with_capacity(self.counts.len() + other.counts.len());
        let (mut a, mut b) = (self.counts.iter().peekable(), other.counts.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(ba, ca)), Some(&&(bb, cb))) => {
                    if ba == bb {
                        merged.push((ba, ca + cb));
                        a.next();
                        b.next();
                    } else if ba < bb {
                        merged.push((ba, ca));
                        a.next();
                    } else {
                        merged.push((bb, cb));
                        b.next();
                    }
                }
                (Some(&&x), None) => {
                    merged.push(x);
                    a.next();
                }
                (None, Some(&&y)) => {
                    merged.push(y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.counts = merged;
    }

    /// Every (bucket, count) pair, in bucket order.
    pub fn buckets(&self) -> &[(u16, u64)] {
        &self.counts
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|(_, c)| c).sum()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The `q` quantile (0 < q <= 1) of the counted durations; `None` when there are none.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile(self.counts.iter().copied(), self.count(), q)
    }

    /// The stored form: LEB128 varints, (bucket delta, count) per non-empty bucket.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.counts.len() * 3);
        let mut previous = 0u64;
        for &(bucket, count) in &self.counts {
            put_varint(&mut out, u64::from(bucket) - previous);
            put_varint(&mut out, count);
            previous = u64::from(bucket);
        }
        out
    }

    /// Reads the stored form back.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut counts = Vec::new();
        let mut at = 0;
        let mut bucket = 0u64;
        while at < bytes.len() {
            let delta = get_varint(bytes, &mut at)?;
            let count = get_varint(bytes, &mut at)?;
            bucket += delta;
            let Ok(b) = u16::try_from(bucket) else {
                return Err(StoreError::Corrupt(format!("histogram bucket {bucket} out of range")));
            };
            if b > MAX_BUCKET || (!counts.is_empty() && delta == 0) || count == 0 {
                return Err(StoreError::Corrupt("histogram buckets out of order".into()));
            }
            counts.push((b, count));
        }
        Ok(Self { counts })
    }
}

/// Adds histograms into one dense array: cheaper than sparse merges when many histograms are
/// summed into one (a dashboard's series point).
#[derive(Debug, Clone, Default)]
pub struct HistogramSum {
    counts: Vec<u64>,
    total: u64,
}

impl HistogramSum {
    /// Adds every count of `histogram`.
    pub fn add(&mut self, histogram: &Histogram) {
        if let Some(&(last, _)) = histogram.counts.last() {
            if self.counts.len() <= usize::from(last) {
                self.counts.resize(usize::from(last) + 1, 0);
            }
        }
        for &(bucket, count) in &histogram.counts {
            self.counts[usize::from(bucket)] += count;
            self.total += count;
        }
    }

    /// Adds another sum.
    pub fn add_sum(&mut self, other: &HistogramSum) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0 < q <= 1); `None` when nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let pairs = self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(b, c)| {
            // The array never grows past MAX_BUCKET + 1 entries.
            (u16::try_from(b).unwrap_or(MAX_BUCKET), *c)
        });
        quantile(pairs, self.total, q)
    }
}

/// Finds the bucket holding the nearest-rank sample (rank `ceil(q * total)`) and interpolates
/// geometrically inside it (linearly in bucket 0, whose lower edge is 0).
fn quantile(pairs: impl Iterator<Item = (u16, u64)>, total: u64, q: f64) -> Option<f64> {
    if total == 0 || q.is_nan() || q <= 0.0 || q > 1.0 {
        return None;
    }
    // Precision beyond 2^53 samples does not matter here.
    let rank = q * total as f64;
    let mut below = 0u64;
    for (bucket, count) in pairs {
        if (below + count) as f64 >= rank || below + count == total {
            let fraction = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            let (low, high) = bucket_bounds(bucket);
            return Some(if bucket == 0 { high * fraction } else { low * (high / low).powf(fraction) });
        }
        below += count;
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Masked to 7 bits, so the cast keeps every bit that matters.
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, StoreError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = bytes.get(*at) else { break };
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(StoreError::Corrupt("truncated histogram".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of latencies over five orders of magnitude.
    fn samples(n: usize) -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                0.5 * (u * 12.0).exp()
            })
            .collect()
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank - 1]
    }

    #[test]
    fn bucket_edges_grow_by_the_stated_factor() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(f64::INFINITY), MAX_BUCKET);
        for ms in [0.011, 1.0, 37.5, 250.0, 9_999.0] {
            let (low, high) = bucket_bounds(bucket_of(ms));
            assert!(low <= ms && ms < high, "{ms} not in [{low}, {high})");
            assert!((high / low - 1.0 - MAX_RELATIVE_ERROR).abs() < 1e-12);
        }
    }

    #[test]
    fn percentiles_are_within_the_documented_error_of_the_exact_values() {
        for n in [1, 2, 7, 100, 10_000] {
            let values = samples(n);
            let mut h = Histogram::default();
            let mut sum = HistogramSum::default();
            values.iter().for_each(|v| h.record(*v));
            sum.add(&h);
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
                let truth = exact(&sorted, q);
                for estimate in [h.quantile(q).unwrap(), sum.quantile(q).unwrap()] {
                    let error = (estimate - truth).abs() / truth;
                    assert!(error <= MAX_RELATIVE_ERROR, "n={n} q={q}: {estimate} vs {truth} ({error})");
                }
            }
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
        assert_eq!(HistogramSum::default().quantile(0.5), None);
    }

    #[test]
    fn merges_and_the_stored_form_keep_every_count() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        samples(500).iter().for_each(|v| a.record(*v));
        samples(300).iter().for_each(|v| b.record(v * 3.0));
        a.record(1e15);
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged.count(), 801);
        let mut one_by_one = a.clone();
        for &(bucket, count) in b.buckets() {
            one_by_one.add(bucket, count);
        }
        assert_eq!(merged, one_by_one);
        assert_eq!(Histogram::decode(&merged.encode()).unwrap(), merged);
        assert_eq!(Histogram::decode(&[]).unwrap(), Histogram::default());
        assert!(Histogram::decode(&[0x80]).is_err(), "truncated");
        assert!(Histogram::decode(&[5, 1, 0, 1]).is_err(), "a repeated bucket");
    }
}
