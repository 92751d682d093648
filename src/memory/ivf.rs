//! IVF-SQ8: an approximate vector index for large stores (Jégou, Douze & Schmid, "Product
//! Quantization for Nearest Neighbor Search", 2011, §4: the inverted file; list vectors
//! scalar-quantised to one byte per dimension, as faiss's `IndexIVFScalarQuantizer`
//! with `QT_8bit`).
//!
//! Why: an exact scan reads every vector; at 1M items × 16 dims that is 64 MB per query,
//! ~6 ms on this machine, over the 2 ms p99 target. IVF clusters the vectors with k-means
//! and a query scans only the `ivf_probe` lists whose centroids are nearest
//! (~1–2% of the items), plus the items appended since the lists were last extended. When
//! filters leave fewer than the wanted candidates, more lists are probed, up to all of them,
//! so a selective filter degrades to an exact scan rather than to missing results.
//!
//! k-means is Lloyd's algorithm, √n/2 lists, initialised from a deterministic sample
//! ([`crate::rng::SplitMix64`] with a fixed seed), 6 iterations on a sample of 32 points per list. Training happens
//! when the live count first reaches `ivf_min_items` and again each time it doubles; new
//! items are assigned to the nearest centroid in batches.
//!
//! Quantisation: dimension `d` is mapped affinely from `[lo_d, hi_d]` (its range over the
//! training sample) to 0..=255 (values outside clamp). A probe is memory-bound (the
//! similarity loop waits on loads), so bytes per vector decide its speed: 1 byte per
//! dimension instead of 4 cut the 100k-item probe by ~2x. Only candidate *selection*
//! uses the quantised similarity; every candidate's cosine in the score is recomputed from
//! its f32 vector, and `probe = usize::MAX` (the exact mode) is a flat f32 scan. The
//! recall cost is measured in benches/memory_recall.rs (recall@10 against exact).

use super::cosine::normalise;
use super::item::{ItemId, Kind};
use super::table::{Segment, Table};
use super::vector::{TopK, VecFilter, scan_exact_into};
use crate::market::Ts;
use crate::rng::SplitMix64;
use crate::simd::Isa;

/// Items per block of a list's vectors.
pub(super) const BLOCK: usize = 8;

/// One inverted list: its items' filter columns and quantised vectors, stored contiguously
/// so a probe reads memory in order (positions into the table would cost a cache miss per
/// column per item: measured 677 µs for a 100k-item probe that way, versus ~50 µs).
///
/// Vectors are kept in blocks of [`BLOCK`] items, dimension-major inside a block
/// (`block[d * BLOCK + i]` is dimension `d` of item `i`), so eight similarities are eight
/// independent sums of `dim` multiply-adds, which the compiler turns into vector
/// instructions with no horizontal reduction per item (item-major dot products spent
/// most of their time summing lanes: the probe took ~2x as long).
#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    pub pos: Vec<u32>,
    pub ids: Vec<ItemId>,
    pub time: Vec<Ts>,
    /// Agent, symbol and kind packed in one word (bits 0–15, 16–31, 32–39), so a block's
    /// filter is eight masked compares with no branch (the three columns apart, each
    /// checked with a branch, were a third of a filtered probe).
    pub tags: Vec<u64>,
    /// Earliest and latest event time in the list: when the query's range covers both,
    /// the time column is not read.
    pub time_lo: Ts,
    pub time_hi: Ts,
    /// `ceil(len / BLOCK) × dim × BLOCK` codes (see [`Quantizer`]); padding is zero.
    pub blocks: Vec<u8>,
}

impl List {
    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn push_codes(&mut self, codes: impl ExactSizeIterator<Item = u8>) {
        put_in_block(&mut self.blocks, self.ids.len(), codes);
    }

    /// Appends item `i` of `seg` (table position `pos`) with its codes.
    fn push(&mut self, seg: &Segment, i: usize, pos: usize, codes: impl ExactSizeIterator<Item = u8>) {
        if self.is_empty() {
            (self.time_lo, self.time_hi) = (seg.time[i], seg.time[i]);
        }
        self.push_codes(codes);
        self.pos.push(pos as u32);
        self.ids.push(seg.ids[i]);
        self.time.push(seg.time[i]);
        self.time_lo = self.time_lo.min(seg.time[i]);
        self.time_hi = self.time_hi.max(seg.time[i]);
        self.tags.push(tag(seg.agent[i], seg.symbol[i], seg.kind[i]));
    }
}

/// Agent, symbol and kind in one word: bits 0–15, 16–31 and 32–39.
#[inline]
fn tag(agent: u16, symbol: u16, kind: Kind) -> u64 {
    agent as u64 | (symbol as u64) << 16 | (kind as u64) << 32
}

/// The (mask, wanted value) a tag must match for `filter`'s agent, symbol and kind.
fn tag_filter(filter: &VecFilter) -> (u64, u64) {
    let (mut mask, mut want) = (0u64, 0u64);
    if let Some(a) = filter.agent {
        (mask, want) = (mask | 0xffff, want | a as u64);
    }
    if let Some(s) = filter.symbol {
        (mask, want) = (mask | 0xffff << 16, want | (s as u64) << 16);
    }
    if let Some(k) = filter.kind {
        (mask, want) = (mask | 0xff << 32, want | (k as u64) << 32);
    }
    (mask, want)
}

/// Bit `i` set when `tags[i]` matches and (if `range`) `times[i]` is in `range`.
#[inline(always)]
fn block_mask(tags: &[u64], times: &[Ts], (mask, want): (u64, u64), range: Option<(Ts, Ts)>) -> u32 {
    let mut m = 0u32;
    match range {
        None => {
            for (i, &t) in tags.iter().enumerate() {
                m |= (((t & mask) == want) as u32) << i;
            }
        }
        Some((lo, hi)) => {
            for (i, (&t, &x)) in tags.iter().zip(times).enumerate() {
                m |= (((t & mask) == want && x >= lo && x <= hi) as u32) << i;
            }
        }
    }
    m
}

/// Writes item `i`'s values into dimension-major blocks of [`BLOCK`] items (the layout of
/// [`List::blocks`]), opening a zeroed block when `i` starts one.
fn put_in_block<T: Copy + Default>(blocks: &mut Vec<T>, i: usize, values: impl ExactSizeIterator<Item = T>) {
    let dim = values.len();
    if i.is_multiple_of(BLOCK) {
        blocks.resize(blocks.len() + dim * BLOCK, T::default());
    }
    let base = blocks.len() - dim * BLOCK;
    for (d, x) in values.enumerate() {
        blocks[base + d * BLOCK + i % BLOCK] = x;
    }
}

/// Per-dimension affine 8-bit codes: `x ≈ lo_d + code · step_d`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Quantizer {
    pub lo: Vec<f32>,
    pub step: Vec<f32>,
}

impl Quantizer {
    /// Ranges from `sample` (unit vectors of `dim`).
    pub(crate) fn fit<'a>(sample: impl Iterator<Item = &'a [f32]>, dim: usize) -> Self {
        let (mut lo, mut hi) = (vec![f32::INFINITY; dim], vec![f32::NEG_INFINITY; dim]);
        for v in sample {
            for d in 0..dim {
                lo[d] = lo[d].min(v[d]);
                hi[d] = hi[d].max(v[d]);
            }
        }
        let step = lo
            .iter_mut()
            .zip(&hi)
            .map(|(l, &h)| {
                if !l.is_finite() || h <= *l {
                    *l = if l.is_finite() { *l } else { 0.0 };
                    return 1.0 / 255.0;
                }
                (h - *l) / 255.0
            })
            .collect();
        Quantizer { lo, step }
    }

    /// The codes of `v`.
    pub(crate) fn codes<'a>(&'a self, v: &'a [f32]) -> impl ExactSizeIterator<Item = u8> + 'a {
        v.iter().zip(&self.lo).zip(&self.step).map(|((x, lo), st)| ((x - lo) / st).round().clamp(0.0, 255.0) as u8)
    }

    /// The query folded into the codes: `q · x ≈ bias + Σ_d weights_d · code_d`.
    pub(crate) fn prepare(&self, q: &[f32]) -> (Vec<f32>, f32) {
        let weights = q.iter().zip(&self.step).map(|(x, st)| x * st).collect();
        let bias = q.iter().zip(&self.lo).map(|(x, lo)| x * lo).sum();
        (weights, bias)
    }
}

/// `bias` plus the weighted sums of one block's items (`block` holds f32 values or 8-bit
/// codes): with a query as the weights and no bias, similarities; with
/// [`Quantizer::prepare`]'s, approximate similarities from codes. Padding items get `bias`.
#[inline]
pub(super) fn block_dots<T: Copy + Into<f32>>(block: &[T], weights: &[f32], bias: f32) -> [f32; BLOCK] {
    let mut acc = [bias; BLOCK];
    for (col, &w) in block.chunks_exact(BLOCK).zip(weights) {
        for i in 0..BLOCK {
            acc[i] += w * col[i].into();
        }
    }
    acc
}

/// `vectors` (item-major, `dim` each) in [`List::blocks`]' layout, zero-padded.
fn to_blocks(vectors: &[f32], dim: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for (k, v) in vectors.chunks_exact(dim).enumerate() {
        put_in_block(&mut out, k, v.iter().copied());
    }
    out
}

/// Lists nearest first: similarity descending, then list index.
fn nearer(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The inverted file.
#[derive(Debug, Clone)]
pub(crate) struct Ivf {
    pub dim: usize,
    /// `nlist` unit-normalised centroids in [`List::blocks`]' layout, scored all at once.
    pub centroid_blocks: Vec<f32>,
    pub quantizer: Quantizer,
    pub lists: Vec<List>,
    /// Positions covered by the lists; later ones are scanned exactly.
    pub upto: usize,
    /// Live items when trained.
    pub trained_on: usize,
}

fn vec_of(table: &Table, dim: usize, pos: usize) -> Option<&[f32]> {
    let (s, i) = table.locate(pos);
    let seg = &table.segments[s];
    (seg.has_vec[i] && table.state(pos).alive).then(|| &seg.vectors[i * dim..(i + 1) * dim])
}

impl Ivf {
    fn set_centroids(&mut self, centroids: &[f32]) {
        self.centroid_blocks = to_blocks(centroids, self.dim);
    }

    /// Similarity of `v` to every centroid.
    fn centroid_sims(&self, v: &[f32]) -> Vec<f32> {
        let n = self.lists.len();
        let mut out = Vec::with_capacity(n + BLOCK);
        for block in self.centroid_blocks.chunks_exact(self.dim * BLOCK) {
            out.extend_from_slice(&block_dots(block, v, 0.0));
        }
        out.truncate(n);
        out
    }

    /// The nearest centroid (the first of equals).
    fn nearest(&self, v: &[f32]) -> usize {
        let mut best = (f32::NEG_INFINITY, 0usize);
        for (b, block) in self.centroid_blocks.chunks_exact(self.dim * BLOCK).enumerate() {
            for (i, s) in block_dots(block, v, 0.0).into_iter().enumerate() {
                let c = b * BLOCK + i;
                if s > best.0 && c < self.lists.len() {
                    best = (s, c);
                }
            }
        }
        best.1
    }

    /// Trains centroids on the live vectors of `table` and assigns every position.
    pub(crate) fn train(table: &Table, dim: usize, live: usize) -> Ivf {
        let with_vec: Vec<usize> = (0..table.len).filter(|&p| vec_of(table, dim, p).is_some()).collect();
        let nlist = ((with_vec.len() as f64).sqrt() as usize / 2).clamp(1, 1024);
        let mut rng = SplitMix64(0x005e_ed0f_9012_u64);
        let sample_n = (nlist * 32).min(with_vec.len());
        let mut sample: Vec<usize> = Vec::with_capacity(sample_n);
        if sample_n == with_vec.len() {
            sample.extend_from_slice(&with_vec);
        } else {
            for _ in 0..sample_n {
                sample.push(with_vec[rng.below(with_vec.len())]);
            }
        }
        let mut centroids = vec![0.0f32; nlist * dim];
        for c in 0..nlist {
            let p = sample[rng.below(sample.len())];
            centroids[c * dim..(c + 1) * dim].copy_from_slice(vec_of(table, dim, p).expect("sampled with vector"));
        }
        let mut ivf = Ivf {
            dim,
            centroid_blocks: Vec::new(),
            quantizer: Quantizer::fit(sample.iter().map(|&p| vec_of(table, dim, p).expect("vector")), dim),
            lists: vec![List::default(); nlist],
            upto: 0,
            trained_on: live,
        };
        ivf.set_centroids(&centroids);
        let mut assign = vec![0usize; sample.len()];
        for _ in 0..6 {
            for (k, &p) in sample.iter().enumerate() {
                assign[k] = ivf.nearest(vec_of(table, dim, p).expect("vector"));
            }
            let mut sums = vec![0.0f32; nlist * dim];
            let mut counts = vec![0usize; nlist];
            for (k, &p) in sample.iter().enumerate() {
                let c = assign[k];
                counts[c] += 1;
                for (s, x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(vec_of(table, dim, p).expect("vector")) {
                    *s += x;
                }
            }
            for c in 0..nlist {
                if counts[c] == 0 {
                    // An empty cluster restarts at a random sample point.
                    let p = sample[rng.below(sample.len())];
                    sums[c * dim..(c + 1) * dim].copy_from_slice(vec_of(table, dim, p).expect("vector"));
                }
                normalise(&mut sums[c * dim..(c + 1) * dim]);
            }
            ivf.set_centroids(&sums);
        }
        ivf.extend_in_place(table);
        ivf
    }

    fn extend_in_place(&mut self, table: &Table) {
        let dim = self.dim;
        for p in self.upto..table.len {
            let (s, i) = table.locate(p);
            let seg = &table.segments[s];
            if !seg.has_vec[i] || !table.state(p).alive {
                continue;
            }
            let v = &seg.vectors[i * dim..(i + 1) * dim];
            let c = self.nearest(v);
            self.lists[c].push(seg, i, p, self.quantizer.codes(v));
        }
        self.upto = table.len;
    }

    /// Items past `upto` that a search scans exactly; `extended` folds them in once there
    /// are more than `max(4096, upto / 16)`.
    pub(crate) fn pending(&self, table: &Table) -> usize {
        table.len - self.upto
    }

    /// True when the unindexed positions should be folded into the lists.
    pub(crate) fn wants_extend(&self, table: &Table) -> bool {
        self.pending(table) > (self.upto / 16).max(4096)
    }

    /// A copy that also covers positions appended since.
    pub(crate) fn extended(&self, table: &Table) -> Ivf {
        let mut ivf = self.clone();
        ivf.extend_in_place(table);
        ivf
    }

    /// A copy with the same centroids whose lists are rebuilt for `table` (after compaction).
    pub(crate) fn reassigned(&self, table: &Table) -> Ivf {
        let mut ivf = Ivf { lists: vec![List::default(); self.lists.len()], upto: 0, ..self.clone() };
        ivf.extend_in_place(table);
        ivf
    }

    /// Approximate top-`limit` by cosine: the `probe` nearest lists (more if filters leave
    /// too few), plus positions appended since the lists were extended (scanned exactly).
    ///
    /// Filters on the list columns come first; the mutable state (alive, layer) sits in the
    /// table, a cache miss per item, so it is read only for the final candidates: the scan
    /// keeps the best `2 · limit` by the columns alone, and if fewer than `limit` of those
    /// pass the state (many items cleaned up but not yet compacted away) the scan is redone
    /// checking the state of every item that could enter. Either way the result is the top
    /// `limit` of the probed items that pass every filter.
    pub(crate) fn search(
        &self,
        table: &Table,
        dim: usize,
        q: &[f32],
        filter: &VecFilter,
        limit: usize,
        probe: usize,
    ) -> Vec<(f32, ItemId, usize)> {
        self.search_at(crate::simd::active(), table, dim, q, filter, limit, probe)
    }

    /// [`Ivf::search`] with its scans built for `isa`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search_at(
        &self,
        isa: Isa,
        table: &Table,
        dim: usize,
        q: &[f32],
        filter: &VecFilter,
        limit: usize,
        probe: usize,
    ) -> Vec<(f32, ItemId, usize)> {
        // Nearest lists first; only the first `probe` are ordered now (the rest if widening).
        let mut order: Vec<(f32, usize)> = self.centroid_sims(q).into_iter().enumerate().map(|(c, s)| (s, c)).collect();
        if probe < order.len() {
            order.select_nth_unstable_by(probe, nearer);
            order[..probe].sort_unstable_by(nearer);
        } else {
            order.sort_unstable_by(nearer);
        }
        let wide = limit.saturating_mul(2);
        let first = scan_at(isa, self, table, dim, q, filter, &mut order, wide, limit, probe, false);
        // Fewer than `limit` means every list was read and every candidate kept.
        let complete = first.len() < limit;
        let mut kept: Vec<(f32, ItemId, usize)> = first
            .into_iter()
            .filter(|&(_, _, pos)| {
                let st = table.state(pos);
                st.alive && filter.layer.is_none_or(|x| st.layer == x)
            })
            .collect();
        if kept.len() >= limit || complete {
            kept.truncate(limit);
            return kept;
        }
        scan_at(isa, self, table, dim, q, filter, &mut order, limit, limit, probe, true)
    }

    /// The best `keep` items of the unindexed tail and of the lists in `order`: `probe`
    /// lists, doubled until `enough` items are kept or every list is read.
    ///
    /// Compiled twice: for the baseline x86-64 (SSE2) and for AVX2, chosen at run time
    /// ([`crate::simd`], see `scan_at`). Each lane's arithmetic is the same in both, so are
    /// the results.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn scan_impl(
        &self,
        table: &Table,
        dim: usize,
        q: &[f32],
        filter: &VecFilter,
        order: &mut [(f32, usize)],
        keep: usize,
        enough: usize,
        probe: usize,
        check_state: bool,
    ) -> Vec<(f32, ItemId, usize)> {
        let mut top = TopK::new(keep);
        let (weights, bias) = self.quantizer.prepare(q);
        // Unindexed tail: exact.
        scan_exact_into(table, dim, q, filter, self.upto, &mut top);
        let mut threshold = top.threshold();
        let mut probed = 0;
        let mut want = probe.min(order.len());
        let selective = filter.selective();
        let tf = tag_filter(filter);
        let (lo, hi) = (filter.from.unwrap_or(Ts::MIN), filter.to);
        loop {
            while probed < want {
                let l = &self.lists[order[probed].1];
                // The time column is read only if the list has items outside the range.
                let range = (l.time_lo < lo || l.time_hi > hi).then_some((lo, hi));
                let passes = |k: usize| block_mask(&l.tags[k..k + 1], &l.time[k..k + 1], tf, range) != 0;
                // A block of eight at a time. Without agent/symbol/kind filters similarity
                // comes first and the columns are read only for what could enter; with them
                // (an analyst's own memories of one symbol: a few percent of the items) the
                // columns come first and blocks with no passing item are not scored.
                for (b, block) in l.blocks.chunks_exact(dim * BLOCK).enumerate() {
                    let n = (l.len() - b * BLOCK).min(BLOCK);
                    let mut mask: u32 = (1 << n) - 1;
                    if selective {
                        let r = b * BLOCK..b * BLOCK + n;
                        mask &= block_mask(&l.tags[r.clone()], &l.time[r], tf, range);
                        if mask == 0 {
                            continue;
                        }
                    }
                    let sims = block_dots(block, &weights, bias);
                    if sims.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) < threshold {
                        continue;
                    }
                    while mask != 0 {
                        let i = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        let (k, sim) = (b * BLOCK + i, sims[i]);
                        if sim < threshold || (!selective && !passes(k)) {
                            continue;
                        }
                        let pos = l.pos[k] as usize;
                        if check_state {
                            let st = table.state(pos);
                            if !st.alive || filter.layer.is_some_and(|x| st.layer != x) {
                                continue;
                            }
                        }
                        top.push(sim, l.ids[k], pos);
                        threshold = top.threshold();
                    }
                }
                probed += 1;
            }
            if top.len() >= enough || probed >= order.len() {
                break;
            }
            if want <= probe {
                // Widening past the first `probe` lists: order the rest.
                order[want..].sort_unstable_by(nearer);
            }
            want = (want * 2).min(order.len());
        }
        top.into_sorted()
    }
}

crate::simd::multiversion! {
    /// `Ivf::scan_impl` built for `isa`.
    #[allow(clippy::too_many_arguments)]
    fn scan_at(
        ivf: &Ivf,
        table: &Table,
        dim: usize,
        q: &[f32],
        filter: &VecFilter,
        order: &mut [(f32, usize)],
        keep: usize,
        enough: usize,
        probe: usize,
        check_state: bool,
    ) -> Vec<(f32, ItemId, usize)> = Ivf::scan_impl;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::cosine::dot;

    #[test]
    fn test_block_layout_gives_plain_dot_products() {
        let dim = 5;
        let mut rng = SplitMix64(9);
        let vecs: Vec<Vec<f32>> = (0..19)
            .map(|_| {
                let mut v: Vec<f32> = (0..dim).map(|_| rng.below(1000) as f32 / 500.0 - 1.0).collect();
                normalise(&mut v);
                v
            })
            .collect();
        let q: Vec<f32> = (0..dim).map(|d| d as f32 - 2.0).collect();
        // f32 blocks (centroids): exact.
        let flat: Vec<f32> = vecs.concat();
        let blocks = to_blocks(&flat, dim);
        assert_eq!(blocks.len(), 3 * dim * BLOCK, "19 items fill three blocks, the last padded");
        for (b, block) in blocks.chunks_exact(dim * BLOCK).enumerate() {
            for (i, &sim) in block_dots(block, &q, 0.0).iter().enumerate() {
                let want = vecs.get(b * BLOCK + i).map_or(0.0, |v| dot(v, &q));
                assert!((sim - want).abs() < 1e-5, "block {b} item {i}: {sim} vs {want}");
            }
        }
        // Quantised lists: within half a step per dimension.
        let qz = Quantizer::fit(vecs.iter().map(|v| v.as_slice()), dim);
        let mut l = List::default();
        for (k, v) in vecs.iter().enumerate() {
            l.push_codes(qz.codes(v));
            l.ids.push(k as u64);
        }
        let (weights, bias) = qz.prepare(&q);
        let tol: f32 = q.iter().zip(&qz.step).map(|(x, st)| x.abs() * st / 2.0).sum::<f32>() + 1e-5;
        for (b, block) in l.blocks.chunks_exact(dim * BLOCK).enumerate() {
            for (i, &sim) in block_dots(block, &weights, bias).iter().enumerate() {
                if let Some(v) = vecs.get(b * BLOCK + i) {
                    let want = dot(v, &q);
                    assert!((sim - want).abs() <= tol, "block {b} item {i}: {sim} vs {want} (tolerance {tol})");
                }
            }
        }
    }

    proptest::proptest! {
        /// The packed-tag block mask agrees with the column-by-column predicate.
        #[test]
        fn prop_block_mask_equals_column_filter(
            items in proptest::collection::vec((0u16..4, 0u16..4, 0usize..7, 0i64..20), 1..=8),
            agent in proptest::option::of(0u16..4),
            symbol in proptest::option::of(0u16..4),
            kind in proptest::option::of(0usize..7),
            from in proptest::option::of(0i64..20),
            to in 0i64..20,
            check_time: bool,
        ) {
            let kind = kind.map(|k| Kind::ALL[k]);
            let filter = VecFilter { agent, symbol, kind, layer: None, from, to };
            let tags: Vec<u64> = items.iter().map(|&(a, s, k, _)| tag(a, s, Kind::ALL[k])).collect();
            let times: Vec<Ts> = items.iter().map(|x| x.3).collect();
            let range = check_time.then_some((from.unwrap_or(Ts::MIN), to));
            let m = block_mask(&tags, &times, tag_filter(&filter), range);
            for (i, &(a, s, k, t)) in items.iter().enumerate() {
                let want = agent.is_none_or(|x| x == a)
                    && symbol.is_none_or(|x| x == s)
                    && kind.is_none_or(|x| x == Kind::ALL[k])
                    && (!check_time || (t <= to && from.is_none_or(|f| t >= f)));
                proptest::prop_assert_eq!(m & (1 << i) != 0, want, "item {}", i);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        /// The baseline and AVX2 builds of the IVF scan (lists, widening, the exact tail,
        /// the state re-check) return the same hits, bit for bit.
        #[test]
        fn prop_ivf_search_builds_agree(
            seed in 0u64..1000,
            n in 200usize..3000,
            agent in proptest::option::of(0u16..4),
            symbol in proptest::option::of(0u16..3),
            layer in proptest::option::of(0usize..4),
            limit in 1usize..40,
            probe in 1usize..8,
        ) {
            use crate::memory::item::Layer;
            if !crate::simd::supported() {
                eprintln!("skipped: this CPU has no AVX2 + POPCNT build to compare");
                return Ok(());
            }
            let dim = 16;
            let table = crate::memory::testkit::random_table(seed, n, dim);
            // Trained on the first part: the rest is the exactly scanned tail.
            let mut first = table.clone();
            first.len = table.starts.iter().copied().filter(|&s| s > 0 && s <= n / 2).max().unwrap_or(table.len);
            let first_segments = table.starts.iter().filter(|&&s| s < first.len).count();
            first.segments.truncate(first_segments);
            first.starts.truncate(first_segments);
            let ivf = Ivf::train(&first, dim, first.len);
            let q = crate::memory::testkit::query(seed, dim);
            let filter = VecFilter { agent, symbol, kind: None, layer: layer.map(|l| Layer::ALL[l]), from: None, to: n as i64 };
            let bits = crate::memory::testkit::bits;
            let base = bits(ivf.search_at(Isa::Baseline, &table, dim, &q, &filter, limit, probe));
            let avx2 = bits(ivf.search_at(Isa::Avx2, &table, dim, &q, &filter, limit, probe));
            proptest::prop_assert_eq!(base, avx2);
        }
    }
}
