//! Reporting: metrics, run artifacts (Parquet/JSON), the terminal summary and the HTML report.

mod artifacts;
pub mod attribution;
pub mod breakdown;
pub mod html;
mod json;
pub mod metrics;
pub mod shapley;
pub mod table;

pub use artifacts::{GraphArtifacts, ReportError, RunArtifacts, RunSummary, StrategyReport, write_run};
pub(crate) use artifacts::{frame, time_column, write_parquet, write_text};
pub use metrics::{Annualisation, Metrics, compute};
