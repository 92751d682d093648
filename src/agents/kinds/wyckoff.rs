//! Wyckoff: trading ranges, springs and upthrusts, effort versus result.
//!
//! After R. D. Wyckoff's method as systematised by Pruden ("The Three Skills of Top
//! Trading", 2007) and Weis ("Trades About to Happen", 2013):
//! - **Trading range**: over the previous `lookback` bars, support = lowest low and
//!   resistance = highest high; it is a range when its width is at most `max_range_atr`
//!   ATRs (sideways, not trending).
//! - **Spring**: the bar trades below support by more than `pierce_atr` ATR and closes back
//!   above it → long. **Upthrust**: the mirror above resistance → short. Volume grades
//!   them the way Weis and Pruden do: a spring on *light* volume is the stronger test —
//!   the break below support found no supply (Weis 2013; Pruden 2007, presenting the
//!   Wyckoff course's spring types: the "No. 3" spring on light volume is the one to act
//!   on), while a break on heavy volume is a shakeout (the "No. 1" spring, a terminal
//!   shakeout that still wants a test) and weaker. An earlier version required at least
//!   average volume, which kept exactly the weaker kind. With rv the relative volume and
//!   v = `light_rel_volume`: light (rv ≤ v): confidence 0.6 + 0.2 · (1 − rv / v), in [0.6, 0.8];
//!   heavy (rv > v): confidence max(0.3, 0.6 − 0.1 · (rv − v)), labelled a shakeout
//!   (spring) or a heavy-volume upthrust. The vote is ± the confidence.
//! - **Effort vs result**: volume at least `absorption_rel_volume` × average with a range
//!   under `absorption_range_atr` ATR is effort without result (absorption): vote against
//!   the last 5 bars' move (no move, a zero 5-bar return, gives no direction).
//! - **Phase**: inside a range, price in the lower third with up-bar volume exceeding
//!   down-bar volume reads as accumulation (mild long); upper third with down-volume
//!   dominating as distribution (mild short). Outside a range: mild markup/markdown with
//!   the 20-bar move; a zero 20-bar move is no vote (directions use [`crate::num::sign`]:
//!   zero is not "up").
//!
//! Memory: each spring/upthrust is written as a `pattern` (level, volume, range width) and
//! the decision recalls the outcomes of this analyst's earlier springs/upthrusts on the
//! symbol in similar states, which scale the vote (see `evidence`).

use serde::{Deserialize, Serialize};

use crate::agents::{Analyst, Core, PerSymbol, Perception, Profile, Proposal};
use crate::features::Window;
use crate::memory::Kind;

/// `[params]` of a Wyckoff profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Previous bars whose lowest low / highest high are support / resistance.
    pub lookback: usize,
    /// Widest resistance − support, in ATRs, that still counts as a trading range.
    pub max_range_atr: f64,
    /// ATRs a bar must trade beyond support/resistance to count as a spring/upthrust.
    pub pierce_atr: f64,
    /// Relative volume at or below which a spring / upthrust is on light volume (the
    /// stronger signal); above it, a heavy-volume shakeout (weaker).
    pub light_rel_volume: f64,
    /// Relative volume at or above this with a narrow range is absorption.
    pub absorption_rel_volume: f64,
    /// A bar range under this many ATRs, on absorption volume, is effort without result.
    pub absorption_range_atr: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            lookback: 60,
            max_range_atr: 12.0,
            pierce_atr: 0.05,
            light_rel_volume: 1.0,
            absorption_rel_volume: 2.5,
            absorption_range_atr: 0.6,
        }
    }
}

#[derive(Debug, Clone)]
struct State {
    highs: Window,
    lows: Window,
    up_volume: Window,
    down_volume: Window,
}

/// Confidence of a spring or upthrust at relative volume `rv` (module docs), and whether
/// it is on light volume.
pub fn spring_confidence(rv: f64, light_rel_volume: f64) -> (f64, bool) {
    let v = light_rel_volume.max(1e-9);
    if rv <= v { (0.6 + 0.2 * (1.0 - rv / v).clamp(0.0, 1.0), true) } else { ((0.6 - 0.1 * (rv - v)).max(0.3), false) }
}

/// The Wyckoff analyst.
#[derive(Debug, Clone)]
pub struct Wyckoff {
    core: Core,
    p: Params,
    states: PerSymbol<State>,
}

impl Wyckoff {
    /// From a profile.
    pub fn new(profile: &Profile, p: Params) -> Self {
        let l = p.lookback.max(2);
        let init = State {
            highs: Window::new(l),
            lows: Window::new(l),
            up_volume: Window::new(l),
            down_volume: Window::new(l),
        };
        Wyckoff { core: Core::new(profile), p, states: PerSymbol::new(init) }
    }
}

impl Analyst for Wyckoff {
    fn core(&self) -> &Core {
        &self.core
    }

    fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
        let f = pc.features;
        let b = f.bar;
        let p = self.p;
        let core = &self.core;
        let st = self.states.get(pc.sym);
        let full = st.highs.full();
        let support = st.lows.iter().copied().fold(f64::MAX, f64::min);
        let resistance = st.highs.iter().copied().fold(f64::MIN, f64::max);
        let up_vol: f64 = st.up_volume.iter().sum();
        let down_vol: f64 = st.down_volume.iter().sum();
        st.highs.push(b.high);
        st.lows.push(b.low);
        st.up_volume.push(if b.close > b.open { b.volume } else { 0.0 });
        st.down_volume.push(if b.close < b.open { b.volume } else { 0.0 });
        if !full {
            return Proposal::neutral("wyckoff: warming up");
        }
        let atr = f.atr;
        let width = (resistance - support) / atr;
        let in_range = width <= p.max_range_atr;
        let rv = f.rel_volume;
        let recall = |what: &str| core.recall_outcomes(format!("{what} {}", pc.symbol));
        if in_range && b.low < support - p.pierce_atr * atr && b.close > support {
            let (conf, light) = spring_confidence(rv, p.light_rel_volume);
            let what = if light { "spring on light volume" } else { "shakeout: spring on heavy volume" };
            let text = format!(
                "wyckoff {what} {} below support {support:.2} reclaimed, {rv:.1}x volume, range {width:.1} atr",
                pc.symbol
            );
            return Proposal {
                direction: conf,
                confidence: conf,
                rationale: format!("{what} below support {support:.2} reclaimed"),
                writes: vec![core.memory(pc, Kind::Pattern, text, 60.0)],
                recall: Some(recall(&format!("{what} below support reclaimed"))),
            };
        }
        if in_range && b.high > resistance + p.pierce_atr * atr && b.close < resistance {
            let (conf, light) = spring_confidence(rv, p.light_rel_volume);
            let what = if light { "upthrust on light volume" } else { "upthrust on heavy volume" };
            let text = format!(
                "wyckoff {what} {} above resistance {resistance:.2} failed, {rv:.1}x volume, range {width:.1} atr",
                pc.symbol
            );
            return Proposal {
                direction: -conf,
                confidence: conf,
                rationale: format!("{what} above resistance {resistance:.2} failed"),
                writes: vec![core.memory(pc, Kind::Pattern, text, 60.0)],
                recall: Some(recall(&format!("{what} above resistance failed"))),
            };
        }
        if rv >= p.absorption_rel_volume && (b.high - b.low) < p.absorption_range_atr * atr {
            // Against the last 5 bars' move; no move (a zero return) is no direction.
            let against = -crate::num::sign(f.ret5);
            let text =
                format!("wyckoff absorption {}: {rv:.1}x volume on a {:.2} atr bar", pc.symbol, (b.high - b.low) / atr);
            return Proposal {
                direction: 0.35 * against,
                confidence: 0.35 * against.abs(),
                rationale: "effort without result (absorption)".into(),
                writes: vec![core.memory(pc, Kind::Observation, text, 45.0)],
                recall: Some(recall("effort without result absorption")),
            };
        }
        if in_range {
            let pos = if resistance > support { (b.close - support) / (resistance - support) } else { 0.5 };
            let balance = if up_vol + down_vol > 0.0 { (up_vol - down_vol) / (up_vol + down_vol) } else { 0.0 };
            if pos < 0.35 && balance > 0.1 {
                return Proposal {
                    direction: 0.2,
                    confidence: 0.2,
                    rationale: "accumulation: low in range, up-volume dominant".into(),
                    writes: vec![],
                    recall: None,
                };
            }
            if pos > 0.65 && balance < -0.1 {
                return Proposal {
                    direction: -0.2,
                    confidence: 0.2,
                    rationale: "distribution: high in range, down-volume dominant".into(),
                    writes: vec![],
                    recall: None,
                };
            }
            return Proposal::neutral("inside range, no edge");
        }
        let trend = crate::num::sign(f.ret20);
        if trend == 0.0 {
            return Proposal::neutral("outside a range, no 20-bar move");
        }
        Proposal {
            direction: 0.15 * trend,
            confidence: 0.1,
            rationale: if trend > 0.0 { "markup".into() } else { "markdown".into() },
            writes: vec![],
            recall: None,
        }
    }
}
