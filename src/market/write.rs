//! Writing bars back out in the canonical layout (Parquet), e.g. to convert CSV once and
//! load faster afterwards.

use std::path::Path;

use polars::prelude::*;

use super::bars::Bars;
use super::error::{DataError, Result};

/// The bars as a polars frame in the canonical layout (`timestamp` as `Datetime(ns, UTC)`),
/// extra columns appended.
pub fn to_frame(bars: &Bars) -> PolarsResult<DataFrame> {
    let names: Vec<&str> = bars.sym.iter().map(|&s| bars.symbol_name(s)).collect();
    let mut cols = vec![
        Series::new("timestamp".into(), &bars.ts[..])
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column(),
        Column::new("symbol".into(), names),
        Column::new("open".into(), &bars.open),
        Column::new("high".into(), &bars.high),
        Column::new("low".into(), &bars.low),
        Column::new("close".into(), &bars.close),
        Column::new("volume".into(), &bars.volume),
    ];
    for e in &bars.extra {
        cols.push(Column::new(e.name.as_str().into(), &e.values));
    }
    DataFrame::new_infer_height(cols)
}

/// Writes the bars to a Parquet file (zstd, polars' default).
pub fn write_parquet(bars: &Bars, path: &Path) -> Result<()> {
    let err = |e: PolarsError| DataError::Format { path: path.to_path_buf(), message: e.to_string() };
    let mut df = to_frame(bars).map_err(err)?;
    let file = std::fs::File::create(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    ParquetWriter::new(file).finish(&mut df).map_err(err)?;
    Ok(())
}
