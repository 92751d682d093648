//! Liquidity: is the market deep or thin right now, and does that make a move trustworthy?
//!
//! Measures, per symbol, over `window` bars:
//! - **Amihud illiquidity** (Amihud, "Illiquidity and stock returns: cross-section and
//!   time-series effects", 2002): ILLIQₜ = |rₜ| / (closeₜ × volumeₜ), the price move per
//!   dollar traded. Amihud's measure is the *mean* of this ratio over all periods, so a bar
//!   with r = 0 counts, contributing 0 (48% of BAC's minute bars in the shipped data are
//!   unchanged; dropping them, as an earlier version did, overstated illiquidity). The vote
//!   reads `amihud_z`: ILLIQₜ minus the mean of the previous `window` ratios, over their
//!   stdev (zeros included). A bar with no dollar volume has no ratio and is skipped.
//! - **Kyle's lambda** (Kyle, "Continuous auctions and insider trading", 1985): the slope
//!   of a rolling OLS regression of the price change Δp = closeₜ − closeₜ₋₁ on signed volume
//!   q, λ = Cov(Δp, q) / Var(q); z-score of λ against its own history. q = sign · volume
//!   with the sign by the tick rule (Lee & Ready, "Inferring trade direction from intraday
//!   data", 1991) applied to bars, [`crate::features::signed_volume`]: sign(close − open),
//!   and when that is 0, sign(close − previous close); when both are 0 the bar's signed
//!   volume is 0. (Lee & Ready's "zero tick" carries the last non-zero direction forward;
//!   a bar that went nowhere is given no direction here instead.) An earlier version took
//!   `signum(0) = +1` and counted the 46.8% of BAC's bars with close = open as buys.
//! - **Corwin–Schultz spread** (Corwin & Schultz, "A Simple Way to Estimate Bid-Ask
//!   Spreads from Daily High and Low Prices", 2012), from two consecutive bars:
//!   β = ln²(H₁/L₁) + ln²(H₂/L₂), γ = ln²(max(H)/min(L)),
//!   α = (√(2β) − √β)/(3 − 2√2) − √(γ/(3 − 2√2)), S = 2(eᵅ − 1)/(1 + eᵅ), floored at 0.
//! - **Relative volume**: the bar's volume over the mean volume of the previous `window`
//!   bars (1 with no history) — the profile's window, not the feature bank's fixed 30.
//!
//! Vote: when the last `move_bars` bars moved at least `move_sigma` standard deviations, a
//! move on thin liquidity (relative volume below `thin_rel_volume`, or Amihud, λ or spread
//! z above `thin_z`) is voted against (expect it to fade); a move on deep liquidity
//! (relative volume above `deep_rel_volume`) is voted with. Both write
//! an observation and recall how earlier thin/deep moves resolved; a zero move is no
//! direction and gets no vote ([`crate::num::sign`]). (Thin is tested first;
//! "deep" also needs Amihud and spread z below `thin_z`.)

use serde::{Deserialize, Serialize};

use crate::agents::{Analyst, Core, PerSymbol, Perception, Profile, Proposal};
use crate::features::{Window, signed_volume};
use crate::memory::Kind;

/// `[params]` of a Liquidity profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Bars of the Amihud, Kyle-λ, spread and relative-volume windows (at least 5); λ's z
    /// uses 4× as many.
    pub window: usize,
    /// Bars a move is measured over: ln(close / close `move_bars` bars ago).
    pub move_bars: usize,
    /// Smallest |move| that gets a vote, in σ·√move_bars (σ: 30-bar stdev of returns).
    pub move_sigma: f64,
    /// Relative volume below this marks the move as thin (voted against).
    pub thin_rel_volume: f64,
    /// Amihud, λ or spread z above this marks thin; deep needs Amihud and spread z below.
    pub thin_z: f64,
    /// Relative volume above this marks the move as deep (voted with).
    pub deep_rel_volume: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { window: 30, move_bars: 3, move_sigma: 1.5, thin_rel_volume: 0.7, thin_z: 1.5, deep_rel_volume: 1.5 }
    }
}

/// Rolling OLS of y on x.
#[derive(Debug, Clone)]
struct Regression {
    x: Window,
    y: Window,
    xy: Window,
}

impl Regression {
    fn new(n: usize) -> Self {
        Regression { x: Window::new(n), y: Window::new(n), xy: Window::new(n) }
    }

    fn push(&mut self, x: f64, y: f64) {
        self.x.push(x);
        self.y.push(y);
        self.xy.push(x * y);
    }

    /// Slope Cov(x, y) / Var(x), 0 when undefined.
    fn slope(&self) -> f64 {
        let var = self.x.std().powi(2);
        if var > 0.0 { (self.xy.mean() - self.x.mean() * self.y.mean()) / var } else { 0.0 }
    }
}

/// Corwin–Schultz spread from two consecutive bars' highs and lows.
pub fn corwin_schultz(h1: f64, l1: f64, h2: f64, l2: f64) -> f64 {
    if !(l1 > 0.0 && l2 > 0.0 && h1 >= l1 && h2 >= l2) {
        return 0.0;
    }
    let k = 3.0 - 2.0 * 2f64.sqrt();
    let beta = (h1 / l1).ln().powi(2) + (h2 / l2).ln().powi(2);
    let gamma = (h1.max(h2) / l1.min(l2)).ln().powi(2);
    let alpha = ((2.0 * beta).sqrt() - beta.sqrt()) / k - (gamma / k).sqrt();
    let s = 2.0 * (alpha.exp() - 1.0) / (1.0 + alpha.exp());
    s.max(0.0)
}

fn z(w: &Window, x: f64) -> f64 {
    let sd = w.std();
    if w.len() >= 5 && sd > 0.0 { (x - w.mean()) / sd } else { 0.0 }
}

#[derive(Debug, Clone)]
struct State {
    amihud: Window,
    kyle: Regression,
    lambdas: Window,
    spreads: Window,
    closes: Window,
    volumes: Window,
    prev: Option<(f64, f64, f64)>,
}

/// The Liquidity analyst.
#[derive(Debug, Clone)]
pub struct Liquidity {
    core: Core,
    p: Params,
    states: PerSymbol<State>,
}

/// Liquidity readings of the last bar (for tests and reports).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Readings {
    /// z of |r₁| / dollar volume against the previous `window` bars' ratios, zero returns
    /// included (0 until 5 values).
    pub amihud_z: f64,
    /// Kyle's λ: OLS slope of Δclose on signed volume over `window` bars (price per share).
    pub lambda: f64,
    /// z of λ against its previous 4·`window` values (0 until 5 values).
    pub lambda_z: f64,
    /// Corwin–Schultz spread of this and the previous bar, a fraction of price (≥ 0).
    pub spread: f64,
    /// z of the spread against the previous `window` bars (0 until 5 values).
    pub spread_z: f64,
    /// Bar volume / mean volume of the previous `window` bars (1 with no history).
    pub rel_volume: f64,
}

impl Liquidity {
    /// From a profile.
    pub fn new(profile: &Profile, p: Params) -> Self {
        let n = p.window.max(5);
        let m = p.move_bars.max(1);
        let init = State {
            amihud: Window::new(n),
            kyle: Regression::new(n),
            lambdas: Window::new(4 * n),
            spreads: Window::new(n),
            closes: Window::new(m + 1),
            volumes: Window::new(n),
            prev: None,
        };
        Liquidity { core: Core::new(profile), p, states: PerSymbol::new(init) }
    }

    fn update(&mut self, pc: &Perception<'_>) -> (Readings, Option<f64>) {
        let m = self.p.move_bars.max(1);
        let f = pc.features;
        let b = f.bar;
        let st = self.states.get(pc.sym);
        let mean_volume = st.volumes.mean();
        let rel_volume = if mean_volume > 0.0 { b.volume / mean_volume } else { 1.0 };
        st.volumes.push(b.volume);
        let mut r = Readings { rel_volume, ..Default::default() };
        if let Some((ph, pl, pclose)) = st.prev {
            let dollar = b.close * b.volume;
            if dollar > 0.0 {
                let a = f.ret1.abs() / dollar;
                r.amihud_z = z(&st.amihud, a);
                st.amihud.push(a);
            }
            let q = signed_volume(b.open, b.close, pclose, b.volume);
            st.kyle.push(q, b.close - pclose);
            r.lambda = st.kyle.slope();
            r.lambda_z = z(&st.lambdas, r.lambda);
            st.lambdas.push(r.lambda);
            r.spread = corwin_schultz(ph, pl, b.high, b.low);
            r.spread_z = z(&st.spreads, r.spread);
            st.spreads.push(r.spread);
        }
        st.prev = Some((b.high, b.low, b.close));
        st.closes.push(b.close);
        let mv =
            if st.closes.full() { st.closes.back(0).zip(st.closes.back(m)).map(|(a, b)| (a / b).ln()) } else { None };
        (r, mv)
    }
}

impl Analyst for Liquidity {
    fn core(&self) -> &Core {
        &self.core
    }

    fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
        let (r, mv) = self.update(pc);
        let Some(mv) = mv else { return Proposal::neutral("liquidity: warming up") };
        let p = self.p;
        let f = pc.features;
        let zmove = mv / (f.sigma * (p.move_bars as f64).sqrt());
        let dir = crate::num::sign(mv);
        if zmove.abs() < p.move_sigma || dir == 0.0 {
            return Proposal::neutral("no significant move");
        }
        let up = if mv > 0.0 { "up" } else { "down" };
        let strength = (0.25 + 0.15 * (zmove.abs() - p.move_sigma)).min(0.8);
        let thin =
            r.rel_volume < p.thin_rel_volume || r.amihud_z > p.thin_z || r.lambda_z > p.thin_z || r.spread_z > p.thin_z;
        let deep = r.rel_volume > p.deep_rel_volume && r.amihud_z < p.thin_z && r.spread_z < p.thin_z;
        let facts = format!(
            "rel volume {:.2}, amihud z {:+.1}, kyle lambda z {:+.1}, spread {:.1} bp",
            r.rel_volume,
            r.amihud_z,
            r.lambda_z,
            r.spread * 1e4
        );
        if thin {
            let text = format!("illiquid spike {up} {}: {zmove:+.1} sigma move on thin liquidity, {facts}", pc.symbol);
            return Proposal {
                direction: -dir * strength,
                confidence: strength,
                rationale: format!("illiquid spike {up}, expect fade"),
                writes: vec![self.core.memory(pc, Kind::Observation, text, 55.0)],
                recall: Some(self.core.recall_outcomes(format!("illiquid spike {up} fade {}", pc.symbol))),
            };
        }
        if deep {
            let text = format!("deep liquidity move {up} {}: {zmove:+.1} sigma on heavy volume, {facts}", pc.symbol);
            return Proposal {
                direction: dir * strength,
                confidence: strength,
                rationale: format!("deep liquidity move {up}, follow"),
                writes: vec![self.core.memory(pc, Kind::Observation, text, 55.0)],
                recall: Some(self.core.recall_outcomes(format!("deep liquidity move {up} follow {}", pc.symbol))),
            };
        }
        Proposal::neutral("move on ordinary liquidity")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::agents::Extras;
    use crate::features::FeatureBank;
    use crate::market::Bar;
    use crate::market::time::NS_PER_MIN;

    /// The readings after each of `bars` (open, close, volume; high/low 0.1 around them).
    fn readings(params: &str, bars: &[(f64, f64, f64)]) -> Vec<Readings> {
        let text = format!("name = \"liquidity\"\nkind = \"liquidity\"\nhorizon = 5\n[params]\n{params}\n");
        let registry = crate::Registry::default();
        let profile = crate::agents::parse_profile(std::path::Path::new("t.toml"), &text, &registry).unwrap();
        let mut a = Liquidity::new(&profile, profile.params().unwrap());
        let mut fb = FeatureBank::new();
        let t0 = 1_381_152_600_000_000_000;
        bars.iter()
            .enumerate()
            .map(|(k, &(open, close, volume))| {
                let (high, low) = (open.max(close) + 0.1, open.min(close) - 0.1);
                let bar = Bar { ts: t0 + k as i64 * NS_PER_MIN, symbol: 0, open, high, low, close, volume };
                let f = fb.update(&bar);
                let pc = Perception { symbol: "BAC", sym: 0, features: &f, extras: Extras::default(), news: &[] };
                a.update(&pc).0
            })
            .collect()
    }

    #[test]
    fn test_kyle_lambda_signs_unchanged_bars_by_the_tick_rule() {
        // Every bar opens at its close (close − open = 0): the direction is the change from
        // the previous close, ±1 on ±1000 shares, so λ = 1/1000 exactly.
        let bars: Vec<_> =
            (0..40).map(|k| if k % 2 == 0 { (100.0, 100.0, 1000.0) } else { (101.0, 101.0, 1000.0) }).collect();
        let r = readings("window = 10", &bars);
        let lambda = r.last().unwrap().lambda;
        assert!((lambda - 1e-3).abs() < 1e-12, "λ = {lambda}");
    }

    #[test]
    fn test_amihud_keeps_zero_return_bars() {
        // Returns alternate 0 and ±ln(1.01) at a constant dollar volume: the window holds
        // 15 zeros and 15 ratios x, mean x/2 and stdev x/2, so a new x has z = 1.
        let mut bars = Vec::new();
        for k in 0..61 {
            let c = if (k / 2) % 2 == 0 { 100.0 } else { 101.0 };
            bars.push((c, c, 101_000.0 / c));
        }
        let r = readings("window = 30", &bars);
        let last = r.last().unwrap();
        assert!((last.amihud_z - 1.0).abs() < 1e-9, "amihud z = {}", last.amihud_z);
    }

    #[test]
    fn test_relative_volume_uses_the_profile_window() {
        // 40 bars of 1000 shares, then 6 of 3000: over the last 5 bars the volume is ordinary.
        let mut bars: Vec<_> = (0..40).map(|_| (100.0, 100.0, 1000.0)).collect();
        bars.extend((0..6).map(|_| (100.0, 100.0, 3000.0)));
        let r = readings("window = 5", &bars);
        assert!((r.last().unwrap().rel_volume - 1.0).abs() < 1e-12, "{:?}", r.last());
    }

    #[test]
    fn test_corwin_schultz_hand_computed() {
        // Two overlapping bars 100-101 and 100.2-101: beta = ln²(1.01) + ln²(101/100.2),
        // gamma = ln²(1.01).
        let s = corwin_schultz(101.0, 100.0, 101.0, 100.2);
        let k = 3.0 - 2.0 * 2f64.sqrt();
        let beta = (1.01f64).ln().powi(2) + (101f64 / 100.2).ln().powi(2);
        let gamma = (1.01f64).ln().powi(2);
        let alpha = ((2.0 * beta).sqrt() - beta.sqrt()) / k - (gamma / k).sqrt();
        let want = (2.0 * (alpha.exp() - 1.0) / (1.0 + alpha.exp())).max(0.0);
        assert!((s - want).abs() < 1e-12);
        assert!(s > 0.0 && s < 0.02);
        assert_eq!(
            corwin_schultz(101.0, 100.0, 101.5, 100.5),
            0.0,
            "a trending pair gives a negative estimate, floored"
        );
    }

    #[test]
    fn test_regression_slope() {
        let mut r = Regression::new(10);
        for i in 0..10 {
            r.push(i as f64, 3.0 * i as f64 + 1.0);
        }
        assert!((r.slope() - 3.0).abs() < 1e-9);
    }
}
