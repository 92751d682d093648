//! Errors of the market-data area: every variant names the file, and row-level ones the row
//! and the field, so a user can open the file and fix it.

use std::fmt;
use std::path::PathBuf;

/// Result of the market-data area.
pub(super) type Result<T> = std::result::Result<T, DataError>;

/// Where a bad row sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLoc {
    /// A CSV line, 1-based, the header being line 1.
    Line(usize),
    /// A Parquet data row, 1-based.
    Row(usize),
}

impl fmt::Display for RowLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowLoc::Line(n) => write!(f, "line {n}"),
            RowLoc::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// What is wrong with one row. Also the key under which `--on-bad-row skip` counts skips.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    /// A required field is empty or null.
    Missing {
        /// Name of the empty column.
        field: &'static str,
    },
    /// The timestamp is not RFC 3339 with an offset.
    BadTimestamp {
        /// The text found in the `timestamp` field.
        value: String,
    },
    /// A numeric field does not parse as a number.
    BadNumber {
        /// Name of the column that failed to parse.
        field: &'static str,
        /// The text found in that field.
        value: String,
    },
    /// A price or volume is NaN or infinite.
    NonFinite {
        /// Name of the price or volume column.
        field: &'static str,
        /// The NaN or infinite value read.
        value: f64,
    },
    /// A price is zero or negative.
    NonPositivePrice {
        /// Name of the price column (open, high, low or close).
        field: &'static str,
        /// The price read, ≤ 0.
        value: f64,
    },
    /// The high is below the low.
    HighBelowLow {
        /// The row's high price.
        high: f64,
        /// The row's low price, above the high.
        low: f64,
    },
    /// Open or close lies outside [low, high].
    OutsideRange {
        /// Which price is out of range: `open` or `close`.
        field: &'static str,
        /// That price.
        value: f64,
        /// The row's low price.
        low: f64,
        /// The row's high price.
        high: f64,
    },
    /// Volume below zero.
    NegativeVolume {
        /// The volume read, < 0.
        value: f64,
    },
    /// A CSV line with more or fewer fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// The symbol field is longer than any symbol (32 characters).
    LongSymbol {
        /// Its first 32 characters.
        start: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A second row with the same (timestamp, symbol).
    Duplicate {
        /// The symbol (with the other file's name when the first copy came from another file).
        symbol: String,
        /// The bar time shared by both rows, RFC 3339 in UTC.
        timestamp: String,
    },
    /// A row whose timestamp is earlier than the row before it.
    OutOfOrder {
        /// This row's time, RFC 3339 in UTC.
        timestamp: String,
        /// The previous row's (later) time, RFC 3339 in UTC.
        previous: String,
    },
}

impl RowProblem {
    /// Stable snake_case key used to count skipped rows by reason.
    pub fn reason(&self) -> &'static str {
        match self {
            RowProblem::Missing { .. } => "missing_value",
            RowProblem::BadTimestamp { .. } => "bad_timestamp",
            RowProblem::BadNumber { .. } => "bad_number",
            RowProblem::NonFinite { .. } => "non_finite",
            RowProblem::NonPositivePrice { .. } => "non_positive_price",
            RowProblem::HighBelowLow { .. } => "high_below_low",
            RowProblem::OutsideRange { .. } => "outside_range",
            RowProblem::NegativeVolume { .. } => "negative_volume",
            RowProblem::FieldCount { .. } => "field_count",
            RowProblem::LongSymbol { .. } => "long_symbol",
            RowProblem::Duplicate { .. } => "duplicate",
            RowProblem::OutOfOrder { .. } => "out_of_order",
        }
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowProblem::Missing { field } => write!(f, "field `{field}` is empty"),
            RowProblem::BadTimestamp { value } => write!(
                f,
                "field `timestamp`: cannot parse {value:?} as an RFC 3339 time with offset (e.g. 2013-10-07T13:30:00Z)"
            ),
            RowProblem::BadNumber { field, value } => {
                write!(f, "field `{field}`: cannot parse {value:?} as a number")
            }
            RowProblem::NonFinite { field, value } => {
                write!(f, "field `{field}`: value {value} is not finite")
            }
            RowProblem::NonPositivePrice { field, value } => {
                write!(f, "field `{field}`: price {value} must be > 0")
            }
            RowProblem::HighBelowLow { high, low } => {
                write!(f, "field `high`: high {high} is below low {low}")
            }
            RowProblem::OutsideRange { field, value, low, high } => {
                write!(f, "field `{field}`: {value} lies outside [low {low}, high {high}]")
            }
            RowProblem::NegativeVolume { value } => {
                write!(f, "field `volume`: volume {value} is negative")
            }
            RowProblem::FieldCount { expected, found } => {
                write!(f, "{found} fields where the header has {expected}")
            }
            RowProblem::LongSymbol { start, len } => {
                write!(f, "field `symbol`: {len} bytes starting {start:?} is longer than a symbol (at most 32)")
            }
            RowProblem::Duplicate { symbol, timestamp } => {
                write!(f, "duplicate bar for ({timestamp}, {symbol})")
            }
            RowProblem::OutOfOrder { timestamp, previous } => write!(
                f,
                "field `timestamp`: {timestamp} is earlier than the previous row's {previous} (rows must be sorted by time)"
            ),
        }
    }
}

/// Errors raised while loading, validating and transforming bars.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The path cannot be opened or read.
    #[error("{path}: cannot read")]
    Io {
        /// The file or folder that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A folder holds no CSV or Parquet file.
    #[error("{path}: no .csv or .parquet files in this folder")]
    NoFiles {
        /// The folder searched.
        path: PathBuf,
    },
    /// The file's extension is neither CSV nor Parquet.
    #[error("{path}: unsupported file type (expected .csv or .parquet)")]
    UnsupportedFormat {
        /// The file with the unknown extension.
        path: PathBuf,
    },
    /// The file has a header but no data rows, or nothing at all.
    #[error("{path}: empty file (no data rows)")]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// A required column is absent.
    #[error(
        "{path}: missing column `{column}` (found: {found}); expected columns timestamp,symbol,open,high,low,close,volume{hint}"
    )]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The canonical column that is absent (e.g. `close`).
        column: &'static str,
        /// The file's column names, comma-separated.
        found: String,
        /// A "did you mean" suffix for a near-miss (wrong case, spaces), or empty.
        hint: String,
    },
    /// A column has a type that cannot be read as the field it stands for.
    #[error("{path}: column `{column}` has type {dtype}, expected {expected}")]
    ColumnType {
        /// The data file.
        path: PathBuf,
        /// The column's name.
        column: String,
        /// The column's actual data type, as Polars prints it.
        dtype: String,
        /// What the field needs: `a number`, `text`, or `RFC 3339 text or Datetime`.
        expected: &'static str,
    },
    /// One row failed validation (with `--on-bad-row fail`).
    #[error("{path}: {loc}: {problem}")]
    BadRow {
        /// The data file.
        path: PathBuf,
        /// The row's CSV line or Parquet row number.
        loc: RowLoc,
        /// What is wrong with the row.
        problem: RowProblem,
    },
    /// The file is not well-formed CSV/Parquet.
    #[error("{path}: {message}")]
    Format {
        /// The file that failed to parse.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A Lean factor file or a split entry is malformed.
    #[error("{path}: line {line}: {message}")]
    FactorFile {
        /// The factor file.
        path: PathBuf,
        /// The bad line, 1-based.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A value given by the user (range, timeframe, symbol) is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Prices jump by a split ratio that no adjustment covers (see `market::splits`).
    #[error(
        "{0}\nA split traded as a price move corrupts every return across it. Fix it with \
         --factor-files DIR (Lean factor files, <symbol>.csv; a factor_files/ folder next to \
         the data is used by itself), or in the config file:\n\n{1}\n\nor pass \
         --allow-unadjusted (data.allow_unadjusted = true) to trade it as a price move"
    )]
    UnadjustedSplit(String, String),
    /// Filters removed every bar.
    #[error("no bars left after filtering: {0}")]
    NoBars(String),
}
