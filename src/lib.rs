//! quorum: intraday trading research with analyst actors, a shared decaying memory and an
//! honest backtester.
//!
//! Load real bars ([`market`]), run the analyst graph or any [`Strategy`] through the bar
//! loop ([`engine`]) with next-bar-open fills and costs ([`broker`], [`portfolio`]), and
//! measure it ([`report`]). The analysts ([`agents`]) recall from one shared memory
//! ([`memory`]); the [`composer`] weighs their votes.
//!
//! The public API is curated: each area is a module whose implementation files are
//! private, and exports what users and tests need (as tantivy does). The most used types
//! are re-exported here. The command line lives in the binary, not in the library.
//!
//! ```no_run
//! use quorum::config::Config;
//! let mut cfg = Config::default();
//! cfg.data.path = "data/bars".into();
//! cfg.output.dir = std::env::temp_dir().join("quorum-doc-run");
//! let out = quorum::engine::backtest(&cfg, &mut |_, _, _| {}).unwrap();
//! println!("{}", quorum::report::table::render(&out.summary));
//! ```
// No unsafe code, except calls of functions compiled for AVX2/POPCNT after checking that
// the CPU has them (`simd`; each such call is marked `#[allow(unsafe_code)]`).
#![deny(unsafe_code)]
#![warn(unreachable_pub, missing_docs)]

pub mod agents;
pub mod alpaca;
pub mod broker;
pub mod composer;
pub mod config;
pub mod engine;
pub mod error;
pub mod features;
pub mod market;
pub mod memory;
pub mod num;
pub mod paper;
pub mod portfolio;
pub mod report;
pub mod research;
pub mod rng;
pub mod run;
mod simd;
pub mod strategy;

pub use agents::{Analyst, Registry};
pub use config::Config;
pub use engine::{BacktestOutput, RunError, backtest, backtest_with};
pub use memory::{MemoryStore, Query};
pub use run::RunResult;
pub use strategy::Strategy;
