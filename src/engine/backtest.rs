//! The backtest loop.
//!
//! For each time step t (all bars starting at t, in symbol order):
//! 1. each bar first executes its symbol's working order at its open (orders were decided
//!    at an earlier step, so no fill ever uses a price its decision could not have had);
//! 2. the bar's close becomes the symbol's mark;
//! 3. equity = cash + Σ position × mark is recorded for t (marked at the close);
//! 4. the strategy sees step t and may set target weights;
//! 5. targets are clipped (shorts, `max_position`), scaled to `max_gross`, and turned into
//!    orders for the difference between target and current quantity, sized with equity and
//!    marks at t. A weight change, not price drift, triggers an order: no silent rebalancing.
//!    The strategy's standing weights are kept as set; the `max_gross` scale is applied to a
//!    copy each step, so it never compounds from one step to the next. Equity quantities
//!    are whole shares as traded (see `portfolio::costs` for the split factor).
//!
//! `trade_from` (warm-up): before it, effective weights are 0 while the strategy runs and
//! sets its targets; from the first step at or after it they take effect.
//!
//! `flatten_at_close`: for equities, from the decision whose bar ends one bar before the
//! session close (the 15:58 bar at 1m, so the fill is the 15:59 open; 12:58 on NYSE's
//! early-close days, `session::close_minute`), effective weights are
//! 0 until the next session, when the strategy's standing targets are re-applied.
//!
//! No allocation happens per bar: buffers are sized at the start; the equity curve and fills
//! grow amortised. See benches/engine.rs for bars/s.
//!
//! The parts are injected (issue 14's seams): an [`Engine`] holds the state between steps
//! and takes one step at a time; [`run_with`] drives it from a `Feed` of closed bars with a
//! `Broker` (fallible, order ids, fills at a bar's open and late reports by `poll`); [`run`]
//! is the backtest: the loaded bars and the simulated broker, byte-identical to the loop
//! before the seams.

use super::feed::{Feed, HistoricalFeed};
use crate::broker::{Broker, BrokerEvent, Instrument, Order, SimBroker};
use crate::market::session::{AssetClass, NyClock, close_minute};
use crate::market::{AsTraded, Bars, Ts};
use crate::portfolio::QTY_EPS;
use crate::portfolio::{CostConfig, Fill, PortfolioConfig, TradeLedger};
use crate::run::{EquityCurve, RunResult};
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// Everything the loop needs besides bars and strategy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EngineConfig {
    /// `[portfolio]`: starting cash, position and gross limits, shorting, flattening.
    pub portfolio: PortfolioConfig,
    /// `[costs]`: commission, slippage, impact and participation limits.
    pub costs: CostConfig,
    /// Warm-up: before this time the strategy runs (and learns) but nothing trades; its
    /// standing targets take effect at the first step at or after it.
    pub trade_from: Option<Ts>,
}

struct Book {
    cash: f64,
    pos: Vec<f64>,
    mark: Vec<f64>,
    ledger: TradeLedger,
    fills: Vec<Fill>,
}

impl Book {
    fn apply(&mut self, f: Fill) {
        let s = f.symbol as usize;
        self.ledger.on_fill(&f, self.pos[s]);
        self.pos[s] += f.qty;
        if self.pos[s].abs() < QTY_EPS {
            self.pos[s] = 0.0;
        }
        self.cash -= f.qty * f.price + f.commission;
        self.fills.push(f);
    }

    fn marks(&self) -> (f64, f64, f64) {
        let (mut net, mut gross) = (0.0, 0.0);
        for (p, m) in self.pos.iter().zip(&self.mark) {
            if *p != 0.0 {
                net += p * m;
                gross += (p * m).abs();
            }
        }
        (self.cash + net, gross, net)
    }
}

/// Why a run stopped: the strategy, the broker or the feed failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError<S, B, F>
where
    S: std::error::Error + 'static,
    B: std::error::Error + 'static,
    F: std::error::Error + 'static,
{
    /// The strategy failed at a step.
    #[error(transparent)]
    Strategy(S),
    /// The broker failed (an order could not be placed, or its reports not read).
    #[error("broker: {0}")]
    Broker(#[source] B),
    /// The feed failed (its next step could not be read).
    #[error("feed: {0}")]
    Feed(#[source] F),
}

/// The error of [`run_with`] for strategy `S`, broker `B` and feed `F`.
pub type RunWithError<S, B, F> = EngineError<<S as Strategy>::Error, <B as Broker>::Error, <F as Feed>::Error>;

/// Runs `strategy` over `bars` with the simulated broker. `progress(done_bars,
/// total_bars)` is called every few thousand steps. Stops at the first step where the
/// strategy fails, with its error.
pub fn run<S: Strategy + ?Sized>(
    bars: &Bars,
    universe: &Universe,
    strategy: &mut S,
    cfg: &EngineConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RunResult, S::Error> {
    let broker = SimBroker::new(cfg.costs.clone(), instruments(universe, &cfg.portfolio));
    match run_with(&mut HistoricalFeed::new(bars), broker, universe, strategy, cfg, progress) {
        Ok(r) => Ok(r),
        Err(EngineError::Strategy(e)) => Err(e),
        Err(EngineError::Broker(never)) => match never {},
        Err(EngineError::Feed(never)) => match never {},
    }
}

/// How each symbol trades: quote-currency volume and fractional quantities for crypto,
/// fractional equities when `portfolio.fractional` says so.
pub fn instruments(universe: &Universe, pc: &PortfolioConfig) -> Vec<Instrument> {
    universe
        .classes
        .iter()
        .map(|c| Instrument {
            quote_volume: *c == AssetClass::Crypto,
            fractional: pc.fractional || *c == AssetClass::Crypto,
        })
        .collect()
}

/// Runs `strategy` over the steps of `feed`, orders going to `broker`: the loop of the
/// module docs, with its parts injected. [`run`] is this with the loaded bars and the
/// simulated broker.
pub fn run_with<F: Feed, B: Broker, S: Strategy + ?Sized>(
    feed: &mut F,
    broker: B,
    universe: &Universe,
    strategy: &mut S,
    cfg: &EngineConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RunResult, RunWithError<S, B, F>> {
    let _span = tracing::debug_span!("run", strategy = %strategy.name()).entered();
    let mut engine = Engine::new(feed.bars(), universe, cfg, broker);
    strategy.on_start(universe).map_err(EngineError::Strategy)?;
    let total = feed.len_hint().unwrap_or(0);
    if total > 0 {
        strategy.expect_bars(total);
    }
    let mut index = 0usize;
    while let Some(range) = feed.next_step().map_err(EngineError::Feed)? {
        let end = range.end;
        engine.step(feed.bars(), range, index, strategy)?;
        progress_tick(index, end, total, progress);
        index += 1;
    }
    progress(total, total);
    Ok(engine.finish(strategy.name()))
}

/// The loop's state between steps: the book, the equity curve, the standing targets, the
/// broker. One [`Engine::step`] per step of closed bars; [`Engine::finish`] makes the
/// result. The backtest drives it from a historical feed; the paper runner from a live one.
pub struct Engine<B: Broker> {
    cfg: EngineConfig,
    universe: Universe,
    instruments: Vec<Instrument>,
    broker: B,
    events: Vec<BrokerEvent>,
    as_traded: AsTraded,
    factor: Vec<f64>,
    last_ts: Vec<Ts>,
    book: Book,
    curve: EquityCurve,
    targets: Targets,
    desired: Vec<f64>,
    scaled: Vec<f64>,
    effective: Vec<f64>,
    clock: NyClock,
    flatten: bool,
    rejected: usize,
}

impl<B: Broker> Engine<B> {
    /// An engine for the symbols of `universe` (`bars`: the feed's bars, for their split
    /// schedule and size), with `broker`.
    pub fn new(bars: &Bars, universe: &Universe, cfg: &EngineConfig, broker: B) -> Self {
        let n = universe.symbols.len();
        let pc = &cfg.portfolio;
        let mut as_traded = AsTraded::new(bars);
        let factor: Vec<f64> = (0..n).map(|s| as_traded.at(s, i64::MIN)).collect();
        let mut curve = EquityCurve::default();
        // One point a step: the distinct bar starts (bars / symbols undercounts ragged
        // histories, and a curve that outgrows its capacity is copied at twice the size).
        let cap = bars.ts.chunk_by(|a, b| a == b).count() + 1;
        for v in [&mut curve.equity, &mut curve.cash, &mut curve.gross, &mut curve.net] {
            v.reserve(cap);
        }
        curve.ts.reserve(cap);
        Engine {
            cfg: cfg.clone(),
            universe: universe.clone(),
            instruments: instruments(universe, pc),
            broker,
            events: Vec::with_capacity(4),
            as_traded,
            factor,
            last_ts: vec![i64::MIN; n],
            book: Book {
                cash: pc.initial_cash,
                pos: vec![0.0; n],
                mark: vec![f64::NAN; n],
                ledger: TradeLedger::new(n),
                fills: Vec::new(),
            },
            curve,
            targets: Targets::new(n),
            desired: vec![0.0; n],
            scaled: vec![0.0; n],
            effective: vec![0.0; n],
            clock: NyClock::new(),
            flatten: pc.flatten_at_close && universe.classes.contains(&AssetClass::Equity),
            rejected: 0,
        }
    }

    /// Orders the broker rejected so far.
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// The broker.
    pub fn broker(&self) -> &B {
        &self.broker
    }

    /// The broker, to act on it between steps (the paper runner places the step's orders).
    pub fn broker_mut(&mut self) -> &mut B {
        &mut self.broker
    }

    /// Cash now.
    pub fn cash(&self) -> f64 {
        self.book.cash
    }

    /// Positions now, by symbol id.
    pub fn positions(&self) -> &[f64] {
        &self.book.pos
    }

    /// Equity at the latest step's closes (the starting cash before the first step).
    pub fn equity(&self) -> f64 {
        self.curve.equity.last().copied().unwrap_or(self.cfg.portfolio.initial_cash)
    }

    /// Every fill so far, cash in lieu at splits included, in the order applied.
    pub fn fills(&self) -> &[Fill] {
        &self.book.fills
    }

    /// Processes the step of rows `range` of `bars` (step number `index`): fills at the
    /// bars' opens, marks, the equity point, the strategy's decision, the orders.
    #[inline(always)]
    pub fn step<S: Strategy + ?Sized, F: std::error::Error + 'static>(
        &mut self,
        bars: &Bars,
        range: std::ops::Range<usize>,
        index: usize,
        strategy: &mut S,
    ) -> Result<(), EngineError<S::Error, B::Error, F>> {
        // Disjoint borrows of the state: the loop runs on locals the optimiser can keep in
        // registers across the broker's calls (as the loop did before it was a seam).
        let Engine {
            cfg,
            universe,
            instruments,
            broker,
            events,
            as_traded,
            factor,
            last_ts,
            book,
            curve,
            targets,
            desired,
            scaled,
            effective,
            clock,
            flatten,
            rejected,
        } = self;
        let n = universe.symbols.len();
        let pc = &cfg.portfolio;
        let t = bars.ts[range.start];
        for i in range.clone() {
            let bar = bars.bar(i);
            let s = bar.symbol as usize;
            let f = as_traded.at(s, bar.ts);
            if f != factor[s] {
                factor[s] = f;
                if let Some(cil) = cash_in_lieu(book, instruments, &bar, f, last_ts[s]) {
                    book.apply(cil);
                }
            }
            if let Some((_, fill)) = broker.on_open(&bar, factor[s]).map_err(EngineError::Broker)? {
                book.apply(fill);
            }
            last_ts[s] = bar.ts;
            book.mark[s] = bar.close;
        }
        let mut redo = false;
        if B::REPORTS_LATE {
            broker.poll(events).map_err(EngineError::Broker)?;
            if !events.is_empty() {
                redo = apply_events(book, events, rejected, effective, universe);
            }
        }
        let (equity, gross, net) = book.marks();
        curve.ts.push(t);
        curve.equity.push(equity);
        curve.cash.push(book.cash);
        curve.gross.push(gross);
        curve.net.push(net);

        let step = Step::new(bars, range.start, range.end, index);
        let view =
            PortfolioView { equity, cash: book.cash, positions: &book.pos, prices: &book.mark, as_traded: factor };
        strategy.on_step(&step, &view, targets).map_err(EngineError::Strategy)?;

        let mut touched = !targets.is_empty() || redo;
        for (s, w) in targets.drain() {
            let w = if pc.allow_short { w } else { w.max(0.0) };
            desired[s as usize] = if w.is_finite() { w.clamp(-pc.max_position, pc.max_position) } else { 0.0 };
        }
        if touched {
            let gross_w: f64 = desired.iter().map(|w| w.abs()).sum();
            let k = if gross_w > pc.max_gross { pc.max_gross / gross_w } else { 1.0 };
            scaled.iter_mut().zip(desired.iter()).for_each(|(x, w)| *x = w * k);
        }
        let warming = cfg.trade_from.is_some_and(|f| t < f);
        if cfg.trade_from.is_some() {
            touched = true;
        }
        let in_window = *flatten && {
            let close_min = close_minute(clock.date(t));
            let close = clock.utc_at_local_minute(t, close_min);
            t + 2 * universe.interval >= close
        };
        if *flatten {
            touched = true;
        }
        if !touched {
            return Ok(());
        }
        for s in 0..n {
            let want =
                if warming || (in_window && universe.classes[s] == AssetClass::Equity) { 0.0 } else { scaled[s] };
            if want == effective[s] {
                continue;
            }
            let mark = book.mark[s];
            if !mark.is_finite() {
                continue;
            }
            effective[s] = want;
            let mut qty = want * equity / mark;
            if !instruments[s].fractional {
                // Whole shares as traded: qty / factor real shares.
                qty = (qty / factor[s]).trunc() * factor[s];
            }
            let diff = qty - book.pos[s];
            broker.submit(Order { symbol: s as u32, qty: diff, decided_at: t }).map_err(EngineError::Broker)?;
        }
        Ok(())
    }

    /// The run's result: equity curve, fills, round trips (one still open is marked at the
    /// last close), final positions.
    pub fn finish(self, strategy: String) -> RunResult {
        let end = self.curve.ts.last().copied().unwrap_or(0);
        let positions = self.book.pos.clone();
        let trades = self.book.ledger.finish(end, &self.book.mark);
        RunResult {
            strategy,
            initial_cash: self.cfg.portfolio.initial_cash,
            equity: self.curve,
            fills: self.book.fills,
            trades,
            positions,
        }
    }
}

/// Applies the broker's reports of one bar: fills to the book, rejects counted and logged.
/// A rejected order's symbol is decided again at this step (its effective weight is
/// forgotten, so the standing target is sent anew rather than taken as done); returns
/// whether any was.
fn apply_events(
    book: &mut Book,
    events: &mut Vec<BrokerEvent>,
    rejected: &mut usize,
    effective: &mut [f64],
    universe: &Universe,
) -> bool {
    let mut any = false;
    for e in events.drain(..) {
        match e {
            BrokerEvent::Filled { fill, .. } => book.apply(fill),
            BrokerEvent::Rejected { order, symbol, reason } => {
                *rejected += 1;
                any = true;
                if let Some(w) = effective.get_mut(symbol as usize) {
                    *w = f64::NAN;
                }
                let name = universe.symbols.get(symbol as usize).map_or("?", |x| x.as_str());
                tracing::warn!(order = order.0, symbol = name, %reason, "order rejected");
            }
        }
    }
    any
}

/// A split with a ratio such as 5:4 or 1:N turns a whole number of shares into a fraction;
/// as a broker does, the fraction is paid out in cash at the first bar on the new basis
/// (at its open, no commission), recorded as a fill that no decision made: its
/// `decided_at` is its own bar (`ts`), so the attribution leaves it unattributed.
fn cash_in_lieu(book: &Book, instruments: &[Instrument], bar: &crate::market::Bar, f: f64, prev: Ts) -> Option<Fill> {
    let s = bar.symbol as usize;
    let real = book.pos[s] / f;
    let frac = real - (real + real.signum() * 1e-6).trunc();
    if instruments[s].fractional || frac.abs() < 1e-6 || prev == i64::MIN {
        return None;
    }
    Some(Fill {
        ts: bar.ts,
        decided_at: bar.ts,
        symbol: bar.symbol,
        qty: -frac * f,
        price: bar.open,
        commission: 0.0,
        slippage: 0.0,
    })
}

#[inline]
fn progress_tick(index: usize, done: usize, total: usize, progress: &mut dyn FnMut(usize, usize)) {
    if index.is_multiple_of(1024) {
        progress(done, total);
        if index.is_multiple_of(8192) {
            tracing::debug!(step = index, bars = done, total, "bar loop");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::market::Bar;
    use crate::market::time::NS_PER_MIN;

    /// Sets `script[k]` at step k.
    struct Script(Vec<Vec<(u32, f64)>>);

    impl Strategy for Script {
        type Error = Infallible;
        fn name(&self) -> String {
            "script".into()
        }
        fn on_step(&mut self, step: &Step<'_>, _: &PortfolioView<'_>, t: &mut Targets) -> Result<(), Infallible> {
            for &(s, w) in self.0.get(step.index).map_or(&[][..], |v| v.as_slice()) {
                t.set(s, w);
            }
            Ok(())
        }
    }

    /// One symbol, minute bars, open = close = `prices[k]`, deep volume.
    fn bars(prices: &[f64]) -> Bars {
        let mut b = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (k, &p) in prices.iter().enumerate() {
            b.push(Bar { ts: k as i64 * NS_PER_MIN, symbol: 0, open: p, high: p, low: p, close: p, volume: 1e12 });
        }
        b
    }

    fn free() -> EngineConfig {
        let costs = CostConfig {
            commission_bps: 0.0,
            commission_per_share: 0.0,
            commission_min: 0.0,
            slippage_bps: 0.0,
            impact_bps: 0.0,
            ..Default::default()
        };
        EngineConfig {
            portfolio: PortfolioConfig { initial_cash: 1000.0, ..Default::default() },
            costs,
            trade_from: None,
        }
    }

    fn go(prices: &[f64], script: Vec<Vec<(u32, f64)>>, cfg: &EngineConfig) -> RunResult {
        let b = bars(prices);
        let u = Universe { symbols: b.symbols.clone(), classes: vec![AssetClass::Equity], interval: NS_PER_MIN };
        let Ok(r) = run(&b, &u, &mut Script(script), cfg, &mut |_, _| {});
        r
    }

    #[test]
    fn test_engine_fills_next_open_and_never_rebalances_on_drift() {
        // 50% at step 0 (close 10): 50 shares, bought at step 1's open (10). Prices double;
        // the standing target trades nothing more until the weight itself changes.
        let r =
            go(&[10.0, 10.0, 20.0, 40.0, 40.0], vec![vec![(0, 0.5)], vec![], vec![(0, 0.5)], vec![(0, 0.25)]], &free());
        assert_eq!(r.fills.len(), 2, "{:?}", r.fills);
        assert_eq!((r.fills[0].ts, r.fills[0].qty, r.fills[0].price), (NS_PER_MIN, 50.0, 10.0));
        // Step 3: equity 500 + 50 × 40 = 2500, a quarter is 625 / 40 = 15 shares (whole).
        assert_eq!((r.fills[1].decided_at, r.fills[1].qty), (3 * NS_PER_MIN, 15.0 - 50.0));
        assert_eq!(r.equity.equity, vec![1000.0, 1000.0, 1500.0, 2500.0, 2500.0]);
    }

    #[test]
    fn test_engine_warm_up_trades_nothing_then_applies_standing_targets() {
        let mut cfg = free();
        cfg.trade_from = Some(2 * NS_PER_MIN);
        let r = go(&[10.0, 11.0, 12.0, 13.0, 14.0], vec![vec![(0, 0.5)]], &cfg);
        assert_eq!(r.fills.len(), 1);
        // Decided at the first step at or after trade_from (close 12), filled at the next open.
        assert_eq!((r.fills[0].decided_at, r.fills[0].ts, r.fills[0].qty), (2 * NS_PER_MIN, 3 * NS_PER_MIN, 41.0));
    }

    #[test]
    fn test_engine_non_finite_target_is_flat_and_weights_are_capped() {
        let mut cfg = free();
        cfg.portfolio.max_position = 0.3;
        let r = go(&[10.0, 10.0, 10.0, 10.0], vec![vec![(0, 2.0)], vec![(0, f64::NAN)]], &cfg);
        assert_eq!(r.fills[0].qty, 30.0, "capped at max_position");
        assert_eq!(r.fills[1].qty, -30.0, "NaN means flat");
        assert_eq!(r.positions, vec![0.0]);
    }

    /// Two symbols at constant prices 10 and 20, deep volume.
    fn two(steps: usize) -> (Bars, Universe) {
        let mut b = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
        for k in 0..steps {
            for (s, p) in [(0u32, 10.0), (1, 20.0)] {
                let ts = k as i64 * NS_PER_MIN;
                b.push(Bar { ts, symbol: s, open: p, high: p, low: p, close: p, volume: 1e12 });
            }
        }
        let u = Universe {
            symbols: b.symbols.clone(),
            classes: vec![AssetClass::Equity, AssetClass::Equity],
            interval: NS_PER_MIN,
        };
        (b, u)
    }

    #[test]
    fn test_engine_gross_scaling_does_not_compound() {
        // max_gross 0.5: A = B = 0.5 scale to 0.25 each. Setting A to 0.5 again (unchanged)
        // and later B to 0.5 again must trade nothing: the scale applies to a copy.
        let mut cfg = free();
        cfg.portfolio.max_gross = 0.5;
        let (b, u) = two(6);
        let script = vec![vec![(0, 0.5), (1, 0.5)], vec![], vec![(0, 0.5)], vec![(1, 0.5)]];
        let Ok(r) = run(&b, &u, &mut Script(script), &cfg, &mut |_, _| {});
        // 0.25 × 1000 / 10 = 25 A, 0.25 × 1000 / 20 = 12 B (whole shares).
        let q: Vec<(u32, f64)> = r.fills.iter().map(|f| (f.symbol, f.qty)).collect();
        assert_eq!(q, vec![(0, 25.0), (1, 12.0)]);
    }

    #[test]
    fn test_engine_whole_shares_as_traded_under_a_split_factor() {
        // Adjusted price 10 with factor 4 (pre-split, traded at 40): 50% of 1000 is 12.5 real
        // shares -> 12 real = 48 adjusted shares, on the shares traded.
        let mut b = bars(&[10.0, 10.0, 10.0]);
        b.splits = vec![crate::market::AppliedSplit { symbol: "X".into(), from: 100 * NS_PER_MIN, ratio: 4.0 }];
        let u = Universe { symbols: b.symbols.clone(), classes: vec![AssetClass::Equity], interval: NS_PER_MIN };
        let mut cfg = free();
        cfg.costs.commission_per_share = 0.01;
        let Ok(r) = run(&b, &u, &mut Script(vec![vec![(0, 0.5)]]), &cfg, &mut |_, _| {});
        assert_eq!(r.fills.len(), 1);
        assert_eq!(r.fills[0].qty, 48.0);
        assert!((r.fills[0].commission - 0.12).abs() < 1e-12, "12 shares × 0.01: {}", r.fills[0].commission);
    }

    #[test]
    fn test_engine_pays_cash_in_lieu_of_a_fractional_share_after_a_split() {
        // A 5:4 split at step 3: 3 real shares (3.75 adjusted) become 3.75 real shares; the
        // 0.75 is sold at the split bar's open without commission, and the later exit to
        // flat then ends flat (a fraction no order could trade would be stuck for ever).
        let mut b = bars(&[10.0; 6]);
        b.splits = vec![crate::market::AppliedSplit { symbol: "X".into(), from: 3 * NS_PER_MIN, ratio: 1.25 }];
        let u = Universe { symbols: b.symbols.clone(), classes: vec![AssetClass::Equity], interval: NS_PER_MIN };
        let mut cfg = free();
        cfg.costs.commission_min = 1.0;
        let script = vec![vec![(0, 0.0375)], vec![], vec![], vec![], vec![(0, 0.0)]];
        let Ok(r) = run(&b, &u, &mut Script(script), &cfg, &mut |_, _| {});
        let q: Vec<(i64, f64, f64)> = r.fills.iter().map(|f| (f.ts / NS_PER_MIN, f.qty, f.commission)).collect();
        assert_eq!(q, vec![(1, 3.75, 1.0), (3, -0.75, 0.0), (5, -3.0, 1.0)]);
        assert_eq!(r.fills[1].decided_at, r.fills[1].ts, "no decision made the payout");
        assert_eq!(r.positions, vec![0.0]);
    }

    /// The simulator that refuses the first order it is sent (reported at the next poll,
    /// as a live broker reports a reject).
    struct RejectFirst {
        sim: SimBroker,
        refused: bool,
        pending: Vec<BrokerEvent>,
    }

    impl Broker for RejectFirst {
        type Error = Infallible;
        fn submit(&mut self, order: Order) -> Result<crate::broker::OrderId, Infallible> {
            if !self.refused {
                self.refused = true;
                let order_id = crate::broker::OrderId(999);
                self.pending.push(BrokerEvent::Rejected { order: order_id, symbol: order.symbol, reason: "no".into() });
                return Ok(order_id);
            }
            self.sim.submit(order)
        }
        fn on_open(&mut self, bar: &Bar, f: f64) -> Result<Option<(crate::broker::OrderId, Fill)>, Infallible> {
            self.sim.on_open(bar, f)
        }
        fn poll(&mut self, events: &mut Vec<BrokerEvent>) -> Result<(), Infallible> {
            events.append(&mut self.pending);
            Ok(())
        }
    }

    /// A rejected order does not count as done: the standing target (set once, at step 0)
    /// is sent again at the step that hears of the reject, and fills at the next open.
    #[test]
    fn test_engine_resends_a_standing_target_after_a_reject() {
        let (b, cfg) = (bars(&[10.0, 10.0, 10.0, 10.0]), free());
        let u = Universe { symbols: b.symbols.clone(), classes: vec![AssetClass::Equity], interval: NS_PER_MIN };
        let sim = SimBroker::new(cfg.costs.clone(), instruments(&u, &cfg.portfolio));
        let mut e = Engine::new(&b, &u, &cfg, RejectFirst { sim, refused: false, pending: Vec::new() });
        let mut script = Script(vec![vec![(0, 0.5)]]);
        for k in 0..4 {
            let Ok(()) = e.step::<_, Infallible>(&b, k..k + 1, k, &mut script);
        }
        let fills = e.fills();
        assert_eq!(fills.len(), 1, "{fills:?}");
        assert_eq!((fills[0].ts, fills[0].decided_at, fills[0].qty), (2 * NS_PER_MIN, NS_PER_MIN, 50.0));
    }
}
