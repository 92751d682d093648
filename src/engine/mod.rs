//! The engine: the bar loop that joins a feed of bars, a strategy, a broker and the
//! portfolio ([`run`]), the analyst graph as a strategy ([`graph`]: actors, learning loop,
//! news routing, vote replays), and the runner that goes from a config to a run folder
//! ([`backtest`], [`backtest_with`]). The loop takes its feed and broker injected
//! ([`run_with`], [`feed`]); the paper runner will drive the same [`Engine`] with a live feed
//! and another broker.

mod backtest;
pub mod clock;
pub mod feed;
pub mod graph;
mod runner;

pub use crate::run::{EquityCurve, RunResult};
pub use backtest::{Engine, EngineConfig, EngineError, RunWithError, instruments, run, run_with};
pub use runner::{BacktestOutput, Phase, RunError, Worth, backtest, backtest_with, shapley_replay, trading_weights};
pub(crate) use runner::{
    ablation_run, annualisation, benchmark_run, build_graph, graph_inputs, graph_results, since, worth, write_folder,
};
