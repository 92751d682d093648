//! Markov: regimes as a Markov chain over discretised market states.
//!
//! Each bar is assigned one of six states: trend (the `trend_bars`-bar return in standard
//! deviations: below −`trend_z` down, above +`trend_z` up, else flat) × volatility (short
//! over long realised volatility below or at least 1: calm or volatile). The analyst keeps,
//! per symbol, an estimated transition matrix — counts `N[i][j]` of moves from state i to j,
//! each row decayed by `forget` per update so the chain adapts — and μᵢⱼ, the mean 1-bar
//! return of the bars that moved the chain from i to j (exponentially weighted with rate
//! `mean_alpha`, starting from 0). With a symmetric Dirichlet prior of total weight `prior`:
//!
//! ```text
//! P(j | i)          = (N[i][j] + prior/6) / (Σⱼ N[i][j] + prior)
//! E[rₜ₊₁ | sₜ = i]  = Σⱼ P(sₜ₊₁ = j | sₜ = i) · E[rₜ₊₁ | sₜ = i, sₜ₊₁ = j] ≈ Σⱼ P(j | i) · μᵢⱼ
//! vote              = tanh(scale · E[r] / σ),   confidence = (1 − H(P(·|sₜ)) / ln 6) · min(1, n/30)
//! ```
//!
//! The sum is the law of total probability over the next state: a one-step forecast, exact
//! up to estimation (without the prior it is the mean next-bar return seen after state i).
//! Two versions were wrong: μ as the mean return of the bar *after* state j made the sum
//! the return two bars ahead; μ as the mean return of the bars into j (whatever state they
//! came from) assumed E[rₜ₊₁ | i, j] = E[rₜ₊₁ | j], which fails here because the state is
//! read from the trailing return that includes rₜ₊₁ — entering an uptrend from a range
//! takes a larger up bar than staying in one — and it turned state persistence into a
//! momentum forecast.
//!
//! (an empirical alternative to Hamilton's 1989 regime-switching model; the estimated
//! transition matrix is what DESIGN.md allows). A change of the dominant regime that
//! persists `min_dwell` bars is written as a `regime` memory, and the decision recalls the
//! outcomes of earlier votes made in the new regime.

use serde::{Deserialize, Serialize};

use crate::agents::{Analyst, Core, PerSymbol, Perception, Profile, Proposal};
use crate::features::{Features, Window};
use crate::market::SymbolId;
use crate::memory::Kind;

/// `[params]` of a Markov profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Bars of the trend return that sets the down/flat/up bucket.
    pub trend_bars: usize,
    /// Trend z = return / (σ·√trend_bars) below −trend_z is down, above +trend_z up.
    pub trend_z: f64,
    /// Decay factor (≤ 1) applied to a state's transition-count row at each update from it.
    pub forget: f64,
    /// Total weight of the symmetric Dirichlet prior on each transition row.
    pub prior: f64,
    /// Vote = tanh(scale · `E[r]` / σ).
    pub scale: f64,
    /// EW weight of each new return in μᵢⱼ, the mean return of the bars from state i to j.
    pub mean_alpha: f64,
    /// Bars a new regime must hold before it is written as a `regime` memory.
    pub min_dwell: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { trend_bars: 10, trend_z: 0.5, forget: 0.995, prior: 1.0, scale: 3.0, mean_alpha: 0.02, min_dwell: 3 }
    }
}

const N: usize = 6;
/// The six states' names, by state index.
pub const REGIMES: [&str; N] =
    ["calm downtrend", "calm range", "calm uptrend", "volatile downtrend", "volatile range", "volatile uptrend"];
use REGIMES as NAMES;

/// The state of the bar whose close was just pushed to `closes` (a window of
/// `trend_bars + 1` closes), or None while the window or the long volatility warms up.
pub fn regime(closes: &Window, f: &Features, p: &Params) -> Option<usize> {
    if !closes.full() || f.sigma_long <= 0.0 {
        return None;
    }
    let trend = (f.bar.close / closes.back(p.trend_bars).unwrap_or(f.bar.close)).ln();
    let tz = trend / (f.sigma * (p.trend_bars as f64).sqrt());
    Some(state_of(tz, p.trend_z, f.sigma_short / f.sigma_long))
}

/// Every symbol's regime bar by bar, with the default parameters, for the run's breakdowns
/// (the same states the Markov analyst reads, whether or not it is in the roster).
#[derive(Debug, Clone)]
pub struct RegimeTracker {
    p: Params,
    closes: PerSymbol<Window>,
}

impl Default for RegimeTracker {
    fn default() -> Self {
        let p = Params::default();
        RegimeTracker { p, closes: PerSymbol::new(Window::new(p.trend_bars + 1)) }
    }
}

impl RegimeTracker {
    /// The state of a symbol's next bar (None while warming up).
    pub fn observe(&mut self, sym: SymbolId, f: &Features) -> Option<usize> {
        let w = self.closes.get(sym);
        w.push(f.bar.close);
        regime(w, f, &self.p)
    }
}

/// One symbol's chain.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Decayed transition counts `N[i][j]` from state i to state j.
    pub counts: [[f64; N]; N],
    /// μᵢⱼ: EW mean 1-bar log return of the bars that moved the chain from state i to j.
    pub mean_move: [[f64; N]; N],
    /// Decayed number of transitions out of each state.
    pub seen: [f64; N],
    prev: Option<usize>,
    closes: Window,
    regime: Option<usize>,
    candidate: Option<(usize, usize)>,
}

impl Chain {
    /// An empty chain whose trend reads `trend_bars` bars back.
    pub fn new(trend_bars: usize) -> Self {
        Chain {
            counts: [[0.0; N]; N],
            mean_move: [[0.0; N]; N],
            seen: [0.0; N],
            prev: None,
            closes: Window::new(trend_bars + 1),
            regime: None,
            candidate: None,
        }
    }

    /// Records that the bar with 1-bar return `ret1` put the chain in state `s`: the
    /// transition from the previous state (its row decayed by `forget`) and its mean return.
    pub fn observe(&mut self, s: usize, ret1: f64, p: &Params) {
        if let Some(prev) = self.prev {
            for x in self.counts[prev].iter_mut() {
                *x *= p.forget;
            }
            self.counts[prev][s] += 1.0;
            self.seen[prev] = self.seen[prev] * p.forget + 1.0;
            self.mean_move[prev][s] += p.mean_alpha * (ret1 - self.mean_move[prev][s]);
        }
        self.prev = Some(s);
    }

    /// The expected return of the next bar from state `s`, Σⱼ P(j | s) · μₛⱼ, and P(· | s).
    pub fn expected(&self, s: usize, prior: f64) -> (f64, [f64; N]) {
        let probs = self.transition(s, prior);
        (probs.iter().zip(&self.mean_move[s]).map(|(a, b)| a * b).sum(), probs)
    }

    /// P(· | i) under the Dirichlet prior (uniform for an empty row with no prior).
    pub fn transition(&self, i: usize, prior: f64) -> [f64; N] {
        let row = &self.counts[i];
        let total: f64 = row.iter().sum::<f64>() + prior;
        let mut out = [1.0 / N as f64; N];
        if total <= 0.0 {
            return out;
        }
        for j in 0..N {
            out[j] = (row[j] + prior / N as f64) / total;
        }
        out
    }
}

/// The state index of a bar: trend bucket + 3 × volatility bucket.
pub fn state_of(trend_z: f64, threshold: f64, vol_ratio: f64) -> usize {
    let t = if trend_z < -threshold {
        0
    } else if trend_z > threshold {
        2
    } else {
        1
    };
    t + if vol_ratio >= 1.0 { 3 } else { 0 }
}

/// The Markov analyst.
#[derive(Debug, Clone)]
pub struct Markov {
    core: Core,
    p: Params,
    chains: PerSymbol<Chain>,
}

impl Markov {
    /// From a profile.
    pub fn new(profile: &Profile, p: Params) -> Self {
        Markov { core: Core::new(profile), p, chains: PerSymbol::new(Chain::new(p.trend_bars.max(1))) }
    }

    /// The chain of a symbol (for tests).
    pub fn chain(&self, sym: SymbolId) -> Option<&Chain> {
        self.chains.peek(sym)
    }
}

impl Analyst for Markov {
    fn core(&self) -> &Core {
        &self.core
    }

    fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
        let p = self.p;
        let f = pc.features;
        let c = self.chains.get(pc.sym);
        c.closes.push(f.bar.close);
        let Some(s) = regime(&c.closes, f, &p) else {
            return Proposal::neutral("markov: warming up");
        };
        c.observe(s, f.ret1, &p);
        let (expected, probs) = c.expected(s, p.prior);
        let entropy: f64 = -probs.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>();
        let n_row: f64 = c.counts[s].iter().sum();
        let confidence = ((1.0 - entropy / (N as f64).ln()) * (n_row / 30.0).min(1.0)).clamp(0.0, 1.0);
        let direction = (p.scale * expected / f.sigma).tanh();
        let rationale = format!("regime {}, expected next return {:+.4}%", NAMES[s], expected * 100.0);

        // A regime change that held `min_dwell` bars.
        let mut writes = Vec::new();
        let mut recall = None;
        match c.candidate {
            Some((cand, n)) if cand == s => {
                c.candidate = Some((cand, n + 1));
                if n + 1 >= p.min_dwell && c.regime != Some(s) {
                    let from = c.regime.map_or("none", |r| NAMES[r]);
                    let text = format!(
                        "regime change {} from {from} to {}: expected next return {:+.4}%, persistence {:.2}",
                        pc.symbol,
                        NAMES[s],
                        expected * 100.0,
                        probs[s]
                    );
                    writes.push(self.core.memory(pc, Kind::Regime, text, 55.0));
                    recall = Some(self.core.recall_outcomes(format!("regime {} {}", NAMES[s], pc.symbol)));
                    c.regime = Some(s);
                }
            }
            _ => c.candidate = Some((s, 1)),
        }
        Proposal { direction, confidence, rationale, writes, recall }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_state_buckets() {
        assert_eq!(state_of(-1.0, 0.5, 0.8), 0);
        assert_eq!(state_of(0.0, 0.5, 0.8), 1);
        assert_eq!(state_of(2.0, 0.5, 0.8), 2);
        assert_eq!(state_of(2.0, 0.5, 1.3), 5);
        assert_eq!(state_of(-2.0, 0.5, 1.0), 3);
    }

    #[test]
    fn test_transition_prior_and_counts() {
        let mut c = Chain::new(10);
        assert!(c.transition(0, 1.0).iter().all(|&x| (x - 1.0 / 6.0).abs() < 1e-12));
        c.counts[0][2] = 3.0;
        let p = c.transition(0, 1.0);
        assert!((p[2] - (3.0 + 1.0 / 6.0) / 4.0).abs() < 1e-12);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn test_expected_return_is_one_step_on_a_hand_computed_chain() {
        // The chain alternates calm down (0) → calm up (2) → calm down → …; every bar into
        // state 2 rises 1%, every bar into state 0 falls 1%. From state 0 the next bar goes
        // to 2 for certain (prior 0, no forgetting), so the next return is +1% — not the
        // −1% of the bar after that. Ten moves 0 → 2 and nine 2 → 0, α = 0.5 from 0:
        // μ₀₂ = 0.01 · (1 − 2⁻¹⁰), μ₂₀ = −0.01 · (1 − 2⁻⁹).
        let p = Params { forget: 1.0, prior: 0.0, mean_alpha: 0.5, ..Params::default() };
        let mut c = Chain::new(10);
        for k in 0..20 {
            let (s, r) = if k % 2 == 0 { (0, -0.01) } else { (2, 0.01) };
            c.observe(s, r, &p);
        }
        let (from_down, probs) = c.expected(0, p.prior);
        assert_eq!(probs[2], 1.0);
        let mu = 0.01 * (1.0 - 0.5f64.powi(10));
        assert!((from_down - mu).abs() < 1e-12, "E[r | calm down] = {from_down}");
        let (from_up, _) = c.expected(2, p.prior);
        assert!((from_up + 0.01 * (1.0 - 0.5f64.powi(9))).abs() < 1e-12, "E[r | calm up] = {from_up}");
        // A mixed row, by hand: from state 1, two moves to 2 (+1% each: μ₁₂ = 0.005, then
        // 0.0075) and two to 4 (+0.3% then −0.6%: μ₁₄ = 0.0015, then 0.0015 + 0.5 · (−0.006 −
        // 0.0015) = −0.00225); P(2 | 1) = P(4 | 1) = 1/2.
        let mut c = Chain::new(10);
        for (s, r) in [(1, 0.0), (2, 0.01), (1, 0.0), (4, 0.003), (1, 0.0), (2, 0.01), (1, 0.0), (4, -0.006)] {
            c.observe(s, r, &p);
        }
        let (e, probs) = c.expected(1, p.prior);
        assert_eq!((probs[2], probs[4]), (0.5, 0.5));
        assert!((e - (0.5 * 0.0075 + 0.5 * -0.00225)).abs() < 1e-12, "E[r | calm range] = {e}");
    }
}
