//! Test helpers: random tables and queries for the vector scans, and hits compared by bits.

use super::cosine::normalise;
use super::item::{ItemExtra, ItemId, Kind, Layer};
use super::table::{ItemState, RowKey, Segment, Table};
use crate::rng::SplitMix64;

/// A table of `n` items with clustered `dim`-dimensional vectors (a few without one), 4
/// agents, 3 symbols, random kinds, times 0..n, random layers, about 1 in 8 dead; appended
/// in segments of random sizes, as a store does.
pub(crate) fn random_table(seed: u64, n: usize, dim: usize) -> Table {
    let mut rng = SplitMix64(seed);
    let centres: Vec<Vec<f32>> =
        (0..6).map(|_| (0..dim).map(|_| rng.below(2001) as f32 / 1000.0 - 1.0).collect()).collect();
    let mut t = Table::default();
    let mut id = 1u64;
    while (id as usize) <= n {
        let len = (1 + rng.below(300)).min(n + 1 - id as usize);
        let mut seg = Segment::default();
        let mut states = Vec::with_capacity(len);
        for _ in 0..len {
            let c = &centres[rng.below(centres.len())];
            let raw_vector: Vec<f32> = if rng.below(50) == 0 {
                Vec::new()
            } else {
                c.iter().map(|x| x + (rng.below(1001) as f32 - 500.0) / 2000.0).collect()
            };
            let key = RowKey {
                id,
                time: id as i64,
                agent: rng.below(4) as u16,
                symbol: rng.below(3) as u16,
                kind: Kind::ALL[rng.below(Kind::ALL.len())],
            };
            seg.push_new(key, "x", ItemExtra { raw_vector, ..Default::default() }, dim);
            states.push(ItemState {
                importance: 50.0,
                imp_time: 0,
                anchor: 0,
                access: 0,
                layer: Layer::ALL[rng.below(Layer::ALL.len())],
                alive: rng.below(8) != 0,
            });
            id += 1;
        }
        t.append(seg, states);
    }
    t
}

/// A unit query vector of `dim` dimensions derived from `seed`.
pub(crate) fn query(seed: u64, dim: usize) -> Vec<f32> {
    let mut q: Vec<f32> = (0..dim).map(|d| ((seed as usize * 31 + d * 7) % 13) as f32 - 6.0).collect();
    normalise(&mut q);
    q
}

/// Scan hits with their similarities as bits, for exact comparison of two builds.
pub(crate) fn bits(hits: Vec<(f32, ItemId, usize)>) -> Vec<(u32, ItemId, usize)> {
    hits.into_iter().map(|(s, id, p)| (s.to_bits(), id, p)).collect()
}
