//! Reading one bar file (CSV or Parquet) with polars into raw columns, then into `Bars`.
//!
//! CSV takes a fast typed path first (polars parses the numbers, multi-threaded). If polars
//! rejects a value, the file is read again with every column as text and each row is parsed
//! here, so the error names the exact line and field (or, with `--on-bad-row skip`, the row
//! is skipped and counted). Parquet columns are typed by the file; numeric types are cast to
//! f64, `Datetime` timestamps of any unit are converted to nanoseconds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::bars::{Bars, ExtraColumn};
use super::error::{DataError, Result, RowLoc, RowProblem};
use super::time::{Ts, parse_rfc3339};
use super::validate::{BadRowPolicy, RawColumns, SkipCounts, build_bars};

/// The canonical column names, in order.
pub(super) const COLUMNS: [&str; 7] = ["timestamp", "symbol", "open", "high", "low", "close", "volume"];
const NUMERIC: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// The format of a bar file, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// Detects the format from the file extension (`.csv`, `.parquet`, `.pq`).
    pub(super) fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// Reads one file into `Bars` (symbols in order of first appearance, rows in file order),
/// applying the bad-row policy. `keep_symbol` filters rows before validation.
pub(super) fn read_file(
    path: &Path,
    policy: BadRowPolicy,
    keep_symbol: &dyn Fn(&str) -> bool,
    skipped: &mut SkipCounts,
) -> Result<Bars> {
    let format = Format::of(path).ok_or_else(|| DataError::UnsupportedFormat { path: path.to_path_buf() })?;
    match format {
        Format::Csv => read_csv(path, policy, keep_symbol, skipped),
        Format::Parquet => read_parquet(path, policy, keep_symbol, skipped),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io { path: path.to_path_buf(), source }
}

fn format_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Format { path: path.to_path_buf(), message: e.to_string() }
}

/// Checks that every canonical column is present, with a hint for near-misses.
fn check_columns(path: &Path, found: &[String]) -> Result<()> {
    for column in COLUMNS {
        if !found.iter().any(|f| f == column) {
            let near = found.iter().find(|f| f.trim().eq_ignore_ascii_case(column));
            let hint = match near {
                Some(f) => format!("; did you mean `{f}`? (names are lower-case)"),
                None => String::new(),
            };
            return Err(DataError::MissingColumn { path: path.to_path_buf(), column, found: found.join(", "), hint });
        }
    }
    Ok(())
}

fn read_csv_header(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line).map_err(|e| io_err(path, e))?;
    let line = line.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    if line.contains('\r') {
        return Err(format_err(
            path,
            "lines end with a lone CR (classic Mac line endings): convert the file to LF or CRLF line endings",
        ));
    }
    Ok(line.split(',').map(|s| s.trim().trim_matches('"').to_string()).collect())
}

fn csv_frame(path: &Path, typed: bool) -> PolarsResult<DataFrame> {
    let mut opts = CsvReadOptions::default().with_has_header(true).with_raise_if_empty(false);
    if typed {
        let mut schema = Schema::default();
        schema.insert("timestamp".into(), DataType::String);
        schema.insert("symbol".into(), DataType::String);
        for c in NUMERIC {
            schema.insert(c.into(), DataType::Float64);
        }
        opts = opts.with_schema_overwrite(Some(Arc::new(schema))).with_infer_schema_length(Some(100));
    } else {
        // Length 0: every column is read as text, parsed row by row below.
        opts = opts.with_infer_schema_length(Some(0));
    }
    opts.try_into_reader_with_file_path(Some(path.to_path_buf()))?.finish()
}

fn read_csv(
    path: &Path,
    policy: BadRowPolicy,
    keep_symbol: &dyn Fn(&str) -> bool,
    skipped: &mut SkipCounts,
) -> Result<Bars> {
    let header = read_csv_header(path)?;
    check_columns(path, &header)?;
    let df = match csv_frame(path, true) {
        Ok(df) => df,
        Err(typed_err) => {
            tracing::debug!(path = %path.display(), error = %typed_err, "typed CSV read failed; re-reading as text");
            match csv_frame(path, false) {
                Ok(df) => df,
                Err(e) => return read_ragged_csv(path, header.len(), policy, keep_symbol, skipped, e),
            }
        }
    };
    frame_to_bars(path, &df, &|i| RowLoc::Line(i + 2), policy, keep_symbol, skipped)
}

/// Fields of one CSV line (commas outside double quotes, plus one).
fn field_count(line: &str) -> usize {
    let mut quoted = false;
    1 + line
        .bytes()
        .filter(|&b| {
            if b == b'"' {
                quoted = !quoted;
            }
            b == b',' && !quoted
        })
        .count()
}

/// polars refused the file even as text: find the lines whose number of fields differs
/// from the header's and name the first, or (with `--on-bad-row skip`) drop them, count
/// them as `field_count`, and read the rest, keeping each row's original line number.
fn read_ragged_csv(
    path: &Path,
    expected: usize,
    policy: BadRowPolicy,
    keep_symbol: &dyn Fn(&str) -> bool,
    skipped: &mut SkipCounts,
    polars_err: PolarsError,
) -> Result<Bars> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let mut kept = String::with_capacity(text.len());
    let mut lines: Vec<usize> = Vec::new();
    let mut dropped = 0usize;
    for (i, line) in text.lines().enumerate() {
        let found = field_count(line);
        if i > 0 && !line.trim().is_empty() && found != expected {
            if policy == BadRowPolicy::Fail {
                return Err(DataError::BadRow {
                    path: path.to_path_buf(),
                    loc: RowLoc::Line(i + 1),
                    problem: RowProblem::FieldCount { expected, found },
                });
            }
            dropped += 1;
            continue;
        }
        if i > 0 {
            lines.push(i + 1);
        }
        kept.push_str(line);
        kept.push('\n');
    }
    if dropped == 0 {
        return Err(format_err(path, polars_err));
    }
    *skipped.entry("field_count".to_string()).or_default() += dropped;
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(kept.into_bytes()))
        .finish()
        .map_err(|e| format_err(path, e))?;
    frame_to_bars(path, &df, &|i| RowLoc::Line(lines[i]), policy, keep_symbol, skipped)
}

fn read_parquet(
    path: &Path,
    policy: BadRowPolicy,
    keep_symbol: &dyn Fn(&str) -> bool,
    skipped: &mut SkipCounts,
) -> Result<Bars> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len();
    if len == 0 {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let df = ParquetReader::new(file).finish().map_err(|e| format_err(path, e))?;
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    check_columns(path, &names)?;
    frame_to_bars(path, &df, &|i| RowLoc::Row(i + 1), policy, keep_symbol, skipped)
}

/// Turns a frame holding the canonical columns into validated bars.
fn frame_to_bars(
    path: &Path,
    df: &DataFrame,
    loc: &dyn Fn(usize) -> RowLoc,
    policy: BadRowPolicy,
    keep_symbol: &dyn Fn(&str) -> bool,
    skipped: &mut SkipCounts,
) -> Result<Bars> {
    let n = df.height();
    if n == 0 {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let col = |name: &str| df.column(name).map_err(|e| format_err(path, e));
    let mut problems: BTreeMap<usize, RowProblem> = BTreeMap::new();

    let ts = ts_column(path, col("timestamp")?, &mut problems)?;
    let (symbols, sym, keep) = symbol_column(path, col("symbol")?, keep_symbol, &mut problems)?;
    let mut nums: Vec<Vec<f64>> = Vec::with_capacity(NUMERIC.len());
    for field in NUMERIC {
        nums.push(num_column(path, col(field)?, field, &mut problems)?);
    }
    let extra = extra_columns(df);
    let [open, high, low, close, volume]: [Vec<f64>; 5] =
        nums.try_into().map_err(|_| format_err(path, "internal: column count"))?;
    let raw = RawColumns { ts, symbols, sym, keep, open, high, low, close, volume, extra, problems };
    build_bars(path, raw, loc, policy, skipped)
}

fn column_type_err(path: &Path, c: &Column, expected: &'static str) -> DataError {
    DataError::ColumnType {
        path: path.to_path_buf(),
        column: c.name().to_string(),
        dtype: c.dtype().to_string(),
        expected,
    }
}

fn note(problems: &mut BTreeMap<usize, RowProblem>, row: usize, p: RowProblem) {
    problems.entry(row).or_insert(p);
}

fn ts_column(path: &Path, c: &Column, problems: &mut BTreeMap<usize, RowProblem>) -> Result<Vec<Ts>> {
    match c.dtype() {
        DataType::String => {
            let ca = c.str().map_err(|e| format_err(path, e))?;
            let mut out = Vec::with_capacity(ca.len());
            for (i, v) in ca.iter().enumerate() {
                let t = match v {
                    None => {
                        note(problems, i, RowProblem::Missing { field: "timestamp" });
                        0
                    }
                    Some(s) if s.trim().is_empty() => {
                        note(problems, i, RowProblem::Missing { field: "timestamp" });
                        0
                    }
                    Some(s) => parse_rfc3339(s).unwrap_or_else(|| {
                        note(problems, i, RowProblem::BadTimestamp { value: s.to_string() });
                        0
                    }),
                };
                out.push(t);
            }
            Ok(out)
        }
        DataType::Datetime(_, None) => Err(format_err(
            path,
            "column `timestamp` is a Datetime without a time zone; quorum reads times as UTC instants \
             (as CSV times need an offset): write it with a time zone (e.g. UTC) or as RFC 3339 text",
        )),
        DataType::Datetime(unit, _) => {
            let mult = match unit {
                TimeUnit::Nanoseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Milliseconds => 1_000_000,
            };
            let ca = c.datetime().map_err(|e| format_err(path, e))?;
            if ca.null_count() == 0 {
                let mut out = Vec::with_capacity(ca.len());
                for arr in ca.physical().downcast_iter() {
                    out.extend(arr.values().iter().map(|t| t.saturating_mul(mult)));
                }
                return Ok(out);
            }
            Ok(ca
                .physical()
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Some(t) => t.saturating_mul(mult),
                    None => {
                        note(problems, i, RowProblem::Missing { field: "timestamp" });
                        0
                    }
                })
                .collect())
        }
        _ => Err(column_type_err(path, c, "RFC 3339 text or Datetime")),
    }
}

type SymbolCol = (Vec<String>, Vec<u32>, Vec<bool>);

const NO_SYMBOL: u32 = u32::MAX;
const LONG_SYMBOL: u32 = u32::MAX - 1;
/// Longest symbol accepted (option symbols in OCC format are 21 characters).
pub(super) const MAX_SYMBOL_LEN: usize = 32;

/// Interns symbol names (ids in order of first appearance).
struct Interner<'k> {
    names: Vec<String>,
    keep: Vec<bool>,
    keep_symbol: &'k dyn Fn(&str) -> bool,
}

impl Interner<'_> {
    /// The id of a symbol, upper-cased (`spy` and `SPY` are one instrument).
    fn id(&mut self, raw: &str) -> u32 {
        let s = trim(raw);
        if s.is_empty() {
            return NO_SYMBOL;
        }
        if s.len() > MAX_SYMBOL_LEN {
            return LONG_SYMBOL;
        }
        let upper;
        let s = if s.bytes().any(|b| b.is_ascii_lowercase()) {
            upper = s.to_ascii_uppercase();
            upper.as_str()
        } else {
            s
        };
        match self.names.iter().position(|n| n == s) {
            Some(p) => p as u32,
            None => {
                self.names.push(s.to_string());
                self.keep.push((self.keep_symbol)(s));
                (self.names.len() - 1) as u32
            }
        }
    }
}

/// Symbols as ids. Arrow string views of up to 12 bytes hold the whole string inline, so
/// two inline views are equal exactly when their strings are: the hot loop compares one
/// `u128` per row against the views seen so far instead of comparing strings.
fn symbol_column(
    path: &Path,
    c: &Column,
    keep_symbol: &dyn Fn(&str) -> bool,
    problems: &mut BTreeMap<usize, RowProblem>,
) -> Result<SymbolCol> {
    let c = match c.dtype() {
        DataType::String => c.clone(),
        DataType::Categorical(..) | DataType::Enum(..) => c.cast(&DataType::String).map_err(|e| format_err(path, e))?,
        _ => return Err(column_type_err(path, c, "text")),
    };
    let ca = c.str().map_err(|e| format_err(path, e))?;
    let mut interner = Interner { names: Vec::new(), keep: Vec::new(), keep_symbol };
    let mut seen: Vec<(u128, u32)> = Vec::new();
    let mut last: (u128, u32) = (u128::MAX, NO_SYMBOL);
    let mut ids = Vec::with_capacity(ca.len());
    if ca.null_count() > 0 {
        ids.extend(ca.iter().map(|v| v.map(|s| interner.id(s)).unwrap_or(NO_SYMBOL)));
    } else {
        for arr in ca.downcast_iter() {
            for (j, view) in arr.views().iter().enumerate() {
                let id = if view.is_inline() {
                    let key = view.as_u128();
                    if key == last.0 {
                        last.1
                    } else {
                        let id = match seen.iter().find(|(k, _)| *k == key) {
                            Some(&(_, id)) => id,
                            None => {
                                let id = interner.id(arr.value(j));
                                seen.push((key, id));
                                id
                            }
                        };
                        last = (key, id);
                        id
                    }
                } else {
                    interner.id(arr.value(j))
                };
                ids.push(id);
            }
        }
    }
    for (i, id) in ids.iter().enumerate() {
        if *id == NO_SYMBOL {
            note(problems, i, RowProblem::Missing { field: "symbol" });
        } else if *id == LONG_SYMBOL {
            let v = ca.get(i).unwrap_or_default();
            let head: String = v.chars().take(MAX_SYMBOL_LEN).collect();
            note(problems, i, RowProblem::LongSymbol { start: head, len: v.len() });
        }
    }
    let keep: Vec<bool> = ids.iter().map(|&id| id >= LONG_SYMBOL || interner.keep[id as usize]).collect();
    for id in &mut ids {
        if *id >= LONG_SYMBOL {
            *id = 0;
        }
    }
    Ok((interner.names, ids, keep))
}

/// Trims ASCII whitespace only when there is some (the common case has none).
#[inline]
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if !f.is_ascii_whitespace() && !l.is_ascii_whitespace() => s,
        _ => s.trim(),
    }
}

fn num_column(
    path: &Path,
    c: &Column,
    field: &'static str,
    problems: &mut BTreeMap<usize, RowProblem>,
) -> Result<Vec<f64>> {
    let dtype = c.dtype();
    if dtype == &DataType::String {
        let ca = c.str().map_err(|e| format_err(path, e))?;
        let mut out = Vec::with_capacity(ca.len());
        for (i, v) in ca.iter().enumerate() {
            let s = v.map(str::trim).unwrap_or("");
            let x = if s.is_empty() {
                note(problems, i, RowProblem::Missing { field });
                f64::NAN
            } else {
                s.parse::<f64>().unwrap_or_else(|_| {
                    note(problems, i, RowProblem::BadNumber { field, value: s.to_string() });
                    f64::NAN
                })
            };
            out.push(x);
        }
        return Ok(out);
    }
    if !dtype.is_primitive_numeric() {
        return Err(column_type_err(path, c, "a number"));
    }
    let casted = c.cast(&DataType::Float64).map_err(|e| format_err(path, e))?;
    let ca = casted.f64().map_err(|e| format_err(path, e))?;
    let mut out = Vec::with_capacity(ca.len());
    if ca.null_count() == 0 {
        for arr in ca.downcast_iter() {
            out.extend_from_slice(arr.values().as_slice());
        }
    } else {
        for (i, v) in ca.iter().enumerate() {
            out.push(v.unwrap_or_else(|| {
                note(problems, i, RowProblem::Missing { field });
                f64::NAN
            }));
        }
    }
    Ok(out)
}

/// Extra numeric columns (e.g. option-flow `net_gamma`, `dealer_flow`) are carried along
/// with NaN for missing values; non-numeric extras are ignored (logged at debug level).
fn extra_columns(df: &DataFrame) -> Vec<ExtraColumn> {
    let mut out = Vec::new();
    for c in df.columns() {
        let name = c.name().as_str();
        if COLUMNS.contains(&name) {
            continue;
        }
        let values: Option<Vec<f64>> = match c.dtype() {
            d if d.is_primitive_numeric() => c
                .cast(&DataType::Float64)
                .ok()
                .and_then(|c| c.f64().ok().map(|ca| ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())),
            DataType::String => c.str().ok().and_then(|ca| {
                let v: Vec<Option<f64>> = ca.iter().map(|s| s.and_then(|s| s.trim().parse().ok())).collect();
                v.iter().any(Option::is_some).then(|| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            }),
            _ => None,
        };
        match values {
            Some(values) => out.push(ExtraColumn { name: name.to_string(), values }),
            None => tracing::debug!(column = name, "ignoring non-numeric extra column"),
        }
    }
    out
}
