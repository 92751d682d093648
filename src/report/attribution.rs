//! P&L attribution: which analyst earned the composed book's P&L.
//!
//! The book's P&L telescopes into per-step, per-symbol parts (equity = cash + Σ pos·close):
//!
//! ```text
//! pnl(s, t) = pos(s, t−1) · (close(s, t) − close(s, t−1))            holding part
//!           + Σ fills f of s at t:  qty_f · (close(s, t) − price_f) − commission_f   fill parts
//! Σ_s Σ_t pnl(s, t) = final equity − initial cash                     (exactly)
//! ```
//!
//! Each part is split among the analysts by their signed contributions to the composed
//! signal of the decision behind it. At the step k that decided an order for symbol s,
//! analyst a contributed `c_a = w_a · direction_a · confidence_a` (w: the weight the
//! composer traded with) and the signal was `S = Σ_a c_a / Σ_a w_a` (sums over the
//! analysts that voted a direction; a vote of 0 abstains); analyst a's share is
//! `c_a / Σ_b c_b` — shares sum to 1 and are negative for an analyst that voted against.
//! A fill part uses the shares of the fill's own decision (`decided_at`); the holding part
//! uses those of the decision of the symbol's latest fill (the position held is the one
//! that decision built). Parts whose decision had no contributions (Σ c = 0: no votes, or
//! a cash-in-lieu payout at a split) go to an explicit `unattributed` residual, so
//!
//! ```text
//! Σ_a pnl_a + unattributed = final equity − initial cash.
//! ```
//!
//! Worked example: at step k, hedge (w 0.5) votes +0.8 at confidence 1 and wyckoff (w 0.5)
//! votes −0.2 at confidence 1: c = (0.4, −0.1), shares (4/3, −1/3). The book buys; the
//! position then earns $30 and the fill paid $1: hedge is credited 29·4/3 = $38.67,
//! wyckoff −29/3 = −$9.67 (it argued against a trade that paid).
//!
//! Costs are attributed the same way (commission and slippage of each fill, by its
//! decision's shares), as information beside the P&L, which already includes them; an
//! analyst that mostly argued against the trades made carries negative costs.

use serde::{Deserialize, Serialize};

use crate::market::{Bars, Ts};
use crate::run::{RunResult, VoteLog};

/// One analyst's share of the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPnl {
    /// Analyst name.
    pub agent: String,
    /// P&L credited to the analyst, in currency (costs included).
    pub pnl: f64,
    /// Commission and slippage attributed to it, in currency.
    pub costs: f64,
    /// Votes it cast.
    pub votes: usize,
    /// Mean confidence of its votes (0 without votes).
    pub mean_confidence: f64,
    /// Mean weight the composer traded it with, over the steps.
    pub mean_weight: f64,
    /// Hit rate of its votes at several horizons ([`hit_rates_by_horizon`]).
    #[serde(default)]
    pub hit_rate_by_horizon: Vec<HorizonHit>,
}

/// The hit rate of an analyst's votes judged at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonHit {
    /// Bars of the symbol after the vote.
    pub horizon: usize,
    /// Votes judged (wins and losses; flat moves and votes too close to the end left out).
    pub judged: usize,
    /// Share of them that won.
    pub hit_rate: Option<f64>,
}

/// The horizons every analyst's votes are judged at, in bars of the symbol (plus the
/// analyst's own profile horizon).
pub const HORIZONS: [usize; 4] = [1, 5, 15, 60];

/// Per analyst, the hit rate of **every** vote with |direction| ≥ `min_vote` at each of
/// `horizons`: a win when sign(direction) · (close h bars later − close at the vote) > 0.
/// Unlike the learning loop's hit rate (one vote per horizon, so outcomes do not overlap),
/// these votes overlap: read them as a description of how fast each analyst's edge decays,
/// not as independent trials. Judged after the run from the bars, so nothing here feeds
/// back into a decision.
pub fn hit_rates_by_horizon(
    bars: &Bars,
    votes: &VoteLog,
    n: usize,
    min_vote: f64,
    horizons: &[Vec<usize>],
) -> Vec<Vec<HorizonHit>> {
    // Each symbol's closes in order, and each row's place among them.
    let mut closes: Vec<Vec<f64>> = vec![Vec::new(); bars.symbols.len()];
    let mut place = vec![0usize; bars.len()];
    for ((p, &s), &c) in place.iter_mut().zip(&bars.sym).zip(&bars.close) {
        *p = closes[s as usize].len();
        closes[s as usize].push(c);
    }
    // (judged, wins) per analyst and horizon.
    let mut counts: Vec<Vec<(usize, usize)>> = horizons.iter().map(|h| vec![(0, 0); h.len()]).collect();
    for (k, range) in bars.steps().enumerate() {
        for v in votes.step(k).iter().filter(|v| v.agent < n && v.direction.abs() >= min_vote && v.direction != 0.0) {
            let Some(i) = range.clone().find(|&i| bars.sym[i] == v.symbol) else { continue };
            let (c, at) = (&closes[v.symbol as usize], place[i]);
            for (cell, &h) in counts[v.agent].iter_mut().zip(&horizons[v.agent]) {
                let Some(&later) = c.get(at + h) else { continue };
                let edge = crate::num::sign(v.direction) * (later - c[at]);
                if edge != 0.0 {
                    *cell = (cell.0 + 1, cell.1 + usize::from(edge > 0.0));
                }
            }
        }
    }
    counts
        .iter()
        .zip(horizons)
        .map(|(cells, hs)| {
            cells
                .iter()
                .zip(hs)
                .map(|(&(judged, wins), &horizon)| HorizonHit {
                    horizon,
                    judged,
                    hit_rate: (judged > 0).then(|| wins as f64 / judged as f64),
                })
                .collect()
        })
        .collect()
}

/// The book's P&L split among the analysts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PnlAttribution {
    /// Final equity − initial cash.
    pub total_pnl: f64,
    /// P&L of decisions no analyst contributed to.
    pub unattributed: f64,
    /// Per analyst, roster order.
    pub agents: Vec<AgentPnl>,
}

/// `attribution.json`: the P&L split, the Shapley values and what each analyst's votes and
/// memory were worth (the same parts as `summary.json`, alone for `quorum attribution`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionFile {
    /// The P&L split (its fields at the top level).
    #[serde(flatten)]
    pub pnl: PnlAttribution,
    /// Shapley values in replay mode.
    #[serde(default)]
    pub shapley: Option<super::shapley::ShapleyReport>,
    /// Shapley values in full mode (`--shapley full`).
    #[serde(default)]
    pub shapley_full: Option<super::shapley::ShapleyReport>,
    /// Per analyst: judged votes, hit rate, calibration, memory evidence.
    #[serde(default)]
    pub learning: Vec<crate::engine::graph::AnalystCalibration>,
}

/// Splits `run`'s P&L among `agents` by the rule of the module docs. `trading_weights[k]`
/// are the weights the composer traded with at step k (roster order).
pub fn attribute(
    bars: &Bars,
    run: &RunResult,
    votes: &VoteLog,
    trading_weights: &[Vec<f64>],
    agents: &[String],
) -> PnlAttribution {
    let n = agents.len();
    let mut pnl = vec![0.0; n];
    let mut costs = vec![0.0; n];
    let mut unattributed = 0.0;
    walk(bars, run, votes, trading_weights, n, |part| match part.shares {
        Some(sh) => {
            for ((p, c), s) in pnl.iter_mut().zip(costs.iter_mut()).zip(sh) {
                *p += part.pnl * s;
                *c += part.costs * s;
            }
        }
        None => unattributed += part.pnl,
    });
    let steps = trading_weights.len().max(1) as f64;
    let agents = agents
        .iter()
        .enumerate()
        .map(|(a, name)| {
            let mine: Vec<f64> = votes.votes.iter().filter(|v| v.agent == a).map(|v| v.confidence).collect();
            AgentPnl {
                agent: name.clone(),
                pnl: pnl[a],
                costs: costs[a],
                votes: mine.len(),
                mean_confidence: if mine.is_empty() { 0.0 } else { mine.iter().sum::<f64>() / mine.len() as f64 },
                mean_weight: trading_weights.iter().map(|w| w.get(a).copied().unwrap_or(0.0)).sum::<f64>() / steps,
                hit_rate_by_horizon: Vec::new(),
            }
        })
        .collect();
    PnlAttribution {
        total_pnl: run.equity.equity.last().copied().unwrap_or(run.initial_cash) - run.initial_cash,
        unattributed,
        agents,
    }
}

/// One part of the book's P&L (module docs): at bar row `row`, a holding part or a fill
/// part, with the shares of the decision behind it (None: no analyst contributed).
pub(crate) struct Part<'a> {
    /// Row of the bar in `Bars`.
    pub row: usize,
    /// The part's P&L, costs included.
    pub pnl: f64,
    /// Commission and slippage of a fill part (0 for a holding part).
    pub costs: f64,
    /// A holding part (the held position's move over the bar) rather than a fill part.
    pub holding: bool,
    /// Each analyst's share of the decision, roster order.
    pub shares: Option<&'a [f64]>,
}

/// Walks `run`'s P&L part by part, in bar order (the parts sum to the book's P&L).
pub(crate) fn walk(
    bars: &Bars,
    run: &RunResult,
    votes: &VoteLog,
    trading_weights: &[Vec<f64>],
    n: usize,
    mut on: impl FnMut(Part<'_>),
) {
    let n_sym = bars.symbols.len();
    let step_of = |ts: Ts| votes.steps.binary_search_by_key(&ts, |s| s.0).ok();
    let shares = |ts: Ts, symbol: u32| -> Option<Vec<f64>> {
        let k = step_of(ts)?;
        let w = trading_weights.get(k)?;
        let mut c = vec![0.0; n];
        for v in votes.step(k).iter().filter(|v| v.symbol == symbol) {
            c[v.agent] += w.get(v.agent).copied().unwrap_or(0.0) * v.direction * v.confidence;
        }
        let total: f64 = c.iter().sum();
        (total.abs() > 1e-12).then(|| c.iter().map(|x| x / total).collect())
    };
    let mut pos = vec![0.0; n_sym];
    let mut last_close = vec![f64::NAN; n_sym];
    let mut held: Vec<Option<Vec<f64>>> = vec![None; n_sym];
    let mut next_fill = 0usize;
    for range in bars.steps() {
        for i in range {
            let s = bars.sym[i] as usize;
            let close = bars.close[i];
            if pos[s] != 0.0 && last_close[s].is_finite() {
                let pnl = pos[s] * (close - last_close[s]);
                on(Part { row: i, pnl, costs: 0.0, holding: true, shares: held[s].as_deref() });
            }
            while let Some(f) = run.fills.get(next_fill).filter(|f| f.ts == bars.ts[i] && f.symbol as usize == s) {
                let (pnl, costs) = (f.qty * (close - f.price) - f.commission, f.commission + f.slippage);
                pos[s] += f.qty;
                next_fill += 1;
                if f.decided_at >= f.ts {
                    // A cash-in-lieu payout: no decision made it, and the position left is
                    // still the one the last decision built.
                    on(Part { row: i, pnl, costs, holding: false, shares: None });
                    continue;
                }
                let sh = shares(f.decided_at, f.symbol);
                on(Part { row: i, pnl, costs, holding: false, shares: sh.as_deref() });
                held[s] = sh;
            }
            last_close[s] = close;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Vote;
    use crate::market::Bar;
    use crate::portfolio::Fill;
    use crate::run::EquityCurve;

    fn vote(ts: Ts, agent: usize, direction: f64) -> Vote {
        Vote::new(ts, 0, agent, direction, 1.0)
    }

    /// The module docs' worked example: hedge +0.8 and wyckoff −0.2 at equal weights decide
    /// a buy of 10 at 100 (commission 1); the close goes 100 → 103. Hedge gets 4/3 of the
    /// $29, wyckoff −1/3; nothing is unattributed and the parts sum to the total.
    #[test]
    fn test_attribution_worked_example_sums_to_total() {
        let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (k, c) in [100.0, 100.0, 103.0].into_iter().enumerate() {
            bars.push(Bar { ts: k as i64, symbol: 0, open: 100.0, high: c, low: 100.0, close: c, volume: 1e6 });
        }
        let mut votes = VoteLog::default();
        votes.push_step(0, &[vote(0, 0, 0.8), vote(0, 1, -0.2)]);
        votes.push_step(1, &[]);
        votes.push_step(2, &[]);
        let fill = Fill { ts: 1, decided_at: 0, symbol: 0, qty: 10.0, price: 100.0, commission: 1.0, slippage: 0.0 };
        let equity = EquityCurve { ts: vec![0, 1, 2], equity: vec![1000.0, 999.0, 1029.0], ..Default::default() };
        let run = RunResult { initial_cash: 1000.0, equity, fills: vec![fill], ..Default::default() };
        let w = vec![vec![0.5, 0.5]; 3];
        let a = attribute(&bars, &run, &votes, &w, &["hedge".into(), "wyckoff".into()]);
        assert_eq!(a.total_pnl, 29.0);
        assert!((a.agents[0].pnl - 29.0 * 4.0 / 3.0).abs() < 1e-9, "{a:?}");
        assert!((a.agents[1].pnl + 29.0 / 3.0).abs() < 1e-9);
        assert_eq!(a.unattributed, 0.0);
        let sum: f64 = a.agents.iter().map(|x| x.pnl).sum::<f64>() + a.unattributed;
        assert!((sum - a.total_pnl).abs() < 1e-9);
        assert!((a.agents[0].costs - 4.0 / 3.0).abs() < 1e-12);
    }

    /// Closes 100, 101, 100, 100, 103: a long vote at bar 0 wins at h = 1 and h = 4, is
    /// flat (left out) at h = 2; a short vote at bar 1 wins at h = 1 and h = 2, is past the
    /// end at h = 4; a vote under `min_vote` is not judged.
    #[test]
    fn test_hit_rates_by_horizon_hand_computed() {
        let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (k, c) in [100.0, 101.0, 100.0, 100.0, 103.0].into_iter().enumerate() {
            bars.push(Bar { ts: k as i64, symbol: 0, open: c, high: c, low: c, close: c, volume: 1e6 });
        }
        let mut votes = VoteLog::default();
        votes.push_step(0, &[vote(0, 0, 0.5), vote(0, 1, 0.01)]);
        votes.push_step(1, &[vote(1, 0, -0.5)]);
        for k in 2..5 {
            votes.push_step(k, &[]);
        }
        let h = hit_rates_by_horizon(&bars, &votes, 2, 0.05, &[vec![1, 2, 4], vec![1]]);
        let got: Vec<(usize, usize, Option<f64>)> = h[0].iter().map(|x| (x.horizon, x.judged, x.hit_rate)).collect();
        assert_eq!(got, vec![(1, 2, Some(1.0)), (2, 1, Some(1.0)), (4, 1, Some(1.0))]);
        assert_eq!((h[1][0].judged, h[1][0].hit_rate), (0, None), "under min_vote");
    }

    /// A cash-in-lieu payout (decided_at = its own bar) is unattributed, and the position
    /// left keeps the shares of the decision that built it: hedge +0.8 / wyckoff −0.2 buy
    /// 10 at 100; at bar 2 a payout sells 0.5 at 103 (no commission) while the votes of
    /// bar 1 are all wyckoff's; the 9.5 left then earns 9.5 × 2 at bar 3.
    #[test]
    fn test_cash_in_lieu_is_unattributed_and_keeps_the_holding_shares() {
        let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (k, (o, c)) in [(100.0, 100.0), (100.0, 100.0), (102.0, 103.0), (105.0, 105.0)].into_iter().enumerate() {
            bars.push(Bar { ts: k as i64, symbol: 0, open: o, high: c, low: o, close: c, volume: 1e6 });
        }
        let mut votes = VoteLog::default();
        votes.push_step(0, &[vote(0, 0, 0.8), vote(0, 1, -0.2)]);
        votes.push_step(1, &[vote(1, 1, 1.0)]);
        votes.push_step(2, &[vote(2, 1, 1.0)]);
        votes.push_step(3, &[]);
        let buy = Fill { ts: 1, decided_at: 0, symbol: 0, qty: 10.0, price: 100.0, commission: 1.0, slippage: 0.0 };
        let lieu = Fill { ts: 2, decided_at: 2, symbol: 0, qty: -0.5, price: 102.0, commission: 0.0, slippage: 0.0 };
        let equity =
            EquityCurve { ts: vec![0, 1, 2, 3], equity: vec![1000.0, 999.0, 1028.5, 1047.5], ..Default::default() };
        let run = RunResult { initial_cash: 1000.0, equity, fills: vec![buy, lieu], ..Default::default() };
        let a = attribute(&bars, &run, &votes, &vec![vec![0.5, 0.5]; 4], &["hedge".into(), "wyckoff".into()]);
        // Holding: 10 × 3 at bar 2 and 9.5 × 2 at bar 3, both by the bar-0 shares (4/3, −1/3);
        // the buy's −1 too; the payout's edge, sold at 102 against the close of 103, −0.5, is
        // unattributed.
        let attributed = 30.0 + 19.0 - 1.0;
        assert!((a.agents[0].pnl - attributed * 4.0 / 3.0).abs() < 1e-9, "{a:?}");
        assert!((a.agents[1].pnl + attributed / 3.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.unattributed, -0.5);
        assert_eq!(a.total_pnl, 47.5);
        let sum: f64 = a.agents.iter().map(|x| x.pnl).sum::<f64>() + a.unattributed;
        assert!((sum - a.total_pnl).abs() < 1e-9);
    }
}
