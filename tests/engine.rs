//! The bar loop: hand-computed fills and costs, position limits, flatten-at-close, and
//! property tests that no fill uses a price from the bar that produced its order (or
//! earlier), and that a run over a prefix of the bars decides exactly as the full run did.

use proptest::prelude::*;
use proptest::strategy::Strategy as PropStrategy;
use std::convert::Infallible;

use quorum::engine::{EngineConfig, RunResult, run};
use quorum::market::session::AssetClass;
use quorum::market::time::{NS_PER_MIN, parse_rfc3339};
use quorum::market::{Bar, Bars, SessionMode, load};
use quorum::portfolio::{CostConfig, PortfolioConfig};
use quorum::strategy::{BuyAndHold, PortfolioView, Step, Strategy, Targets, Universe};

use crate::common::{equities_1m, opts};

/// Sets pre-scripted targets: at step `k`, each `(symbol, weight)` of `script[k]`.
struct Scripted {
    script: Vec<Vec<(u32, f64)>>,
}

impl Strategy for Scripted {
    type Error = Infallible;
    fn name(&self) -> String {
        "scripted".into()
    }
    fn on_step(&mut self, step: &Step<'_>, _p: &PortfolioView<'_>, targets: &mut Targets) -> Result<(), Infallible> {
        if let Some(list) = self.script.get(step.index) {
            for &(s, w) in list {
                targets.set(s, w);
            }
        }
        Ok(())
    }
}

/// Targets half of equity in symbol 0, and fails at step `fail_at`.
struct FailsAt {
    fail_at: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("no signal at step {0}")]
struct NoSignal(usize);

impl Strategy for FailsAt {
    type Error = NoSignal;
    fn name(&self) -> String {
        "fails".into()
    }
    fn on_step(&mut self, step: &Step<'_>, _p: &PortfolioView<'_>, targets: &mut Targets) -> Result<(), NoSignal> {
        if step.index == self.fail_at {
            return Err(NoSignal(step.index));
        }
        targets.set(0, 0.5);
        Ok(())
    }
}

fn universe(bars: &Bars, interval: i64) -> Universe {
    Universe { symbols: bars.symbols.clone(), classes: vec![AssetClass::Equity; bars.symbols.len()], interval }
}

fn cfg(cash: f64, costs: CostConfig) -> EngineConfig {
    EngineConfig { portfolio: PortfolioConfig { initial_cash: cash, ..Default::default() }, costs, trade_from: None }
}

fn run_on(bars: &Bars, s: &mut dyn Strategy<Error = Infallible>, c: &EngineConfig) -> RunResult {
    let Ok(r) = run(bars, &universe(bars, NS_PER_MIN), s, c, &mut |_, _| {});
    r
}

#[test]
fn test_engine_buy_and_hold_hand_computed() {
    let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
    for (k, (o, c)) in [(100.0, 100.0), (101.0, 102.0), (103.0, 104.0)].iter().enumerate() {
        bars.push(Bar {
            ts: k as i64 * NS_PER_MIN,
            symbol: 0,
            open: *o,
            high: o.max(*c),
            low: o.min(*c),
            close: *c,
            volume: 1e6,
        });
    }
    let costs = CostConfig {
        slippage_bps: 1.0,
        impact_bps: 0.0,
        commission_per_share: 0.005,
        commission_min: 1.0,
        ..Default::default()
    };
    let r = run_on(&bars, &mut BuyAndHold::new(), &cfg(10_000.0, costs));
    assert_eq!(r.fills.len(), 1);
    let f = r.fills[0];
    // Decided at the close of bar 0 (100 shares = 10,000 / 100), filled at bar 1's open + 1bp.
    assert_eq!((f.decided_at, f.ts, f.qty), (0, NS_PER_MIN, 100.0));
    assert!((f.price - 101.0 * 1.0001).abs() < 1e-12);
    assert_eq!(f.commission, 1.0);
    assert!((f.slippage - 1.01).abs() < 1e-9);
    let cash = 10_000.0 - 100.0 * 101.0101 - 1.0;
    assert_eq!(r.equity.equity[0], 10_000.0);
    assert!((r.equity.equity[1] - (cash + 100.0 * 102.0)).abs() < 1e-9);
    assert!((r.equity.equity[2] - (cash + 100.0 * 104.0)).abs() < 1e-9);
    assert_eq!(r.trades.len(), 1);
    assert!(r.trades[0].open);
    assert!((r.trades[0].pnl - (100.0 * (104.0 - 101.0101) - 1.0)).abs() < 1e-9);
}

fn two_symbol_bars(n: usize) -> Bars {
    let mut bars = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
    for k in 0..n {
        for s in 0..2u32 {
            let p = 50.0 + k as f64 + s as f64;
            bars.push(Bar { ts: k as i64 * NS_PER_MIN, symbol: s, open: p, high: p, low: p, close: p, volume: 1e9 });
        }
    }
    bars
}

#[test]
fn test_engine_stops_at_the_failing_step_with_its_error() {
    let bars = two_symbol_bars(20);
    let c = cfg(10_000.0, CostConfig::default());
    let e = run(&bars, &universe(&bars, NS_PER_MIN), &mut FailsAt { fail_at: 7 }, &c, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.0, 7, "the error of the step that failed, typed");
    let ok = run(&bars, &universe(&bars, NS_PER_MIN), &mut FailsAt { fail_at: usize::MAX }, &c, &mut |_, _| {});
    assert!(ok.is_ok_and(|r| !r.fills.is_empty()));
}

#[test]
fn test_engine_long_only_clips_shorts_and_gross_limit_scales() {
    let bars = two_symbol_bars(4);
    let free = CostConfig {
        commission_per_share: 0.0,
        commission_min: 0.0,
        slippage_bps: 0.0,
        impact_bps: 0.0,
        ..Default::default()
    };
    let mut c = cfg(100_000.0, free.clone());
    c.portfolio.allow_short = false;
    let r = run_on(&bars, &mut Scripted { script: vec![vec![(0, -1.0)]] }, &c);
    assert!(r.fills.is_empty(), "a short target is clipped to flat when shorts are off");

    let c = cfg(100_000.0, free);
    let r = run_on(&bars, &mut Scripted { script: vec![vec![(0, 1.0), (1, 1.0)]] }, &c);
    assert_eq!(r.fills.len(), 2);
    // Gross 2.0 scaled to max_gross 1.0: each symbol gets half the equity at its step-0 close.
    assert_eq!(r.fills[0].qty, (50_000.0f64 / 50.0).trunc());
    assert_eq!(r.fills[1].qty, (50_000.0f64 / 51.0).trunc());
}

#[test]
fn test_engine_flatten_at_close_on_real_minutes() {
    let mut o = opts(&equities_1m());
    o.symbols = vec!["SPY".into()];
    o.session = SessionMode::Regular;
    let (bars, _) = load(&o).unwrap();
    let mut c = cfg(100_000.0, CostConfig::default());
    c.portfolio.flatten_at_close = true;
    let u = universe(&bars, NS_PER_MIN);
    let Ok(r) = run(&bars, &u, &mut BuyAndHold::new(), &c, &mut |_, _| {});
    let mut clock = quorum::market::session::NyClock::new();
    let sells: Vec<_> = r.fills.iter().filter(|f| f.qty < 0.0).collect();
    let buys: Vec<_> = r.fills.iter().filter(|f| f.qty > 0.0).collect();
    assert_eq!(sells.len(), 6, "one flatten per session");
    assert!(buys.len() >= 6, "re-entered every session");
    for f in &sells {
        let close = clock.utc_at_local_minute(f.ts, quorum::market::session::CLOSE_MIN);
        assert_eq!(f.ts, close - NS_PER_MIN, "flatten fills at the 15:59 bar's open");
    }
    // Flat at every session's last mark.
    let last_of_day = parse_rfc3339("2013-10-07T19:59:00Z").unwrap();
    let k = r.equity.ts.iter().position(|&t| t == last_of_day).unwrap();
    assert_eq!(r.equity.gross[k], 0.0);
}

/// On NYSE's early-close days the session ends at 13:00 New York: flattening happens at
/// the 12:59 bar, not at a 15:59 bar that never comes (which held positions overnight).
#[test]
fn test_engine_flatten_at_close_on_a_half_day() {
    let mut bars = Bars { symbols: vec!["SPY".into()], ..Default::default() };
    // 2018-07-03 09:30-12:59 EDT (13:30-16:59 UTC), then 2018-07-05 09:30-15:59.
    for (day, last_utc_min) in [("2018-07-03", 16 * 60 + 59), ("2018-07-05", 19 * 60 + 59)] {
        let start = parse_rfc3339(&format!("{day}T13:30:00Z")).unwrap();
        for k in 0..=(last_utc_min - (13 * 60 + 30)) {
            let ts = start + k * NS_PER_MIN;
            bars.push(Bar { ts, symbol: 0, open: 270.0, high: 270.0, low: 270.0, close: 270.0, volume: 1e6 });
        }
    }
    let mut c = cfg(100_000.0, CostConfig::default());
    c.portfolio.flatten_at_close = true;
    let u = universe(&bars, NS_PER_MIN);
    let Ok(r) = run(&bars, &u, &mut BuyAndHold::new(), &c, &mut |_, _| {});
    let sells: Vec<_> = r.fills.iter().filter(|f| f.qty < 0.0).map(|f| f.ts).collect();
    let want = [parse_rfc3339("2018-07-03T16:59:00Z").unwrap(), parse_rfc3339("2018-07-05T19:59:00Z").unwrap()];
    assert_eq!(sells, want, "flattened at 12:59 on the half day, 15:59 on a full day");
}

fn arb_bars() -> impl PropStrategy<Value = Bars> {
    (1usize..4, 5usize..80).prop_flat_map(|(n_sym, n_steps)| {
        prop::collection::vec(
            (
                prop::collection::vec(any::<bool>(), n_sym),
                prop::collection::vec((-0.03f64..0.03, -0.02f64..0.02, 0u32..5000), n_sym),
            ),
            n_steps,
        )
        .prop_map(move |steps| {
            let mut bars = Bars { symbols: (0..n_sym).map(|i| format!("S{i}")).collect(), ..Default::default() };
            let mut last = vec![100.0f64; n_sym];
            for (k, (present, moves)) in steps.into_iter().enumerate() {
                for s in 0..n_sym {
                    if !present[s] && k > 0 {
                        continue;
                    }
                    let (gap, body, vol) = moves[s];
                    let open = last[s] * (1.0 + gap);
                    let close = open * (1.0 + body);
                    let high = open.max(close) * 1.001;
                    let low = open.min(close) * 0.999;
                    last[s] = close;
                    bars.push(Bar {
                        ts: k as i64 * NS_PER_MIN,
                        symbol: s as u32,
                        open,
                        high,
                        low,
                        close,
                        volume: vol as f64,
                    });
                }
            }
            bars
        })
    })
}

fn arb_script() -> impl PropStrategy<Value = Vec<Vec<(u32, f64)>>> {
    prop::collection::vec(prop::collection::vec((0u32..3, -1.5f64..1.5), 0..3), 0..80)
}

fn clamp_script(script: &[Vec<(u32, f64)>], n: usize) -> Vec<Vec<(u32, f64)>> {
    script.iter().map(|l| l.iter().filter(|(s, _)| (*s as usize) < n).copied().collect()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every fill is priced off the open of a bar strictly after the step that decided it,
    /// on the buyer's or seller's wrong side of that open by at most the modelled slippage.
    #[test]
    fn prop_fills_use_only_later_bars(bars in arb_bars(), script in arb_script(), short in any::<bool>()) {
        let costs = CostConfig { slippage_bps: 2.0, impact_bps: 10.0, max_participation: 0.5, ..Default::default() };
        let mut c = cfg(1_000_000.0, costs.clone());
        c.portfolio.allow_short = short;
        let script = clamp_script(&script, bars.symbols.len());
        let r = run_on(&bars, &mut Scripted { script }, &c);
        let max_bps = costs.slippage_bps + costs.impact_bps * costs.max_participation.sqrt();
        for f in &r.fills {
            prop_assert!(f.decided_at < f.ts, "fill at {} decided at {}", f.ts, f.decided_at);
            let row = (0..bars.len()).find(|&i| bars.ts[i] == f.ts && bars.sym[i] == f.symbol);
            prop_assert!(row.is_some(), "fill priced off a bar that does not exist");
            let open = bars.open[row.unwrap()];
            let dev = (f.price / open - 1.0) * f.qty.signum() * 1e4;
            prop_assert!(dev >= -1e-9 && dev <= max_bps + 1e-9, "slippage {dev} bps");
            // Sized by the symbol's previous bar (known at the fill bar's open), whole shares,
            // and only on a bar that traded.
            let prev = (0..row.unwrap()).rev().find(|&i| bars.sym[i] == f.symbol);
            prop_assert!(prev.is_some(), "a fill needs a previous bar to size it");
            prop_assert!(f.qty.abs() <= 0.5 * bars.volume[prev.unwrap()] + 1e-9);
            prop_assert!(bars.volume[row.unwrap()] > 0.0);
            prop_assert_eq!(f.qty, f.qty.round());
        }
        // Accounting identity: equity change equals the sum of round-trip P&L.
        let pnl: f64 = r.trades.iter().map(|t| t.pnl).sum();
        let change = r.equity.equity.last().unwrap() - 1_000_000.0;
        prop_assert!((pnl - change).abs() < 1e-6 * 1_000_000.0, "pnl {pnl} vs change {change}");
    }

    /// Running on the first k steps gives exactly the fills and equity the full run had by
    /// then: nothing decided at step t depends on bars after t.
    #[test]
    fn prop_prefix_run_matches_full_run(bars in arb_bars(), script in arb_script(), cut in 0.1f64..1.0) {
        let c = cfg(1_000_000.0, CostConfig::default());
        let script = clamp_script(&script, bars.symbols.len());
        let full = run_on(&bars, &mut Scripted { script: script.clone() }, &c);
        let steps: Vec<_> = bars.steps().collect();
        let k = ((steps.len() as f64 * cut) as usize).max(1);
        let prefix = bars.slice(0..steps[k - 1].end);
        let part = run_on(&prefix, &mut Scripted { script }, &c);
        let last = *prefix.ts.last().unwrap();
        let full_fills: Vec<_> = full.fills.iter().filter(|f| f.ts <= last).copied().collect();
        prop_assert_eq!(part.fills, full_fills);
        prop_assert_eq!(&part.equity.equity[..], &full.equity.equity[..k]);
    }
}
