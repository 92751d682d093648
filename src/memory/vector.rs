//! Vector side: cosine similarity over unit-normalised vectors.
//!
//! Below `ivf_min_items` live items the search is an exact flat scan: filters on the
//! columns first (cheap integer compares), then an 8-lane dot product the compiler
//! vectorises. Above it an IVF index (see `ivf.rs`) scans only the lists nearest the query
//! and falls back to more lists when filters leave too few candidates.

use super::cosine::dot;
use super::item::{ItemId, Kind, Layer};
use super::table::{Segment, Table};
use crate::market::Ts;

/// Column filters of a vector search (ids are interned names).
#[derive(Debug, Clone, Copy)]
pub(crate) struct VecFilter {
    pub agent: Option<u16>,
    pub symbol: Option<u16>,
    pub kind: Option<Kind>,
    pub layer: Option<Layer>,
    pub from: Option<Ts>,
    pub to: Ts,
}

impl VecFilter {
    /// True when agent, symbol or kind is filtered on: most items then fail the columns,
    /// so scans read the columns before scoring.
    #[inline]
    pub(crate) fn selective(&self) -> bool {
        self.agent.is_some() || self.symbol.is_some() || self.kind.is_some()
    }

    /// The immutable part: item `i` of `seg` has a vector and passes time, agent, symbol
    /// and kind.
    #[inline(always)]
    pub(crate) fn columns_pass(&self, seg: &Segment, i: usize) -> bool {
        seg.has_vec[i]
            && seg.time[i] <= self.to
            && self.from.is_none_or(|f| seg.time[i] >= f)
            && self.agent.is_none_or(|a| seg.agent[i] == a)
            && self.symbol.is_none_or(|s| seg.symbol[i] == s)
            && self.kind.is_none_or(|k| seg.kind[i] == k)
    }

    /// [`Self::columns_pass`] for items `start..start + n` (n ≤ 32) of `seg`, as a bit mask,
    /// without branches: with agent/symbol/kind filters most items fail, unpredictably.
    #[inline(always)]
    pub(crate) fn columns_mask(&self, seg: &Segment, start: usize, n: usize) -> u32 {
        let (am, a) = self.agent.map_or((0, 0), |a| (u16::MAX, a));
        let (sm, s) = self.symbol.map_or((0, 0), |s| (u16::MAX, s));
        let (km, k) = self.kind.map_or((0u8, 0u8), |k| (u8::MAX, k as u8));
        let from = self.from.unwrap_or(Ts::MIN);
        let r = start..start + n;
        let cols = seg.has_vec[r.clone()]
            .iter()
            .zip(&seg.time[r.clone()])
            .zip(&seg.agent[r.clone()])
            .zip(&seg.symbol[r.clone()])
            .zip(&seg.kind[r]);
        let mut m = 0u32;
        for (i, ((((&v, &t), &ag), &sy), &kd)) in cols.enumerate() {
            let ok = v & (t <= self.to) & (t >= from) & (ag & am == a) & (sy & sm == s) & ((kd as u8) & km == k);
            m |= (ok as u32) << i;
        }
        m
    }

    /// The mutable part: the item at table position `pos` is alive and in the layer.
    #[inline(always)]
    pub(crate) fn state_passes(&self, table: &Table, pos: usize) -> bool {
        let st = table.state(pos);
        st.alive && self.layer.is_none_or(|l| st.layer == l)
    }
}

/// Keeps the best `limit` (similarity, id) pairs; ties prefer the smaller id.
///
/// A buffer, not a heap: candidates at or above the threshold are appended, and when the
/// buffer holds `2 · limit` it is cut back to the best `limit` (`select_nth_unstable`)
/// and the threshold rises to the `limit`-th similarity. Amortised O(1) per candidate;
/// a binary heap paid two sift passes per candidate once full (5% of a 100k-item recall).
pub(super) struct TopK {
    limit: usize,
    buf: Vec<(f32, ItemId, usize)>,
    /// The `limit`-th best similarity at the last cut (-inf before): anything below it
    /// cannot enter.
    floor: f32,
}

/// Best first: similarity descending, then id ascending.
#[inline]
fn better(a: &(f32, ItemId, usize), b: &(f32, ItemId, usize)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

impl TopK {
    /// An empty top-`limit`.
    pub(super) fn new(limit: usize) -> Self {
        TopK { limit, buf: Vec::with_capacity(2 * limit), floor: f32::NEG_INFINITY }
    }

    /// A similarity below which no candidate can enter (-inf until `limit` were offered).
    /// It may lag the exact `limit`-th best until the next cut; see `exact_threshold`.
    #[inline]
    pub(super) fn threshold(&self) -> f32 {
        self.floor
    }

    /// The exact `limit`-th best similarity kept (-inf if fewer are kept).
    #[inline]
    pub(super) fn exact_threshold(&mut self) -> f32 {
        if self.buf.len() > self.limit {
            self.cut();
        }
        if self.buf.len() < self.limit || self.limit == 0 {
            return f32::NEG_INFINITY;
        }
        self.floor = self.buf.iter().map(|c| c.0).fold(f32::INFINITY, f32::min);
        self.floor
    }

    fn cut(&mut self) {
        self.buf.select_nth_unstable_by(self.limit - 1, better);
        self.buf.truncate(self.limit);
        self.floor = self.buf[self.limit - 1].0;
    }

    /// Offers a candidate.
    #[inline]
    pub(super) fn push(&mut self, sim: f32, id: ItemId, pos: usize) {
        if self.limit == 0 || sim < self.floor {
            return;
        }
        self.buf.push((sim, id, pos));
        if self.buf.len() >= 2 * self.limit {
            self.cut();
        }
    }

    /// Candidates held (at least the number kept; `>= limit` means the top is full).
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.buf.len().min(self.limit)
    }

    /// (similarity, id, position), best first.
    pub(super) fn into_sorted(mut self) -> Vec<(f32, ItemId, usize)> {
        self.buf.sort_unstable_by(better);
        self.buf.truncate(self.limit);
        self.buf
    }
}

/// Exact top-`limit` by cosine over every item passing `filter`.
///
/// Compiled for the baseline and for AVX2, chosen at run time ([`crate::simd`]); the same
/// results either way.
pub(super) fn flat_scan(
    table: &Table,
    dim: usize,
    query: &[f32],
    filter: &VecFilter,
    limit: usize,
) -> Vec<(f32, ItemId, usize)> {
    flat_scan_at(crate::simd::active(), table, dim, query, filter, limit)
}

crate::simd::multiversion! {
    /// [`flat_scan`] built for `isa`.
    pub(crate) fn flat_scan_at(
        table: &Table,
        dim: usize,
        query: &[f32],
        filter: &VecFilter,
        limit: usize,
    ) -> Vec<(f32, ItemId, usize)> = flat_scan_impl;
}

#[inline(always)]
fn flat_scan_impl(
    table: &Table,
    dim: usize,
    query: &[f32],
    filter: &VecFilter,
    limit: usize,
) -> Vec<(f32, ItemId, usize)> {
    let mut top = TopK::new(limit);
    scan_exact_into(table, dim, query, filter, 0, &mut top);
    top.into_sorted()
}

/// Offers `top` every item at table position `from_pos` or later that passes `filter`, by
/// exact cosine (the flat scan, and the IVF's not yet indexed tail).
#[inline(always)]
pub(crate) fn scan_exact_into(
    table: &Table,
    dim: usize,
    query: &[f32],
    filter: &VecFilter,
    from_pos: usize,
    top: &mut TopK,
) {
    let selective = filter.selective();
    for (s, seg) in table.segments.iter().enumerate() {
        let base = table.starts[s];
        if base + seg.len() <= from_pos {
            continue;
        }
        let first = from_pos.saturating_sub(base);
        if selective {
            // With agent/symbol/kind filters, the columns first, eight items at a time as a
            // mask: most items fail them for a fraction of a dot product. The state (a
            // cache miss) last.
            for start in (first..seg.len()).step_by(8) {
                let mut mask = filter.columns_mask(seg, start, (seg.len() - start).min(8));
                while mask != 0 {
                    let i = start + mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    let sim = dot(&seg.vectors[i * dim..(i + 1) * dim], query);
                    if sim >= top.threshold() && filter.state_passes(table, base + i) {
                        top.push(sim, seg.ids[i], base + i);
                    }
                }
            }
            continue;
        }
        for (i, v) in seg.vectors.chunks_exact(dim).enumerate().skip(first) {
            // Similarity first (contiguous, vectorised), the columns only for what could
            // enter, the state (a cache miss) last.
            let sim = dot(v, query);
            if sim < top.threshold() || !filter.columns_pass(seg, i) || !filter.state_passes(table, base + i) {
                continue;
            }
            top.push(sim, seg.ids[i], base + i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The buffered top-k equals sorting everything and keeping the first `limit`,
        /// ties (coarse similarities make many) broken by id.
        #[test]
        fn prop_topk_equals_sort_and_truncate(sims in proptest::collection::vec(0u8..8, 0..200), limit in 1usize..30) {
            let mut t = TopK::new(limit);
            let mut all: Vec<(f32, u64, usize)> = Vec::new();
            for (i, &s) in sims.iter().enumerate() {
                let id = (i as u64 * 7919) % 1009;
                t.push(s as f32, id, i);
                all.push((s as f32, id, i));
            }
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all.truncate(limit);
            let want_thr = if all.len() == limit { all[limit - 1].0 } else { f32::NEG_INFINITY };
            proptest::prop_assert_eq!(t.exact_threshold(), want_thr);
            proptest::prop_assert_eq!(t.into_sorted(), all);
        }
    }

    #[test]
    fn test_topk_keeps_best_and_breaks_ties_by_id() {
        let mut t = TopK::new(3);
        for (s, id) in [(0.5, 9), (0.9, 3), (0.5, 2), (0.1, 1), (0.5, 4), (0.7, 8)] {
            t.push(s, id, id as usize);
        }
        let got: Vec<u64> = t.into_sorted().iter().map(|x| x.1).collect();
        assert_eq!(got, vec![3, 8, 2]);
    }

    proptest::proptest! {
        /// The branch-free mask agrees with the item-by-item predicate.
        #[test]
        fn prop_columns_mask_equals_columns_pass(
            items in proptest::collection::vec((proptest::bool::ANY, 0i64..20, 0u16..4, 0u16..4, 0usize..7), 1..40),
            agent in proptest::option::of(0u16..4),
            symbol in proptest::option::of(0u16..4),
            kind in proptest::option::of(0usize..7),
            from in proptest::option::of(0i64..20),
            to in 0i64..20,
            start in 0usize..40,
        ) {
            let mut seg = Segment::default();
            for &(v, t, a, s, k) in &items {
                seg.has_vec.push(v);
                seg.time.push(t);
                seg.agent.push(a);
                seg.symbol.push(s);
                seg.kind.push(Kind::ALL[k]);
            }
            let filter = VecFilter { agent, symbol, kind: kind.map(|k| Kind::ALL[k]), layer: None, from, to };
            let start = start % items.len();
            let n = (items.len() - start).min(8);
            let m = filter.columns_mask(&seg, start, n);
            for i in 0..n {
                proptest::prop_assert_eq!(m & (1 << i) != 0, filter.columns_pass(&seg, start + i), "item {}", start + i);
            }
            proptest::prop_assert_eq!(m >> n, 0);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// The baseline and AVX2 builds of the exact scan return the same hits, bit for bit.
        #[test]
        fn prop_flat_scan_builds_agree(
            seed in 0u64..1000,
            n in 1usize..1500,
            agent in proptest::option::of(0u16..4),
            kind in proptest::option::of(0usize..7),
            layer in proptest::option::of(0usize..4),
            from in proptest::option::of(0i64..1500),
            limit in 1usize..60,
        ) {
            use crate::simd::Isa;
            if !crate::simd::supported() {
                eprintln!("skipped: this CPU has no AVX2 + POPCNT build to compare");
                return Ok(());
            }
            let dim = 16;
            let table = crate::memory::testkit::random_table(seed, n, dim);
            let q = crate::memory::testkit::query(seed, dim);
            let filter = VecFilter {
                agent,
                symbol: None,
                kind: kind.map(|k| Kind::ALL[k]),
                layer: layer.map(|l| Layer::ALL[l]),
                from,
                to: (n as i64) * 3 / 4,
            };
            let bits = crate::memory::testkit::bits;
            let base = bits(flat_scan_at(Isa::Baseline, &table, dim, &q, &filter, limit));
            let avx2 = bits(flat_scan_at(Isa::Avx2, &table, dim, &q, &filter, limit));
            proptest::prop_assert_eq!(base, avx2);
        }
    }
}
