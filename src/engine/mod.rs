//! The engine: the bar loop that joins a feed of bars, a strategy, a broker and the
//! portfolio ([`run`]), the analyst graph as a strategy ([`graph`]: actors, learning loop,
//! news routing, vote replays), and the runner that goes from a config to a run folder
//! ([`backtest`], [`backtest_with`]). The paper runner will reuse the loop with a live feed
//! and another broker.

mod backtest;
pub mod graph;
mod runner;

pub use crate::run::{EquityCurve, RunResult};
pub use backtest::{EngineConfig, run};
pub use runner::{BacktestOutput, Phase, RunError, Worth, backtest, backtest_with, shapley_replay};
