//! What a run produces, shared by the engine that makes it and the reports that read it:
//! the equity curve, fills and trades of one strategy ([`RunResult`]), and for the analyst
//! graph the votes and composer weights step by step ([`VoteLog`], [`WeightLog`]).

mod folder;
mod logs;

pub use folder::{FolderError, MARKER, Staging, check_complete, check_memory_dir, fault, normalise};
pub use logs::{VoteLog, WeightLog};

use crate::market::Ts;
use crate::portfolio::{Fill, Trade};

/// Equity marked at the close of every step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquityCurve {
    /// Step time (bar start of the step), nanoseconds since the Unix epoch.
    pub ts: Vec<Ts>,
    /// Equity at the step's close: cash + Σ position × last close, in currency.
    pub equity: Vec<f64>,
    /// Cash after the step's fills, in currency (below 0 when leveraged).
    pub cash: Vec<f64>,
    /// Σ |position × mark|.
    pub gross: Vec<f64>,
    /// Σ position × mark.
    pub net: Vec<f64>,
}

impl EquityCurve {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True with no points.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// What a backtest produced.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Strategy name, e.g. `sma-cross`, `composed`, `alone:<analyst>`, `buy-and-hold`.
    pub strategy: String,
    /// Starting cash, in currency (`portfolio.initial_cash`).
    pub initial_cash: f64,
    /// Equity, cash and exposure marked at every step.
    pub equity: EquityCurve,
    /// Every execution, in time order.
    pub fills: Vec<Fill>,
    /// Round trips; any still open at the end are marked at the last close and flagged `open`.
    pub trades: Vec<Trade>,
    /// Final position per symbol.
    pub positions: Vec<f64>,
}
