//! The composer: weighs the analysts by their remembered evidence and turns their votes
//! into one target per symbol.
//!
//! **Weights** (mode `composed`) move away from equal weights only on evidence. From the
//! memory's outcome-discounted evidence of analyst a (wins W, losses L, mean outcome m;
//! half-life `memory.outcome_half_life_outcomes`, see `memory::aggregates`):
//!
//! ```text
//! p_a   = (α + W) / (α + β + W + L)                 Beta posterior mean win rate
//! sd_a  = sqrt(p_a (1 − p_a) / (α + β + W + L + 1))  its posterior standard deviation
//! z_a   = (p_a − ½) / sd_a
//! k_a   = max(0, 1 − (z* / z_a)²)                   positive-part James–Stein shrinkage
//! e_a   = k_a · (2 p_a − 1)                          shrunk edge over a coin
//! raw_a = max(floor, 1 + gain · e_a)
//! w_a   = raw_a / Σ raw,  then capped at `cap` and renormalised
//! ```
//!
//! Until an analyst's win rate is `z*` (`evidence_z`, default 2) posterior standard
//! deviations from ½ its edge is exactly 0 and every such analyst weighs the same; past
//! that, the edge fades in. `k` is the positive-part James–Stein factor applied to one
//! analyst at a time (a per-analyst z-threshold shrinkage toward ½, after the form of
//! James & Stein 1961 and Efron & Morris 1975; not their joint estimator across analysts). With `gain` 10, a credible 5-point edge (p = 0.55, k ≈ 1) weighs 2× a coin. The
//! floor keeps a losing analyst in the vote so its weight can recover; the cap keeps one
//! streak from taking over. Mode `equal` trades with w_a = 1/n but still computes and logs
//! the evidence weights above, so `weights.parquet` always shows what the memory says.
//!
//! **Signal** per symbol, over the analysts that voted a direction (a vote of 0 abstains: it
//! neither pushes the signal nor dilutes it, so an analyst with nothing to say changes
//! nothing — in Shapley terms it is a null player):
//!
//! ```text
//! s = Σ w_a · direction_a · confidence_a / Σ w_a          in [-1, 1]   (a: direction_a ≠ 0)
//! target weight = s / n_symbols                            (s = 0 when every analyst abstains)
//! ```
//!
//! **No-trade band:** a new target is emitted only when |s − s_held| ≥ `band` (or the sign
//! flips, or s returns to 0 from |s_held| ≥ band), so small wiggles do not churn the book.
//!
//! **Cost gate** (`cost_aware`): a target that adds exposure (a larger |weight|, or a flip)
//! is emitted only if its expected gain covers the round trip it starts:
//!
//! ```text
//! ḡ    = Σ w_a · m_a / Σ w_a               over the analysts that voted a direction on it:
//!                                          their remembered mean outcome per unit position
//! gain = |Δ| · max(ḡ, 0)                    Δ: notional added (equity × weight change)
//! cost = 2 · (commission(Δ / P) + slippage_bps · 1e-4 · |Δ|)      P: the price as traded
//! ```
//!
//! (Grinold & Kahn 2000, ch. 16: trade when the alpha of the trade beats its cost.) The
//! commission is on the shares as traded (the split factor of `PortfolioView::as_traded`),
//! so a split later in the data cannot change what is traded before it. Market impact is
//! left out of the gate's cost (it needs the next bar's participation); the fills pay it.
//! Targets that only reduce exposure always pass: cutting risk is not a bet. A target the
//! gate stops leaves the held signal unchanged, so the band is measured from what is held.

pub(crate) mod actor;

use serde::{Deserialize, Serialize};

use crate::agents::Vote;
use crate::error::InvalidValue;
use crate::market::{SymbolId, Ts};
use crate::memory::Snapshot;
use crate::portfolio::CostConfig;

/// How votes are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposerMode {
    /// By remembered evidence (shrunk Beta-posterior edge with floor and cap).
    #[default]
    Composed,
    /// Every analyst weighs the same (the evidence weights are still logged).
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
    /// z*: posterior standard deviations from ½ before an edge counts at all.
    pub evidence_z: f64,
    /// Raw weight per unit of shrunk edge: raw = max(floor, 1 + gain · edge).
    pub gain: f64,
    /// No-trade band on the composed signal.
    pub band: f64,
    /// Add exposure only when the remembered mean outcome covers the round-trip cost.
    pub cost_aware: bool,
}

impl Default for ComposerConfig {
    fn default() -> Self {
        ComposerConfig {
            mode: ComposerMode::Composed,
            prior_wins: 2.0,
            prior_losses: 2.0,
            floor: 0.05,
            cap: 0.6,
            evidence_z: 2.0,
            gain: 10.0,
            band: 0.15,
            cost_aware: true,
        }
    }
}

impl ComposerConfig {
    /// The weights a composer with this config trades with, from the evidence weights of a
    /// step: those weights, or 1/n in mode `equal`.
    pub fn trading_weights(&self, weights: &[AgentWeight]) -> Vec<f64> {
        match self.mode {
            ComposerMode::Composed => weights.iter().map(|x| x.weight).collect(),
            ComposerMode::Equal => vec![1.0 / weights.len().max(1) as f64; weights.len()],
        }
    }

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
        if !(self.evidence_z >= 0.0 && self.evidence_z.is_finite()) {
            return bad("evidence_z", self.evidence_z, "must be >= 0");
        }
        if !(self.gain >= 0.0 && self.gain.is_finite()) {
            return bad("gain", self.gain, "must be >= 0");
        }
        if !(0.0..1.0).contains(&self.band) {
            return bad("band", self.band, "must be in [0, 1)");
        }
        Ok(())
    }
}

/// One analyst's evidence weight at one step, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentWeight {
    /// Index of the analyst in the run's roster.
    pub agent: usize,
    /// Normalised evidence weight in [0, 1]; the analysts' weights at a step sum to 1.
    pub weight: f64,
    /// Posterior mean win rate p.
    pub win_rate: f64,
    /// Discounted count of winning outcomes (half-life `memory.outcome_half_life_outcomes`).
    pub wins: f64,
    /// Discounted count of losing outcomes.
    pub losses: f64,
    /// Shrunk edge e = k · (2p − 1) (0 until the win rate is credibly off ½).
    pub edge: f64,
    /// Discounted mean outcome m (log return in the vote's direction over its horizon).
    pub mean_outcome: f64,
}

/// Positive-part James–Stein shrinkage factor of a win rate `p` whose posterior rests on
/// `n` pseudo-observations (α + β + W + L): `max(0, 1 − (z*/z)²)`, z = (p − ½)/sd.
pub fn shrinkage(p: f64, n: f64, z_star: f64) -> f64 {
    let sd = (p * (1.0 - p) / (n + 1.0)).sqrt();
    if sd <= 0.0 || !sd.is_finite() {
        return 0.0;
    }
    let z = (p - 0.5) / sd;
    if z == 0.0 { 0.0 } else { (1.0 - (z_star / z).powi(2)).max(0.0) }
}

/// What the cost gate needs to know about the book at the decision.
#[derive(Debug, Clone, Copy)]
pub struct Book<'a> {
    /// Equity at the decision (marked at the close).
    pub equity: f64,
    /// Position per symbol (adjusted units).
    pub positions: &'a [f64],
    /// Mark per symbol (adjusted close).
    pub prices: &'a [f64],
    /// Split factor per symbol: the price as traded is `prices × as_traded`.
    pub as_traded: &'a [f64],
    /// The cost model the fills will pay.
    pub costs: &'a CostConfig,
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

    /// Evidence weights as of `t` from the memory snapshot's aggregates (the module docs'
    /// formula, whatever the mode).
    pub fn weights(&self, snap: &Snapshot, t: Ts) -> Vec<AgentWeight> {
        let c = &self.cfg;
        let mut out: Vec<AgentWeight> = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let e = snap.agent_stats(a, None, t).evidence;
                let p = e.win_rate(c.prior_wins, c.prior_losses);
                let n = c.prior_wins + c.prior_losses + e.wins + e.losses;
                let edge = shrinkage(p, n, c.evidence_z) * (2.0 * p - 1.0);
                AgentWeight {
                    agent: i,
                    weight: (1.0 + c.gain * edge).max(c.floor),
                    win_rate: p,
                    wins: e.wins,
                    losses: e.losses,
                    edge,
                    mean_outcome: e.mean_return(),
                }
            })
            .collect();
        let mut w: Vec<f64> = out.iter().map(|x| x.weight).collect();
        cap_weights(&mut w, c.cap);
        for (o, x) in out.iter_mut().zip(w) {
            o.weight = x;
        }
        out
    }

    /// The weights the composer trades with: the evidence weights, or 1/n in mode `equal`.
    pub fn trading_weights(&self, weights: &[AgentWeight]) -> Vec<f64> {
        self.cfg.trading_weights(weights)
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
            if v.direction != 0.0 {
                acc[slot].1 += w * v.direction * v.confidence;
                acc[slot].2 += w;
            }
        }
        acc.into_iter().map(|(s, num, den)| (s, if den > 0.0 { (num / den).clamp(-1.0, 1.0) } else { 0.0 })).collect()
    }

    /// Targets (symbol, weight of equity) that passed the no-trade band and, with a book
    /// and `cost_aware`, the cost gate. `outcomes[a]` is analyst a's remembered mean outcome.
    pub fn targets(
        &mut self,
        votes: &[Vote],
        weights: &[f64],
        outcomes: &[f64],
        book: Option<&Book<'_>>,
    ) -> Vec<(SymbolId, f64)> {
        use crate::num::sign;
        let band = self.cfg.band;
        let mut out = Vec::new();
        for (s, sig) in Self::signals(votes, weights) {
            let held = self.held[s as usize];
            let flip = sign(sig) != sign(held) && (sig.abs() >= band || held.abs() >= band);
            if !((sig - held).abs() >= band || flip) {
                continue;
            }
            let target = sig / self.n_symbols.max(1) as f64;
            if let Some(b) = book.filter(|_| self.cfg.cost_aware) {
                let (mut num, mut den) = (0.0, 0.0);
                for v in votes.iter().filter(|v| v.symbol == s && v.direction != 0.0) {
                    let w = weights.get(v.agent).copied().unwrap_or(0.0);
                    num += w * outcomes.get(v.agent).copied().unwrap_or(0.0);
                    den += w;
                }
                let edge = if den > 0.0 { num / den } else { 0.0 };
                if !b.worth_it(s as usize, target, edge) {
                    continue;
                }
            }
            self.held[s as usize] = sig;
            out.push((s, target));
        }
        out
    }
}

impl Book<'_> {
    /// The cost gate of the module docs for moving symbol `s` to weight `target`.
    fn worth_it(&self, s: usize, target: f64, edge: f64) -> bool {
        let price = self.prices.get(s).copied().unwrap_or(f64::NAN);
        if !(price.is_finite() && price > 0.0 && self.equity > 0.0) {
            return true;
        }
        let current = self.positions.get(s).copied().unwrap_or(0.0) * price / self.equity;
        let adds = target.abs() > current.abs() || crate::num::sign(target) * crate::num::sign(current) < 0.0;
        if !adds {
            return true;
        }
        let delta = (target - current).abs() * self.equity;
        let gain = delta * edge.max(0.0);
        let f = self.as_traded.get(s).copied().filter(|f| f.is_finite() && *f > 0.0).unwrap_or(1.0);
        let traded = price * f;
        let cost = 2.0 * (self.costs.commission(delta / traded, traded) + self.costs.slippage_bps * 1e-4 * delta);
        gain >= cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(agent: usize, symbol: u32, d: f64, c: f64) -> Vote {
        Vote::new(0, symbol, agent, d, c)
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
        let mut t = |v: Vote| c.targets(&[v], &[1.0], &[0.0], None);
        assert_eq!(t(vote(0, 0, 0.5, 1.0)), vec![(0, 0.25)]);
        assert!(t(vote(0, 0, 0.6, 1.0)).is_empty(), "inside the band");
        assert_eq!(t(vote(0, 0, 0.9, 1.0)), vec![(0, 0.45)]);
        assert_eq!(t(vote(0, 0, -0.1, 1.0)), vec![(0, -0.05)], "a flip from a held position trades");
        assert!(t(vote(0, 0, 0.0, 1.0)).is_empty(), "0 is no direction: |0 - (-0.1)| < band, no flip");
    }

    #[test]
    fn test_shrinkage_hand_computed() {
        // p = 0.6 on n = 100: sd = sqrt(0.24 / 101) = 0.048745, z = 2.0515; k = 1 − (2/z)².
        let k = shrinkage(0.6, 100.0, 2.0);
        let z = 0.1 / (0.24f64 / 101.0).sqrt();
        assert!((k - (1.0 - (2.0 / z).powi(2))).abs() < 1e-12 && k > 0.0 && k < 0.1, "{k}");
        assert_eq!(shrinkage(0.55, 20.0, 2.0), 0.0, "not credible: no edge");
        assert_eq!(shrinkage(0.5, 1e6, 2.0), 0.0);
        assert!(shrinkage(0.3, 1e4, 2.0) > 0.99, "a credible loser keeps its (negative) edge");
    }

    /// Without evidence every analyst weighs the same; a credible winner weighs more; a
    /// small-sample streak (the old weights' noise) does not move the weights.
    #[test]
    fn test_weights_move_only_on_evidence() {
        use crate::memory::{Kind, MemoryParams, MemoryStore, NewItem};
        let store = MemoryStore::new(MemoryParams::default()).unwrap();
        // "streak": 4 wins of 4. "steady": 600 wins in 1,000 (p ≈ 0.6 on ~290 effective
        // outcomes with the default half-life of 200: z ≈ 3.4).
        let mut k = 0;
        let mut put = |agent: &str, ret: f64| {
            k += 1;
            let item = NewItem::new(k, agent, "X", Kind::Outcome, format!("{agent} {k}")).with_outcome(ret);
            store.insert(item).unwrap();
        };
        for _ in 0..4 {
            put("streak", 0.01);
        }
        for i in 0..1000 {
            put("steady", if i % 10 < 6 { 0.01 } else { -0.01 });
        }
        store.publish(k + 1).unwrap();
        let c = Composer::new(
            ComposerConfig { cap: 1.0, ..Default::default() },
            vec!["none".into(), "streak".into(), "steady".into()],
            1,
        );
        let w = c.weights(&store.snapshot(), k + 1);
        assert_eq!(w[0].edge, 0.0);
        assert_eq!(w[1].edge, 0.0, "4 of 4 is not credible: {:?}", w[1]);
        assert!(w[2].edge > 0.0, "{:?}", w[2]);
        assert_eq!(w[0].weight, w[1].weight);
        assert!(w[2].weight > w[0].weight);
        let raw = [1.0, 1.0, 1.0 + 10.0 * w[2].edge];
        assert!((w[2].weight - raw[2] / raw.iter().sum::<f64>()).abs() < 1e-12);
        let equal = Composer::new(ComposerConfig { mode: ComposerMode::Equal, ..c.cfg }, c.agents.clone(), 1);
        assert_eq!(equal.weights(&store.snapshot(), k + 1), w, "equal mode logs the same evidence weights");
        assert_eq!(equal.trading_weights(&w), vec![1.0 / 3.0; 3]);
    }

    #[test]
    fn test_cost_gate_adds_exposure_only_when_the_edge_pays() {
        let costs = CostConfig::default();
        let mut c = Composer::new(ComposerConfig { band: 0.1, ..Default::default() }, vec!["a".into()], 1);
        let flat = [0.0];
        let book = Book { equity: 100_000.0, positions: &flat, prices: &[100.0], as_traded: &[1.0], costs: &costs };
        // Target 0.5 of 100k at $100: 500 shares, commission 2.5, slippage 1bp of 50k = 5;
        // round trip 15. Edge 2bp gains 10 < 15: no trade; edge 4bp gains 20: trade.
        assert!(c.targets(&[vote(0, 0, 0.5, 1.0)], &[1.0], &[0.0002], Some(&book)).is_empty());
        assert_eq!(c.targets(&[vote(0, 0, 0.5, 1.0)], &[1.0], &[0.0004], Some(&book)), vec![(0, 0.5)]);
        // Holding 500 shares, going flat reduces exposure: always allowed, even with no edge.
        let held = [500.0];
        let book = Book { positions: &held, ..book };
        assert_eq!(c.targets(&[vote(0, 0, 0.0, 1.0)], &[1.0], &[-0.01], Some(&book)), vec![(0, 0.0)]);
    }

    /// The gate prices commission on shares as traded: the same bars back-adjusted for a
    /// later 7:1 split (prices / 7, factor 7) give the same decision.
    #[test]
    fn test_cost_gate_is_invariant_to_a_later_split() {
        // $1 per-share commission so it dominates: 50k at $100 is 500 shares, $500 one way.
        let costs = CostConfig { commission_per_share: 1.0, slippage_bps: 0.0, ..Default::default() };
        let flat = [0.0];
        let raw = Book { equity: 100_000.0, positions: &flat, prices: &[100.0], as_traded: &[1.0], costs: &costs };
        let adjusted = Book { prices: &[100.0 / 7.0], as_traded: &[7.0], ..raw };
        for edge in [0.015, 0.025] {
            // Round trip 1,000 on 50k: pays from an edge of 2%.
            assert_eq!(raw.worth_it(0, 0.5, edge), edge >= 0.02);
            assert_eq!(adjusted.worth_it(0, 0.5, edge), raw.worth_it(0, 0.5, edge), "edge {edge}");
        }
    }

    /// The edge is the voting analysts' own: an analyst that did not vote on the symbol does
    /// not lend it its remembered outcomes.
    #[test]
    fn test_cost_gate_edge_counts_only_the_analysts_that_voted() {
        let costs = CostConfig::default();
        let flat = [0.0, 0.0];
        let book = Book {
            equity: 100_000.0,
            positions: &flat,
            prices: &[100.0, 100.0],
            as_traded: &[1.0, 1.0],
            costs: &costs,
        };
        let mut c = Composer::new(ComposerConfig { band: 0.1, ..Default::default() }, vec!["a".into(), "b".into()], 2);
        // b (edge 1%) votes on symbol 1 only; a (no edge) votes on symbol 0.
        let votes = [vote(0, 0, 1.0, 1.0), vote(1, 1, 1.0, 1.0)];
        let t = c.targets(&votes, &[0.5, 0.5], &[0.0, 0.01], Some(&book));
        assert_eq!(t, vec![(1, 0.5)]);
    }

    /// A vote of 0 abstains: adding an analyst that votes 0 at any weight leaves every
    /// signal unchanged (a null player), while a symbol everyone abstains on signals 0.
    #[test]
    fn test_zero_votes_abstain_and_do_not_dilute() {
        let two = [vote(0, 0, 0.6, 1.0), vote(1, 0, -0.2, 0.5)];
        let three = [vote(0, 0, 0.6, 1.0), vote(1, 0, -0.2, 0.5), vote(2, 0, 0.0, 0.9)];
        let w = [0.3, 0.3, 0.4];
        assert_eq!(Composer::signals(&two, &w), Composer::signals(&three, &w));
        let s = Composer::signals(&two, &w)[0].1;
        assert!((s - (0.3 * 0.6 - 0.3 * 0.1) / 0.6).abs() < 1e-12, "{s}");
        assert_eq!(Composer::signals(&[vote(0, 1, 0.0, 1.0)], &w), vec![(1, 0.0)]);
    }
}
