//! Market data: bars, time, loaders (polars: CSV, Parquet), validation, sessions,
//! resampling and corporate actions.

pub mod bars;
pub mod error;
pub mod load;
pub mod read;
pub mod resample;
pub mod session;
pub mod splits;
pub mod time;
pub mod validate;
pub mod write;

pub use bars::{Bar, Bars, SymbolId};
pub use error::{DataError, RowLoc, RowProblem};
pub use load::{LoadOptions, LoadReport, load};
pub use session::{AssetClass, SessionMode};
pub use time::Ts;
pub use validate::BadRowPolicy;
