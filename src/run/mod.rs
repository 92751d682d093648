//! What a run produces, shared by the engine that makes it and the reports that read it:
//! the equity curve, fills and trades of one strategy ([`RunResult`]), and for the analyst
//! graph the votes and composer weights step by step ([`VoteLog`], [`WeightLog`]).

mod logs;

pub use logs::{VoteLog, WeightLog};

use crate::market::Ts;
use crate::portfolio::{Fill, Trade};

/// Equity marked at the close of every step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquityCurve {
    pub ts: Vec<Ts>,
    pub equity: Vec<f64>,
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
    pub strategy: String,
    pub initial_cash: f64,
    pub equity: EquityCurve,
    pub fills: Vec<Fill>,
    pub trades: Vec<Trade>,
    /// Final position per symbol.
    pub positions: Vec<f64>,
}
