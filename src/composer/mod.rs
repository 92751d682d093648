//! The composer: weighs the analysts by their remembered win rates and turns their votes
//! into one target per symbol.
//!
//! Weights (mode `composed`), from the memory's outcome aggregates as of the step — decayed
//! win and loss counts, so old results count less (`outcome_half_life_hours`):
//!
//! ```text
//! p_a   = (α + wins_a) / (α + β + wins_a + losses_a)      discounted Beta posterior mean
//! raw_a = max(floor, 2·p_a − 1)                            edge over a coin, floored
//! w_a   = raw_a / Σ raw,  then capped at `cap` and renormalised
//! ```
//!
//! The floor keeps a losing analyst in the vote with a small weight, so its wins are still
//! recorded and its weight recovers as its losses decay; the cap keeps one hot streak from
//! taking over. Mode `equal`: w_a = 1/n. Signal per symbol, over the analysts that voted:
//!
//! ```text
//! s = Σ w_a · direction_a · confidence_a / Σ w_a          in [-1, 1]
//! target weight = s / n_symbols
//! ```
//!
//! No-trade band: a new target is emitted only when |s − s_held| ≥ `band` (or the sign
//! flips, or s returns to 0 from |s_held| ≥ band), so small wiggles do not churn the book.

pub(crate) mod actor;

use serde::{Deserialize, Serialize};

use crate::agents::Vote;
use crate::error::InvalidValue;
use crate::market::{SymbolId, Ts};
use crate::memory::Snapshot;

/// How votes are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposerMode {
    /// By remembered win rate (Beta posterior with floor and cap).
    #[default]
    Composed,
    /// Every analyst weighs the same.
    Equal,
}

/// `[composer]` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComposerConfig {
    /// `composed` (Beta-posterior weights with floor and cap) or `equal` (1/n each).
    pub mode: ComposerMode,
    /// Beta prior pseudo-wins α.
    pub prior_wins: f64,
    /// Beta prior pseudo-losses β.
    pub prior_losses: f64,
    /// Lowest raw weight (before normalisation).
    pub floor: f64,
    /// Highest normalised weight of one analyst.
    pub cap: f64,
    /// No-trade band on the composed signal.
    pub band: f64,
}

impl Default for ComposerConfig {
    fn default() -> Self {
        ComposerConfig {
            mode: ComposerMode::Composed,
            prior_wins: 2.0,
            prior_losses: 2.0,
            floor: 0.05,
            cap: 0.6,
            band: 0.15,
        }
    }
}

impl ComposerConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let bad = |k: &str, v: f64, why: &str| Err(InvalidValue::new(format!("composer.{k}"), v, why));
        if !(self.prior_wins > 0.0 && self.prior_wins.is_finite()) {
            return bad("prior_wins", self.prior_wins, "must be > 0");
        }
        if !(self.prior_losses > 0.0 && self.prior_losses.is_finite()) {
            return bad("prior_losses", self.prior_losses, "must be > 0");
        }
        if !(self.floor > 0.0 && self.floor < 1.0) {
            return bad("floor", self.floor, "must be in (0, 1)");
        }
        if !(self.cap > 0.0 && self.cap <= 1.0) {
            return bad("cap", self.cap, "must be in (0, 1]");
        }
        if !(0.0..1.0).contains(&self.band) {
            return bad("band", self.band, "must be in [0, 1)");
        }
        Ok(())
    }
}

/// One analyst's weight at one step, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentWeight {
    /// Index of the analyst in the run's roster.
    pub agent: usize,
    /// Normalised weight in [0, 1]; the analysts' weights at a step sum to 1.
    pub weight: f64,
    /// Posterior win rate.
    pub win_rate: f64,
    /// Decayed count of winning outcomes (half-life `memory.outcome_half_life_hours`).
    pub wins: f64,
    /// Decayed count of losing outcomes (half-life `memory.outcome_half_life_hours`).
    pub losses: f64,
}

/// Caps weights at `cap` and renormalises, redistributing the excess (water-filling).
pub fn cap_weights(w: &mut [f64], cap: f64) {
    let n = w.len();
    if n == 0 {
        return;
    }
    let cap = cap.max(1.0 / n as f64);
    for _ in 0..n {
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            break;
        }
        w.iter_mut().for_each(|x| *x /= total);
        if w.iter().all(|&x| x <= cap + 1e-12) {
            break;
        }
        let excess: f64 = w.iter().filter(|&&x| x > cap).map(|x| x - cap).sum();
        let free: f64 = w.iter().filter(|&&x| x < cap).sum();
        for x in w.iter_mut() {
            if *x > cap {
                *x = cap;
            } else if free > 0.0 {
                *x += excess * *x / free;
            }
        }
    }
}

/// Composer state: the signal held per symbol.
#[derive(Debug, Clone)]
pub struct Composer {
    /// The `[composer]` settings.
    pub cfg: ComposerConfig,
    /// Analyst names in roster order (the index of a vote's `agent`).
    pub agents: Vec<String>,
    held: Vec<f64>,
    n_symbols: usize,
}

impl Composer {
    /// A composer for these analysts and `n_symbols` symbols.
    pub fn new(cfg: ComposerConfig, agents: Vec<String>, n_symbols: usize) -> Self {
        Composer { cfg, agents, held: vec![0.0; n_symbols], n_symbols }
    }

    /// Weights as of `t` from the memory snapshot's aggregates.
    pub fn weights(&self, snap: &Snapshot, t: Ts) -> Vec<AgentWeight> {
        let c = &self.cfg;
        let mut out: Vec<AgentWeight> = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let s = snap.agent_stats(a, None, t);
                let p = s.win_rate(c.prior_wins, c.prior_losses);
                let raw = match c.mode {
                    ComposerMode::Composed => (2.0 * p - 1.0).max(c.floor),
                    ComposerMode::Equal => 1.0,
                };
                AgentWeight { agent: i, weight: raw, win_rate: p, wins: s.wins, losses: s.losses }
            })
            .collect();
        let mut w: Vec<f64> = out.iter().map(|x| x.weight).collect();
        if c.mode == ComposerMode::Composed {
            cap_weights(&mut w, c.cap);
        } else {
            let n = w.len().max(1) as f64;
            w.iter_mut().for_each(|x| *x = 1.0 / n);
        }
        for (o, x) in out.iter_mut().zip(w) {
            o.weight = x;
        }
        out
    }

    /// The composed signal of each symbol voted on (symbol order of first vote).
    pub fn signals(votes: &[Vote], weights: &[f64]) -> Vec<(SymbolId, f64)> {
        let mut acc: Vec<(SymbolId, f64, f64)> = Vec::new();
        for v in votes {
            let w = weights.get(v.agent).copied().unwrap_or(0.0);
            let slot = match acc.iter().position(|a| a.0 == v.symbol) {
                Some(i) => i,
                None => {
                    acc.push((v.symbol, 0.0, 0.0));
                    acc.len() - 1
                }
            };
            acc[slot].1 += w * v.direction * v.confidence;
            acc[slot].2 += w;
        }
        acc.into_iter().map(|(s, num, den)| (s, if den > 0.0 { (num / den).clamp(-1.0, 1.0) } else { 0.0 })).collect()
    }

    /// Targets (symbol, weight of equity) that passed the no-trade band.
    pub fn targets(&mut self, votes: &[Vote], weights: &[f64]) -> Vec<(SymbolId, f64)> {
        let band = self.cfg.band;
        let mut out = Vec::new();
        for (s, sig) in Self::signals(votes, weights) {
            let held = &mut self.held[s as usize];
            let flip = sig.signum() != held.signum() && (sig.abs() >= band || held.abs() >= band);
            if (sig - *held).abs() >= band || flip {
                *held = sig;
                out.push((s, sig / self.n_symbols.max(1) as f64));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(agent: usize, symbol: u32, d: f64, c: f64) -> Vote {
        Vote { ts: 0, symbol, agent, direction: d, confidence: c, rationale: String::new(), memory_ids: vec![] }
    }

    #[test]
    fn test_cap_weights_water_fills() {
        let mut w = vec![0.9, 0.05, 0.05];
        cap_weights(&mut w, 0.6);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((w[0] - 0.6).abs() < 1e-9 && (w[1] - 0.2).abs() < 1e-9);
    }

    #[test]
    fn test_signals_weighted_mean_hand_computed() {
        let votes = [vote(0, 0, 1.0, 0.5), vote(1, 0, -1.0, 1.0), vote(0, 1, 0.4, 1.0)];
        let s = Composer::signals(&votes, &[0.75, 0.25]);
        assert_eq!(s.len(), 2);
        assert!((s[0].1 - (0.75 * 0.5 - 0.25) / 1.0).abs() < 1e-12);
        assert!((s[1].1 - 0.4).abs() < 1e-12);
    }

    #[test]
    fn test_no_trade_band() {
        let mut c = Composer::new(ComposerConfig { band: 0.2, ..Default::default() }, vec!["a".into()], 2);
        assert_eq!(c.targets(&[vote(0, 0, 0.5, 1.0)], &[1.0]), vec![(0, 0.25)]);
        assert!(c.targets(&[vote(0, 0, 0.6, 1.0)], &[1.0]).is_empty(), "inside the band");
        assert_eq!(c.targets(&[vote(0, 0, 0.9, 1.0)], &[1.0]), vec![(0, 0.45)]);
        assert_eq!(c.targets(&[vote(0, 0, -0.1, 1.0)], &[1.0]), vec![(0, -0.05)], "a flip from a held position trades");
    }
}
