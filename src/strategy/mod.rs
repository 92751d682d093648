//! The Strategy/Signal boundary: after each time step closes, a strategy sees that step's
//! bars (and only them: no handle to later rows exists) plus the portfolio, and may set
//! target weights per symbol. The engine turns targets into orders filled at each symbol's
//! next bar open. Buy-and-hold, the SMA cross, the analyst actor graph
//! (`engine::graph::GraphStrategy`) and its vote replays all plug in here, so the engine
//! never changes when a new signal source arrives.

mod buy_hold;
mod sma_cross;

pub use buy_hold::BuyAndHold;
pub use sma_cross::{SmaCross, SmaParams};

use crate::market::{AssetClass, Bar, Bars, SymbolId, Ts};

/// The symbols of a run and their calendars.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe {
    /// Symbol names; a symbol's id is its index here.
    pub symbols: Vec<String>,
    /// Asset class (equity or crypto) of each symbol, in `symbols` order.
    pub classes: Vec<AssetClass>,
    /// Bar interval in nanoseconds.
    pub interval: i64,
}

/// One time step: the bars that share a start timestamp, all closed.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    bars: &'a Bars,
    start: usize,
    end: usize,
    /// Bar start of this step.
    pub ts: Ts,
    /// Ordinal of this step in the run (0-based).
    pub index: usize,
}

impl<'a> Step<'a> {
    /// A step over rows `start..end` of `bars` (all with timestamp `bars.ts[start]`).
    pub(crate) fn new(bars: &'a Bars, start: usize, end: usize, index: usize) -> Self {
        Step { bars, start, end, ts: bars.ts[start], index }
    }

    /// Number of bars in the step.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the step holds no bars (never, for steps the engine makes).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The `k`-th bar of the step.
    pub fn bar(&self, k: usize) -> Bar {
        assert!(k < self.len(), "bar {k} outside a step of {}", self.len());
        self.bars.bar(self.start + k)
    }

    /// The bars of the step.
    pub fn bars(&self) -> impl Iterator<Item = Bar> + 'a {
        let b = self.bars;
        (self.start..self.end).map(move |i| b.bar(i))
    }

    /// Values of an extra column (e.g. `net_gamma`) for this step's bars, if present.
    pub fn extra(&self, name: &str) -> Option<&'a [f64]> {
        self.extras().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every extra column: its name and its values for this step's bars.
    pub fn extras(&self) -> impl Iterator<Item = (&'a str, &'a [f64])> + 'a {
        let (bars, r): (&'a Bars, _) = (self.bars, self.start..self.end);
        bars.extra.iter().map(move |e| (e.name.as_str(), &e.values[r.clone()]))
    }
}

/// What a strategy may know of the portfolio at decision time.
#[derive(Debug, Clone, Copy)]
pub struct PortfolioView<'a> {
    /// Equity at this step's close: cash + Σ position × last close, in currency.
    pub equity: f64,
    /// Cash after this step's fills, in currency.
    pub cash: f64,
    /// Position per symbol id (units, signed).
    pub positions: &'a [f64],
    /// Last close per symbol id (NaN before its first bar).
    pub prices: &'a [f64],
    /// Split factor per symbol id at this step: the price as traded is `prices × as_traded`
    /// and a quantity as traded is `positions / as_traded` (1 without splits; see
    /// [`crate::market::AsTraded`]).
    pub as_traded: &'a [f64],
}

/// Target weights set during one step (fraction of equity, signed).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    weights: Vec<Option<f64>>,
    changed: Vec<SymbolId>,
}

impl Targets {
    /// An empty target book for `n` symbols.
    pub fn new(n: usize) -> Self {
        Targets { weights: vec![None; n], changed: Vec::new() }
    }

    /// Sets symbol `s`'s target weight (replacing one set earlier in the same step).
    pub fn set(&mut self, s: SymbolId, weight: f64) {
        let slot = &mut self.weights[s as usize];
        if slot.is_none() {
            self.changed.push(s);
        }
        *slot = Some(weight);
    }

    /// Takes the targets set this step, in the order first set.
    pub fn drain(&mut self) -> impl Iterator<Item = (SymbolId, f64)> + '_ {
        let w = &mut self.weights;
        self.changed.drain(..).map(move |s| (s, w[s as usize].take().unwrap_or(0.0)))
    }

    /// The targets set this step, in the order first set (left in place).
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, f64)> + '_ {
        self.changed.iter().map(|&s| (s, self.weights[s as usize].unwrap_or(0.0)))
    }

    /// True if nothing was set this step.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

/// A signal source.
///
/// A strategy that cannot fail says so with `type Error = std::convert::Infallible`; the
/// engine then cannot fail either (`let Ok(result) = engine::run(..)`). One that can (the
/// analyst graph: its memory, its actors) returns its own typed error, and the engine stops
/// at the step where it happened and returns it.
pub trait Strategy {
    /// Why the strategy could not go on.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A short name for reports (`sma-cross`, `buy-and-hold`, `composed`).
    fn name(&self) -> String;

    /// Called once before the first step.
    fn on_start(&mut self, _universe: &Universe) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Called once before the first step when the feed knows how many bars it holds: a
    /// hint to size per-step logs once (growing a log of 100k votes by doubling copied it
    /// and faulted in fresh pages at every doubling: 7% of a graph run, issue 16).
    fn expect_bars(&mut self, _bars: usize) {}

    /// Called after every bar of `step` has closed; may set targets.
    fn on_step(
        &mut self,
        step: &Step<'_>,
        portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), Self::Error>;
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    type Error = S::Error;
    fn name(&self) -> String {
        (**self).name()
    }
    fn on_start(&mut self, universe: &Universe) -> Result<(), S::Error> {
        (**self).on_start(universe)
    }
    fn expect_bars(&mut self, bars: usize) {
        (**self).expect_bars(bars)
    }
    fn on_step(
        &mut self,
        step: &Step<'_>,
        portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), S::Error> {
        (**self).on_step(step, portfolio, targets)
    }
}
