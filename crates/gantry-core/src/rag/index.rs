//! The in-memory vector index of one collection: cosine similarity over unit vectors, exact
//! below a size threshold, and an inverted-file index (IVF: spherical k-means lists, a few
//! lists scanned per query) from it on.

use gantry_store::ChunkId;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// When a collection is searched approximately, and how widely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// From this many vectors on, the index clusters them and scans only the nearest lists.
    pub approximate_min: usize,
    /// Lists scanned per query; 0 picks `lists / 8` (at least 8).
    pub probes: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self { approximate_min: 100_000, probes: 0 }
    }
}

/// The vectors of one list, row after row, with their chunk ids.
#[derive(Debug, Clone, Default)]
struct List {
    ids: Vec<ChunkId>,
    vectors: Vec<f32>,
}

/// The vectors of a collection, searchable by cosine similarity.
#[derive(Debug, Clone)]
pub struct VectorIndex {
    dims: usize,
    options: IndexOptions,
    /// One centroid per list (unit vectors), row after row; empty when the index is exact.
    centroids: Vec<f32>,
    lists: Vec<List>,
    /// Where each id sits: (list, row).
    locations: HashMap<ChunkId, (usize, usize)>,
    /// The size the lists were clustered at, to know when to cluster again.
    trained_at: usize,
}

/// Dot product with eight independent sums, which the compiler turns into vector instructions.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for ((sum, a), b) in sums.iter_mut().zip(x).zip(y) {
            *sum += a * b;
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// Scales `v` to unit length (a zero vector stays zero), so that cosine is a dot product.
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A scored id, ordered so that a `BinaryHeap` keeps the worst on top.
#[derive(Debug, Clone, Copy)]
struct Scored(f32, ChunkId);

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    /// Higher score is better; on a tie the lower id is better. "Greater" means worse.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// The best `k` of what it is offered.
struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    #[inline]
    fn offer(&mut self, score: f32, id: ChunkId) {
        let item = Scored(score, id);
        if self.heap.len() < self.k {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|worst| item < *worst) {
            self.heap.pop();
            self.heap.push(item);
        }
    }

    fn into_sorted(self) -> Vec<(ChunkId, f32)> {
        self.heap.into_sorted_vec().into_iter().map(|Scored(score, id)| (id, score)).collect()
    }
}

impl VectorIndex {
    /// An empty index of `dims`-long vectors.
    pub fn new(dims: usize, options: IndexOptions) -> Self {
        Self {
            dims,
            options,
            centroids: Vec::new(),
            lists: vec![List::default()],
            locations: HashMap::new(),
            trained_at: 0,
        }
    }

    /// An index over `ids` and their vectors (row after row), clustered when large enough.
    pub fn build(dims: usize, ids: Vec<ChunkId>, vectors: Vec<f32>, options: IndexOptions) -> Self {
        let mut index = Self::new(dims, options);
        index.insert(&ids, vectors);
        index
    }

    /// Length of the vectors.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// Whether it holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    /// Whether queries scan only some lists.
    pub fn is_approximate(&self) -> bool {
        !self.centroids.is_empty()
    }

    /// Number of lists (1 when exact).
    pub fn lists(&self) -> usize {
        self.lists.len()
    }

    /// Lists scanned per query.
    pub fn probes(&self) -> usize {
        let probes = match self.options.probes {
            0 => (self.lists.len() / 8).max(8),
            n => n,
        };
        probes.min(self.lists.len())
    }

    /// Adds vectors (normalised here); an id already present is replaced.
    pub fn insert(&mut self, ids: &[ChunkId], vectors: Vec<f32>) {
        self.update(&[], ids, vectors);
    }

    /// Removes `removed`, then adds `ids` with their vectors (row after row). Clusters again
    /// when the index crossed the approximate threshold or outgrew its lists.
    pub fn update(&mut self, removed: &[ChunkId], ids: &[ChunkId], mut vectors: Vec<f32>) {
        debug_assert_eq!(vectors.len(), ids.len() * self.dims);
        for row in vectors.chunks_exact_mut(self.dims) {
            normalize(row);
        }
        self.remove(removed);
        self.remove(ids);
        for (id, row) in ids.iter().zip(vectors.chunks_exact(self.dims)) {
            let list = self.nearest_list(row);
            let target = &mut self.lists[list];
            self.locations.insert(*id, (list, target.ids.len()));
            target.ids.push(*id);
            target.vectors.extend_from_slice(row);
        }
        self.maintain();
    }

    /// Removes vectors by id; ids not present are ignored. The lists stay as they are.
    pub fn remove(&mut self, ids: &[ChunkId]) {
        for id in ids {
            let Some((list, row)) = self.locations.remove(id) else { continue };
            let target = &mut self.lists[list];
            let last = target.ids.len() - 1;
            target.ids.swap_remove(row);
            let dims = self.dims;
            if row != last {
                target.vectors.copy_within(last * dims..(last + 1) * dims, row * dims);
                self.locations.insert(target.ids[row], (list, row));
            }
            target.vectors.truncate(last * dims);
        }
    }

    /// The `k` most similar vectors to `query`, best first, with their cosine similarity.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(ChunkId, f32)> {
        self.search_probes(query, k, self.probes())
    }

    /// Exact search over every vector, whatever the index's size (the reference for recall).
    pub fn search_exact(&self, query: &[f32], k: usize) -> Vec<(ChunkId, f32)> {
        self.search_probes(query, k, self.lists.len())
    }

    /// Search scanning the `probes` lists nearest to the query.
    pub fn search_probes(&self, query: &[f32], k: usize, probes: usize) -> Vec<(ChunkId, f32)> {
        if query.len() != self.dims || k == 0 {
            return Vec::new();
        }
        let mut query = query.to_vec();
        normalize(&mut query);
        let mut top = TopK::new(k);
        let scan = |list: &List, top: &mut TopK| {
            for (id, row) in list.ids.iter().zip(list.vectors.chunks_exact(self.dims)) {
                top.offer(dot(&query, row), *id);
            }
        };
        if probes >= self.lists.len() {
            self.lists.iter().for_each(|list| scan(list, &mut top));
        } else {
            let mut nearest = TopK::new(probes.max(1));
            for (i, centroid) in self.centroids.chunks_exact(self.dims).enumerate() {
                nearest.offer(dot(&query, centroid), i as ChunkId);
            }
            for (list, _) in nearest.into_sorted() {
                scan(&self.lists[list as usize], &mut top);
            }
        }
        top.into_sorted()
    }

    fn nearest_list(&self, row: &[f32]) -> usize {
        nearest(&self.centroids, self.dims, row)
    }

    /// Clusters when the index crossed the threshold or quadrupled since it was clustered;
    /// goes back to one list when it shrank well below the threshold.
    fn maintain(&mut self) {
        let len = self.len();
        let min = self.options.approximate_min;
        if !self.is_approximate() && len >= min.max(1) {
            self.cluster();
        } else if self.is_approximate() && (len < min / 2 || len >= self.trained_at.saturating_mul(4)) {
            if len < min / 2 {
                self.centroids.clear();
                self.regroup();
            } else {
                self.cluster();
            }
        }
    }

    /// Spherical k-means on a sample, then every vector into its nearest list.
    fn cluster(&mut self) {
        let (ids, vectors) = self.drain();
        let count = ids.len();
        let lists = ((count as f64).sqrt().round() as usize).clamp(1, 65_536);
        self.centroids = train_centroids(&vectors, self.dims, lists, 10, 0x5eed);
        self.trained_at = count;
        self.fill(ids, vectors);
    }

    /// Reassigns every vector to the current centroids (or to one list when there are none).
    fn regroup(&mut self) {
        let (ids, vectors) = self.drain();
        self.fill(ids, vectors);
    }

    fn drain(&mut self) -> (Vec<ChunkId>, Vec<f32>) {
        let mut ids = Vec::with_capacity(self.len());
        let mut vectors = Vec::with_capacity(self.len() * self.dims);
        for list in self.lists.drain(..) {
            ids.extend(list.ids);
            vectors.extend(list.vectors);
        }
        self.locations.clear();
        (ids, vectors)
    }

    fn fill(&mut self, ids: Vec<ChunkId>, vectors: Vec<f32>) {
        let lists = (self.centroids.len() / self.dims.max(1)).max(1);
        let assignment = assign(&self.centroids, self.dims, &vectors);
        self.lists = vec![List::default(); lists];
        for ((id, row), list) in ids.into_iter().zip(vectors.chunks_exact(self.dims)).zip(assignment) {
            let target = &mut self.lists[list];
            self.locations.insert(id, (list, target.ids.len()));
            target.ids.push(id);
            target.vectors.extend_from_slice(row);
        }
    }
}

/// The row of `centroids` most similar to `row`; 0 when there are none.
fn nearest(centroids: &[f32], dims: usize, row: &[f32]) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, c) in centroids.chunks_exact(dims).enumerate() {
        let score = dot(row, c);
        if score > best.1 {
            best = (i, score);
        }
    }
    best.0
}

/// The nearest centroid of every row, computed on all cores.
fn assign(centroids: &[f32], dims: usize, vectors: &[f32]) -> Vec<usize> {
    let rows = vectors.len() / dims.max(1);
    if centroids.is_empty() || rows == 0 {
        return vec![0; rows];
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(rows.div_ceil(1024)).max(1);
    let per_thread = rows.div_ceil(threads);
    let mut out = vec![0; rows];
    std::thread::scope(|scope| {
        for (part, slots) in vectors.chunks(per_thread * dims).zip(out.chunks_mut(per_thread)) {
            scope.spawn(move || {
                for (row, slot) in part.chunks_exact(dims).zip(slots.iter_mut()) {
                    *slot = nearest(centroids, dims, row);
                }
            });
        }
    });
    out
}

/// `lists` unit centroids by spherical k-means (`iterations` rounds) on a sample of `vectors`.
fn train_centroids(vectors: &[f32], dims: usize, lists: usize, iterations: usize, seed: u64) -> Vec<f32> {
    let rows = vectors.len() / dims.max(1);
    if rows == 0 {
        return Vec::new();
    }
    let lists = lists.min(rows).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    // 40 points a list place the centroids well enough, and keep training to seconds at 1M.
    let sample_size = rows.min(lists * 40);
    let sample_rows: Vec<usize> = sample(&mut rng, rows, sample_size).into_vec();
    let training: Vec<f32> =
        sample_rows.iter().flat_map(|&r| vectors[r * dims..(r + 1) * dims].iter().copied()).collect();
    let mut centroids: Vec<f32> = sample(&mut rng, sample_size, lists)
        .into_iter()
        .flat_map(|r| training[r * dims..(r + 1) * dims].iter().copied())
        .collect();
    for _ in 0..iterations {
        let assignment = assign(&centroids, dims, &training);
        let mut sums = vec![0f32; lists * dims];
        let mut counts = vec![0usize; lists];
        for (row, &list) in training.chunks_exact(dims).zip(&assignment) {
            counts[list] += 1;
            sums[list * dims..(list + 1) * dims].iter_mut().zip(row).for_each(|(s, x)| *s += x);
        }
        for (list, centroid) in sums.chunks_exact_mut(dims).enumerate() {
            if counts[list] == 0 {
                // An empty list takes a random point, so no list stays useless.
                let r = rng.random_range(0..sample_size);
                centroid.copy_from_slice(&training[r * dims..(r + 1) * dims]);
            }
            normalize(centroid);
        }
        centroids = sums;
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` unit vectors around `clusters` random centres.
    fn clustered(count: usize, dims: usize, clusters: usize, noise: f32, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut gauss = move || {
            // Box-Muller from two uniforms.
            let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random_range(0.0..1.0));
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        };
        let centres: Vec<f32> = (0..clusters * dims).map(|_| gauss()).collect();
        let mut out = Vec::with_capacity(count * dims);
        for i in 0..count {
            let c = &centres[(i % clusters) * dims..(i % clusters + 1) * dims];
            let mut row: Vec<f32> = c.iter().map(|x| x / (dims as f32).sqrt() + noise * gauss()).collect();
            normalize(&mut row);
            out.extend(row);
        }
        out
    }

    #[test]
    fn dot_and_normalize() {
        let a: Vec<f32> = (0..13).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..13).map(|i| (i * i) as f32).sum::<f32>());
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 4];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 4]);
    }

    #[test]
    fn exact_search_ranks_by_cosine() {
        let vectors = vec![1.0, 0.0, 0.0, /**/ 0.0, 2.0, 0.0, /**/ 1.0, 1.0, 0.0, /**/ 0.0, 0.0, -5.0];
        let index = VectorIndex::build(3, vec![10, 11, 12, 13], vectors, IndexOptions::default());
        assert!(!index.is_approximate());
        let hits = index.search(&[2.0, 0.1, 0.0], 3);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![10, 12, 11]);
        assert!((hits[0].1 - 0.998_752).abs() < 1e-5, "{hits:?}");
        assert!((hits[1].1 - 2.1 / (2f32.sqrt() * 4.01f32.sqrt())).abs() < 1e-5, "{hits:?}");
        assert_eq!(index.search(&[0.0, 0.0, 1.0], 10).len(), 4, "k larger than the index returns all");
        assert_eq!(index.search(&[0.0, 0.0, 1.0], 1)[0].0, 10, "ties go to the lower id");
        assert!(index.search(&[1.0, 0.0], 3).is_empty(), "a query of the wrong length finds nothing");
    }

    #[test]
    fn insert_replace_and_remove_keep_ids_and_vectors_together() {
        let mut index = VectorIndex::new(2, IndexOptions::default());
        index.insert(&[1, 2, 3], vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0]);
        index.remove(&[1, 99]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.search(&[1.0, 0.1], 1)[0].0, 2, "3 moved into 1's row and stays itself");
        index.insert(&[2], vec![1.0, 0.0]);
        assert_eq!(index.len(), 2);
        let hits = index.search(&[1.0, 0.0], 2);
        assert_eq!(hits[0].0, 2);
        assert!((hits[0].1 - 1.0).abs() < 1e-6);
        assert_eq!(hits[1], (3, -1.0));
    }

    #[test]
    fn the_approximate_index_finds_what_exact_search_finds() {
        let dims = 32;
        let count = 6000;
        let vectors = clustered(count, dims, 60, 0.08, 1);
        let ids: Vec<ChunkId> = (0..count as ChunkId).collect();
        let options = IndexOptions { approximate_min: 5000, probes: 0 };
        let mut index = VectorIndex::build(dims, ids, vectors.clone(), options);
        assert!(index.is_approximate());
        assert_eq!(index.lists(), 77);
        assert_eq!(index.probes(), 9);
        let queries = clustered(100, dims, 60, 0.08, 2);
        let mut found = 0;
        for q in queries.chunks_exact(dims) {
            let exact: Vec<ChunkId> = index.search_exact(q, 10).iter().map(|h| h.0).collect();
            let approx = index.search(q, 10);
            found += approx.iter().filter(|h| exact.contains(&h.0)).count();
        }
        let recall = found as f64 / 1000.0;
        assert!(recall >= 0.9, "recall@10 {recall}");

        // Shrinking far below the threshold goes back to exact search.
        let gone: Vec<ChunkId> = (0..3600).collect();
        index.update(&gone, &[], Vec::new());
        assert!(!index.is_approximate());
        assert_eq!(index.len(), 2400);
        let q = &vectors[3600 * dims..3601 * dims];
        assert_eq!(index.search(q, 1)[0].0, 3600);
    }
}
