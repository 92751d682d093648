//! Reporting: metrics, run artifacts (Parquet/JSON) and the terminal summary.

mod artifacts;
pub mod attribution;
pub mod breakdown;
mod json;
pub mod metrics;
pub mod shapley;
pub mod table;

pub use artifacts::{GraphArtifacts, ReportError, RunArtifacts, RunSummary, StrategyReport, write_run};
pub use metrics::{Annualisation, Metrics, compute};
