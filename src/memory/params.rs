//! Memory parameters (`[memory]` in the config), with the intraday defaults and why.
//!
//! FinMem (Yu et al., 2023) is the reference: recency `exp(-Δt/Q)` per layer with
//! Q = 3/90/365 days, importance decaying by 0.92/0.967/0.988 a day, promotion at
//! importance 60/80 (0–100 scale), cleanup below recency 0.05 or importance 5. Those scales
//! suit daily bars; quorum works on minutes and hours, so every layer is shifted down:
//!
//! | layer | Q (recency) | importance factor | lives (recency ≥ 0.05) | meant for |
//! |---|---|---|---|---|
//! | short | 2 h | 0.95 / h (half-life 13.5 h) | 6 h | today's tape |
//! | mid | 48 h | 0.99 / h (half-life 2.9 days) | 6 days | this week's patterns |
//! | long | 720 h (30 days) | 0.998 / h (half-life 14 days) | 90 days | what kept working |
//! | reflection | 2160 h (90 days) | 0.999 / h (half-life 29 days) | 270 days | analysts' lessons |
//!
//! Time is event time (bar timestamps), calendar hours, so a short memory from one
//! afternoon has faded by the next morning; memories survive a weekend only from `mid` up.
//! Promotion short→mid at importance ≥ 60 and mid→long at ≥ 80 (FinMem's jumps) resets
//! recency; demotion long→mid below 40 and mid→short below 20 (hysteresis, so an item does
//! not bounce). Importance comes from outcomes through `reinforce`, not at random as in
//! FinMem: a win of reward +1 at rate 0.3 lifts a fresh item from 50 to 65 and so into mid.

use serde::{Deserialize, Serialize};

use super::item::Layer;
use crate::error::InvalidValue;

/// Parameters of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerParams {
    /// Recency stability Q in hours: recency = exp(-Δt / Q).
    pub recency_hours: f64,
    /// Importance is multiplied by this factor per hour of event time.
    pub importance_decay_per_hour: f64,
    /// Hard cap on live items in the layer; the lowest retention score is evicted first.
    pub capacity: usize,
}

/// All memory parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryParams {
    /// Vector dimension of every item of a store.
    pub dim: usize,
    /// `[memory.short]`: fresh memories (default Q 2 h, importance ×0.95 per hour).
    #[serde(deserialize_with = "partial::short")]
    pub short: LayerParams,
    /// `[memory.mid]`: reinforced memories (default Q 48 h, importance ×0.99 per hour).
    #[serde(deserialize_with = "partial::mid")]
    pub mid: LayerParams,
    /// `[memory.long]`: memories that kept working (default Q 720 h, ×0.998 per hour).
    #[serde(deserialize_with = "partial::long")]
    pub long: LayerParams,
    /// `[memory.reflection]`: reflections (default Q 2160 h, ×0.999 per hour).
    #[serde(deserialize_with = "partial::reflection")]
    pub reflection: LayerParams,
    /// Importance at or above which a short item moves to mid.
    pub promote_short_to_mid: f64,
    /// Importance at or above which a mid item moves to long.
    pub promote_mid_to_long: f64,
    /// Importance below which a long item moves to mid.
    pub demote_long_to_mid: f64,
    /// Importance below which a mid item moves to short.
    pub demote_mid_to_short: f64,
    /// Items whose recency falls below this are cleaned up.
    pub cleanup_recency: f64,
    /// Items whose importance falls below this are cleaned up.
    pub cleanup_importance: f64,
    /// Reinforcement rate η: a reward r in [-1, 1] moves importance by η·r of the way to
    /// 100 (r > 0) or to 0 (r < 0).
    pub reinforce_rate: f64,
    /// Weight of relevance (fused text + vector similarity) in the score.
    pub weight_relevance: f64,
    /// Weight of recency in the score.
    pub weight_recency: f64,
    /// Weight of importance (0–1) in the score.
    pub weight_importance: f64,
    /// Share of text similarity in relevance when a query has both text and vector.
    pub text_share: f64,
    /// Candidates fetched per list: max(k · candidate_factor, min_candidates).
    pub candidate_factor: usize,
    /// Lower bound on the candidates fetched per list (see `candidate_factor`).
    pub min_candidates: usize,
    /// Commit the text index once this many items wait in the searchable tail (and keep a
    /// compacted store of fewer live items in the tail). Changes speed, never a recall.
    pub commit_every: usize,
    /// Event-time minutes between maintenance sweeps (decay-driven demotion, cleanup).
    pub sweep_every_minutes: f64,
    /// Half-life, in event hours, of outcomes in the win/loss aggregates (`memory stats`).
    pub outcome_half_life_hours: f64,
    /// Half-life, in outcomes of the same analyst, of the evidence the composer weighs by.
    pub outcome_half_life_outcomes: f64,
    /// Live items from which vector search uses the IVF index instead of a flat scan.
    pub ivf_min_items: usize,
    /// Lists probed per IVF search (more: better recall, slower).
    pub ivf_probe: usize,
}

/// A layer table may set any subset of its keys; the rest keep that layer's defaults
/// (each layer has its own, so a plain `#[serde(default)]` would not do).
mod partial {
    use serde::{Deserialize, Deserializer};

    use super::{LayerParams, MemoryParams};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PartialLayer {
        recency_hours: Option<f64>,
        importance_decay_per_hour: Option<f64>,
        capacity: Option<usize>,
    }

    fn over<'de, D: Deserializer<'de>>(d: D, base: LayerParams) -> Result<LayerParams, D::Error> {
        let p = PartialLayer::deserialize(d)?;
        Ok(LayerParams {
            recency_hours: p.recency_hours.unwrap_or(base.recency_hours),
            importance_decay_per_hour: p.importance_decay_per_hour.unwrap_or(base.importance_decay_per_hour),
            capacity: p.capacity.unwrap_or(base.capacity),
        })
    }

    pub(super) fn short<'de, D: Deserializer<'de>>(d: D) -> Result<LayerParams, D::Error> {
        over(d, MemoryParams::default().short)
    }
    pub(super) fn mid<'de, D: Deserializer<'de>>(d: D) -> Result<LayerParams, D::Error> {
        over(d, MemoryParams::default().mid)
    }
    pub(super) fn long<'de, D: Deserializer<'de>>(d: D) -> Result<LayerParams, D::Error> {
        over(d, MemoryParams::default().long)
    }
    pub(super) fn reflection<'de, D: Deserializer<'de>>(d: D) -> Result<LayerParams, D::Error> {
        over(d, MemoryParams::default().reflection)
    }
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams {
            dim: 16,
            short: LayerParams { recency_hours: 2.0, importance_decay_per_hour: 0.95, capacity: 100_000 },
            mid: LayerParams { recency_hours: 48.0, importance_decay_per_hour: 0.99, capacity: 100_000 },
            long: LayerParams { recency_hours: 720.0, importance_decay_per_hour: 0.998, capacity: 200_000 },
            reflection: LayerParams { recency_hours: 2160.0, importance_decay_per_hour: 0.999, capacity: 20_000 },
            promote_short_to_mid: 60.0,
            promote_mid_to_long: 80.0,
            demote_long_to_mid: 40.0,
            demote_mid_to_short: 20.0,
            cleanup_recency: 0.05,
            cleanup_importance: 5.0,
            reinforce_rate: 0.3,
            weight_relevance: 1.0,
            weight_recency: 1.0,
            weight_importance: 1.0,
            text_share: 0.5,
            candidate_factor: 4,
            min_candidates: 40,
            commit_every: 4096,
            sweep_every_minutes: 30.0,
            outcome_half_life_hours: 72.0,
            outcome_half_life_outcomes: 200.0,
            ivf_min_items: 50_000,
            ivf_probe: 12,
        }
    }
}

impl MemoryParams {
    /// The parameters of `layer`.
    pub fn layer(&self, layer: Layer) -> &LayerParams {
        match layer {
            Layer::Short => &self.short,
            Layer::Mid => &self.mid,
            Layer::Long => &self.long,
            Layer::Reflection => &self.reflection,
        }
    }

    /// Checks ranges; errors name the key (`memory.<key>`).
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let bad = |key: &str, v: String, why: &str| Err(InvalidValue::new(format!("memory.{key}"), v, why));
        if self.dim == 0 || self.dim > 4096 {
            return bad("dim", self.dim.to_string(), "must be in 1..=4096");
        }
        for l in Layer::ALL {
            let p = self.layer(l);
            let n = l.name();
            if !(p.recency_hours.is_finite() && p.recency_hours > 0.0) {
                return bad(&format!("{n}.recency_hours"), p.recency_hours.to_string(), "must be > 0");
            }
            if !(p.importance_decay_per_hour > 0.0 && p.importance_decay_per_hour <= 1.0) {
                return bad(
                    &format!("{n}.importance_decay_per_hour"),
                    p.importance_decay_per_hour.to_string(),
                    "must be in (0, 1]",
                );
            }
            if p.capacity == 0 {
                return bad(&format!("{n}.capacity"), "0".into(), "must be >= 1");
            }
        }
        for (k, v) in [
            ("promote_short_to_mid", self.promote_short_to_mid),
            ("promote_mid_to_long", self.promote_mid_to_long),
            ("demote_long_to_mid", self.demote_long_to_mid),
            ("demote_mid_to_short", self.demote_mid_to_short),
            ("cleanup_importance", self.cleanup_importance),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return bad(k, v.to_string(), "must be in [0, 100]");
            }
        }
        if self.demote_mid_to_short >= self.promote_short_to_mid || self.demote_long_to_mid >= self.promote_mid_to_long
        {
            return bad(
                "demote_*",
                format!("{}/{}", self.demote_mid_to_short, self.demote_long_to_mid),
                "demotion thresholds must be below the promotion thresholds they undo",
            );
        }
        if !(0.0..1.0).contains(&self.cleanup_recency) {
            return bad("cleanup_recency", self.cleanup_recency.to_string(), "must be in [0, 1)");
        }
        if !(self.reinforce_rate > 0.0 && self.reinforce_rate <= 1.0) {
            return bad("reinforce_rate", self.reinforce_rate.to_string(), "must be in (0, 1]");
        }
        for (k, v) in [
            ("weight_relevance", self.weight_relevance),
            ("weight_recency", self.weight_recency),
            ("weight_importance", self.weight_importance),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(k, v.to_string(), "must be >= 0");
            }
        }
        if !(0.0..=1.0).contains(&self.text_share) {
            return bad("text_share", self.text_share.to_string(), "must be in [0, 1]");
        }
        if self.candidate_factor == 0 || self.min_candidates == 0 || self.commit_every == 0 || self.ivf_probe == 0 {
            return bad("candidate_factor/min_candidates/commit_every/ivf_probe", "0".into(), "must be >= 1");
        }
        if !(self.sweep_every_minutes.is_finite() && self.sweep_every_minutes > 0.0) {
            return bad("sweep_every_minutes", self.sweep_every_minutes.to_string(), "must be > 0");
        }
        if !(self.outcome_half_life_hours.is_finite() && self.outcome_half_life_hours > 0.0) {
            return bad("outcome_half_life_hours", self.outcome_half_life_hours.to_string(), "must be > 0");
        }
        if !(self.outcome_half_life_outcomes.is_finite() && self.outcome_half_life_outcomes >= 1.0) {
            return bad("outcome_half_life_outcomes", self.outcome_half_life_outcomes.to_string(), "must be >= 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_params_defaults_valid_and_errors_name_key() {
        MemoryParams::default().validate().unwrap();
        let mut p = MemoryParams::default();
        p.mid.importance_decay_per_hour = 1.5;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("memory.mid.importance_decay_per_hour"), "{e}");
        let p = MemoryParams { demote_mid_to_short: 70.0, ..Default::default() };
        assert!(p.validate().is_err());
    }
}
