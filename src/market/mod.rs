//! Market data: bars, time, loaders (polars: CSV, Parquet), validation, sessions,
//! resampling and corporate actions.

mod bars;
mod error;
mod load;
mod read;
mod resample;
pub mod session;
mod splits;
pub mod time;
mod validate;
mod write;

pub use bars::{Bar, Bars, ExtraColumn, SymbolId};
pub use error::{DataError, RowLoc, RowProblem};
pub(crate) use load::calendar_bars_per_session;
pub use load::{LoadOptions, LoadReport, load};
pub use session::{AssetClass, SessionMode};
pub use splits::{AppliedSplit, AsTraded, Split};
pub use time::{TimeBound, Timeframe, Ts};
pub use validate::BadRowPolicy;
pub use write::{to_frame, write_parquet};
