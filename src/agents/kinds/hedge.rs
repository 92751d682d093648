//! Hedge: dealer hedging pressure.
//!
//! Option dealers delta-hedge. When they are net long gamma they sell rallies and buy dips,
//! damping moves and pinning price (Ni, Pearson & Poteshman, "Stock price clustering on
//! option expiration dates", 2005); when net short gamma they chase moves, amplifying them
//! (Barbon & Buraschi, "Gamma Fragility", 2021). The analyst reads that regime:
//!
//! - **With option-flow columns** in the data (`net_gamma`, and optionally `dealer_flow`):
//!   net gamma > 0 is long gamma, < 0 short gamma; `dealer_flow` (signed hedging flow) adds
//!   ±0.2 in its own direction (a zero flow adds nothing).
//! - **Without them, a documented proxy from bars**: volatility compression (10-bar over
//!   60-bar realised volatility below `calm_ratio`) is taken as dealers long gamma;
//!   expansion (above `expansion_ratio`) as short gamma. Between the two: no view.
//!
//! Votes: long gamma → mean reversion toward the session VWAP,
//! −clamp((close − VWAP) / ATR · `pin_strength`, −1, 1); short gamma → momentum,
//! clamp(5-bar return z · `momentum_strength`, −1, 1). A change of regime is written as a
//! pin or squeeze episode, and the decision recalls how earlier episodes resolved.

use serde::{Deserialize, Serialize};

use crate::agents::{Analyst, Core, PerSymbol, Perception, Profile, Proposal};
use crate::memory::Kind;

/// `[params]` of a Hedge profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// σ₁₀ / σ₆₀ below this reads as dealers long gamma (proxy without option data).
    pub calm_ratio: f64,
    /// σ₁₀ / σ₆₀ above this reads as dealers short gamma (proxy without option data).
    pub expansion_ratio: f64,
    /// Long-gamma vote: −clamp((close − VWAP) / ATR · pin_strength, −1, 1).
    pub pin_strength: f64,
    /// Short-gamma vote: clamp(5-bar return z · momentum_strength, −1, 1).
    pub momentum_strength: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { calm_ratio: 0.85, expansion_ratio: 1.25, pin_strength: 0.6, momentum_strength: 0.35 }
    }
}

/// The gamma regime read from the data or the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gamma {
    /// Dealers long gamma: moves damped, price pinned (vote toward VWAP).
    Long,
    /// Dealers short gamma: moves amplified (vote with the 5-bar momentum).
    Short,
    /// No view: volatility ratio between the thresholds, or not enough history.
    Neutral,
}

/// The Hedge analyst.
#[derive(Debug, Clone)]
pub struct Hedge {
    core: Core,
    p: Params,
    regimes: PerSymbol<Gamma>,
}

impl Hedge {
    /// From a profile.
    pub fn new(profile: &Profile, p: Params) -> Self {
        Hedge { core: Core::new(profile), p, regimes: PerSymbol::new(Gamma::Neutral) }
    }

    /// The gamma regime of a perception.
    pub fn regime(&self, pc: &Perception<'_>) -> (Gamma, &'static str) {
        if let Some(net_gamma) = pc.extras.get("net_gamma").filter(|g| g.is_finite() && *g != 0.0) {
            return if net_gamma > 0.0 { (Gamma::Long, "net gamma long") } else { (Gamma::Short, "net gamma short") };
        }
        let f = pc.features;
        if f.sigma_long <= 0.0 || f.sigma_short <= 0.0 {
            return (Gamma::Neutral, "no volatility yet");
        }
        let ratio = f.sigma_short / f.sigma_long;
        if ratio < self.p.calm_ratio {
            (Gamma::Long, "volatility compressed (proxy: dealers long gamma)")
        } else if ratio > self.p.expansion_ratio {
            (Gamma::Short, "volatility expanding (proxy: dealers short gamma)")
        } else {
            (Gamma::Neutral, "volatility neutral")
        }
    }
}

impl Analyst for Hedge {
    fn core(&self) -> &Core {
        &self.core
    }

    fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
        let f = pc.features;
        if f.count < 60 {
            return Proposal::neutral("hedge: warming up");
        }
        let (g, why) = self.regime(pc);
        let held = self.regimes.get(pc.sym);
        let changed = *held != g;
        *held = g;
        let flow = match pc.extras.get("dealer_flow").filter(|f| f.is_finite()) {
            Some(f) => 0.2 * crate::num::sign(f),
            None => 0.0,
        };
        let (direction, episode) = match g {
            Gamma::Long => {
                let dist = (f.bar.close - f.vwap) / f.atr;
                (-(dist * self.p.pin_strength).clamp(-1.0, 1.0) + flow, "pin toward vwap")
            }
            Gamma::Short => {
                let z5 = f.ret5 / (f.sigma * 5f64.sqrt());
                ((z5 * self.p.momentum_strength).clamp(-1.0, 1.0) + flow, "gamma squeeze momentum")
            }
            Gamma::Neutral => return Proposal::neutral(why),
        };
        let direction = direction.clamp(-1.0, 1.0);
        let confidence = (0.2 + 0.5 * direction.abs()).min(0.8);
        let rationale = format!("{episode}: {why}");
        let (writes, recall) = if changed {
            let text = format!(
                "dealer {episode} episode {}: {why}, close {:.2} vwap {:.2}, vol ratio {:.2}",
                pc.symbol,
                f.bar.close,
                f.vwap,
                if f.sigma_long > 0.0 { f.sigma_short / f.sigma_long } else { 0.0 }
            );
            (
                vec![self.core.memory(pc, Kind::Pattern, text, 50.0)],
                Some(self.core.recall_outcomes(format!("{episode} {}", pc.symbol))),
            )
        } else {
            (Vec::new(), None)
        };
        Proposal { direction, confidence, rationale, writes, recall }
    }
}
