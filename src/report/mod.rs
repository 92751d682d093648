//! Reporting: metrics, run artifacts (Parquet/JSON) and the terminal summary.

pub mod artifacts;
pub mod json;
pub mod metrics;
pub mod table;

pub use artifacts::{RunSummary, StrategyReport, write_run};
pub use metrics::{Annualisation, Metrics, compute};
