//! quorum: intraday trading research with analyst actors, a shared decaying memory and an
//! honest backtester.
//!
//! The foundation: load real bars ([`market`]), run a [`strategy::Strategy`] through the
//! bar loop ([`engine`]) with next-bar-open fills and costs ([`broker`], [`portfolio`]),
//! and measure it ([`report`]).
//!
//! ```no_run
//! use quorum::config::Config;
//! let mut cfg = Config::default();
//! cfg.data.path = "data/bars".into();
//! cfg.output.dir = std::env::temp_dir().join("quorum-doc-run");
//! let out = quorum::engine::backtest(&cfg, &mut |_, _| {}).unwrap();
//! println!("{}", quorum::report::table::render(&out.summary));
//! ```
// No unsafe code, except calls of functions compiled for AVX2/POPCNT after checking that
// the CPU has them (`simd`; each such call is marked `#[allow(unsafe_code)]`).
#![deny(unsafe_code)]

pub mod agents;
pub mod broker;
pub mod cli;
pub mod composer;
pub mod config;
pub mod engine;
pub mod error;
pub mod features;
pub mod market;
pub mod memory;
pub mod portfolio;
pub mod report;
pub mod run;
pub mod simd;
pub mod strategy;
