//! The score: one formula for every recall.
//!
//! ```text
//! score = w_rel · relevance + w_rec · recency + w_imp · importance/100
//!
//! relevance  = s · text + (1 - s) · vector      query with text and vector (s = text_share)
//!            = text                             text-only query
//!            = vector                           vector-only query
//! text       = bm25 / max bm25 among the candidates        in [0, 1]
//! vector     = max(0, cosine(query, item))                  in [0, 1]
//! recency    = exp(-(t - anchor) / Q_layer)                 anchor: insert or last promotion
//! importance = imp_u · f_layer^((t - t_u) / 1h)             imp_u set at t_u (insert, reinforce)
//! ```
//!
//! Fusion is a **normalised blend**, not reciprocal-rank fusion: RRF (Cormack et al., 2009)
//! keeps only ranks, and 1/(60 + rank) changes by under 2% between rank 1 and rank 2, so
//! added to recency and importance it would let those decide almost alone. The blend keeps
//! how much better the best match is. Candidates come from both lists (BM25 top-N from the
//! text index, cosine top-N from the vectors); an item missing from the text list counts
//! text = 0 (its BM25 is at most the N-th, and the list does not say more), while its cosine
//! is always computed exactly. Ties are broken by id, ascending.
//!
//! With all weights 1 this is FinMem's compound score (relevance + recency + importance,
//! each in [0, 1]).

use serde::Serialize;

use super::item::Layer;
use super::params::MemoryParams;
use crate::market::Ts;
use crate::market::time::NS_PER_HOUR;

/// The parts of one hit's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct ScoreParts {
    /// Normalised BM25 in [0, 1] (0 when not a text candidate or no text query).
    pub text: f64,
    /// Clamped cosine in [0, 1] (0 without a vector query or item vector).
    pub vector: f64,
    /// s·text + (1 − s)·vector when the query has both (s = `text_share`), else the one part.
    pub relevance: f64,
    /// exp(−hours since insert or last promotion / Q_layer), in (0, 1].
    pub recency: f64,
    /// Decayed importance on the 0–100 scale.
    pub importance: f64,
    /// w_rel·relevance + w_rec·recency + w_imp·importance/100.
    pub score: f64,
}

/// Event hours between two timestamps (0 if `to` is before `from`).
#[inline]
pub(super) fn hours(from: Ts, to: Ts) -> f64 {
    (to - from).max(0) as f64 / NS_PER_HOUR as f64
}

/// Recency of an item anchored at `anchor`, seen at `t`.
#[inline]
pub(super) fn recency(p: &MemoryParams, layer: Layer, anchor: Ts, t: Ts) -> f64 {
    (-hours(anchor, t) / p.layer(layer).recency_hours).exp()
}

/// Importance set to `imp` at `since`, decayed to `t`.
#[inline]
pub(super) fn importance(p: &MemoryParams, layer: Layer, imp: f64, since: Ts, t: Ts) -> f64 {
    imp * p.layer(layer).importance_decay_per_hour.powf(hours(since, t))
}

/// Relevance from the parts a query has.
#[inline]
pub(super) fn relevance(p: &MemoryParams, text: Option<f64>, vector: Option<f64>) -> f64 {
    match (text, vector) {
        (Some(t), Some(v)) => p.text_share * t + (1.0 - p.text_share) * v,
        (Some(t), None) => t,
        (None, Some(v)) => v,
        (None, None) => 0.0,
    }
}

/// The combined score.
#[inline]
pub(super) fn combine(p: &MemoryParams, relevance: f64, recency: f64, importance: f64) -> f64 {
    p.weight_relevance * relevance + p.weight_recency * recency + p.weight_importance * importance / 100.0
}

/// Importance after a reward in [-1, 1] (clamped): `imp + η·r·(100 - imp)` for r ≥ 0,
/// `imp·(1 + η·r)` for r < 0. Stays in [0, 100] for any input and rises with the reward.
pub(super) fn reinforce(imp: f64, reward: f64, rate: f64) -> f64 {
    let r = if reward.is_nan() { 0.0 } else { reward.clamp(-1.0, 1.0) };
    let imp = imp.clamp(0.0, 100.0);
    let out = if r >= 0.0 { imp + rate * r * (100.0 - imp) } else { imp * (1.0 + rate * r) };
    out.clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_recency_and_importance_hand_computed() {
        let p = MemoryParams::default();
        let h = NS_PER_HOUR;
        assert!((recency(&p, Layer::Short, 0, 2 * h) - (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(recency(&p, Layer::Mid, 5 * h, 5 * h), 1.0);
        assert!((importance(&p, Layer::Short, 50.0, 0, 10 * h) - 50.0 * 0.95f64.powi(10)).abs() < 1e-9);
        assert!((combine(&p, 0.5, 0.25, 40.0) - 1.15).abs() < 1e-12);
        assert!((relevance(&p, Some(0.8), Some(0.2)) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn test_reinforce_hand_computed() {
        assert!((reinforce(50.0, 1.0, 0.3) - 65.0).abs() < 1e-12);
        assert!((reinforce(50.0, -1.0, 0.3) - 35.0).abs() < 1e-12);
        assert_eq!(reinforce(50.0, 0.0, 0.3), 50.0);
        assert_eq!(reinforce(50.0, f64::NAN, 0.3), 50.0);
        assert!((reinforce(80.0, 7.0, 0.3) - 86.0).abs() < 1e-12, "reward clamped to 1");
    }

    proptest! {
        #[test]
        fn prop_recency_never_increases(layer in 0u8..4, anchor in -1_000_000i64..1_000_000, a in 0i64..1_000_000_000_000, b in 0i64..1_000_000_000_000) {
            let p = MemoryParams::default();
            let l = Layer::from_index(layer);
            let (t1, t2) = (anchor + a.min(b), anchor + a.max(b));
            prop_assert!(recency(&p, l, anchor, t2) <= recency(&p, l, anchor, t1));
            prop_assert!(importance(&p, l, 70.0, anchor, t2) <= importance(&p, l, 70.0, anchor, t1));
        }

        #[test]
        fn prop_reinforce_bounded_and_monotone(imp in -50.0f64..150.0, r1 in -3.0f64..3.0, r2 in -3.0f64..3.0, rate in 0.01f64..1.0) {
            let (lo, hi) = (r1.min(r2), r1.max(r2));
            let a = reinforce(imp, lo, rate);
            let b = reinforce(imp, hi, rate);
            prop_assert!((0.0..=100.0).contains(&a) && (0.0..=100.0).contains(&b));
            prop_assert!(a <= b + 1e-12);
        }
    }
}
