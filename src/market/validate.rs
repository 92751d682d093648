//! Row validation: what makes a bar acceptable, and what happens to one that is not.
//!
//! Checks, in the order a row's first problem is reported: missing fields, unparsable
//! timestamp or number, non-finite values, prices ≤ 0, high < low, open/close outside
//! [low, high], negative volume, then against the rows before it: a duplicate
//! (timestamp, symbol) and a timestamp earlier than the previous row's. With
//! [`BadRowPolicy::Fail`] (the default) the first bad row is an error naming file, row and
//! field; with [`BadRowPolicy::Skip`] bad rows are dropped and counted by reason.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::bars::{Bars, ExtraColumn};
use super::error::{DataError, Result, RowLoc, RowProblem};
use super::time::{Ts, format_ts};

/// What to do with a row that fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadRowPolicy {
    /// Stop with an error naming the file, row and field.
    #[default]
    Fail,
    /// Drop the row and count it by reason.
    Skip,
}

/// Skipped rows by reason (`RowProblem::reason`).
pub(super) type SkipCounts = BTreeMap<String, usize>;

/// Raw per-row columns of one file, before validation.
pub(super) struct RawColumns {
    pub ts: Vec<Ts>,
    /// Symbol names in order of first appearance; `sym` indexes them.
    pub symbols: Vec<String>,
    pub sym: Vec<u32>,
    /// False for rows removed by the symbol filter (not validated, not counted).
    pub keep: Vec<bool>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub extra: Vec<ExtraColumn>,
    /// The first parse problem of each row that has one.
    pub problems: BTreeMap<usize, RowProblem>,
}

/// Branch-free check that a row has no value problem (`check_values` would return None):
/// every value finite, low > 0, low ≤ open, close ≤ high, volume ≥ 0. Runs on every row;
/// only rows failing it go through [`check_values`] to name their problem.
#[inline]
pub(super) fn values_ok(open: f64, high: f64, low: f64, close: f64, volume: f64) -> bool {
    (open.is_finite() & high.is_finite() & low.is_finite() & close.is_finite() & volume.is_finite())
        & (low > 0.0)
        & (high >= low)
        & (open >= low)
        & (open <= high)
        & (close >= low)
        & (close <= high)
        & (volume >= 0.0)
}

/// The first value problem of a parsed row, if any.
pub(super) fn check_values(open: f64, high: f64, low: f64, close: f64, volume: f64) -> Option<RowProblem> {
    for (field, value) in [("open", open), ("high", high), ("low", low), ("close", close), ("volume", volume)] {
        if !value.is_finite() {
            return Some(RowProblem::NonFinite { field, value });
        }
    }
    for (field, value) in [("open", open), ("high", high), ("low", low), ("close", close)] {
        if value <= 0.0 {
            return Some(RowProblem::NonPositivePrice { field, value });
        }
    }
    if high < low {
        return Some(RowProblem::HighBelowLow { high, low });
    }
    for (field, value) in [("open", open), ("close", close)] {
        if value < low || value > high {
            return Some(RowProblem::OutsideRange { field, value, low, high });
        }
    }
    if volume < 0.0 {
        return Some(RowProblem::NegativeVolume { value: volume });
    }
    None
}

/// True when every row of `raw` is kept and valid: no parse problem, no filtered symbol,
/// every value passes [`values_ok`], timestamps never decrease and no (timestamp, symbol)
/// repeats. Tight branch-light loops over whole columns; a clean file (the common case)
/// skips the row-by-row path below. Measured on the five hourly files (204k rows): the row
/// loop cost ~33 ns a row, these passes ~3.
fn all_clean(raw: &RawColumns) -> bool {
    if !raw.problems.is_empty() || !raw.keep.iter().all(|&k| k) {
        return false;
    }
    let n = raw.ts.len();
    let mut ok = true;
    for i in 0..n {
        ok &= values_ok(raw.open[i], raw.high[i], raw.low[i], raw.close[i], raw.volume[i]);
    }
    if !ok || !raw.ts.windows(2).all(|w| w[0] <= w[1]) {
        return false;
    }
    let mut group = 0;
    for i in 1..n {
        if raw.ts[i] != raw.ts[i - 1] {
            group = i;
        } else if raw.sym[group..i].contains(&raw.sym[i]) {
            return false;
        }
    }
    true
}

/// Validates raw columns row by row and builds the file's bars (file order, local symbols).
pub(super) fn build_bars(
    path: &Path,
    raw: RawColumns,
    loc: &dyn Fn(usize) -> RowLoc,
    policy: BadRowPolicy,
    skipped: &mut SkipCounts,
) -> Result<Bars> {
    let n = raw.ts.len();
    if all_clean(&raw) {
        return Ok(Bars {
            symbols: raw.symbols,
            ts: raw.ts,
            sym: raw.sym,
            open: raw.open,
            high: raw.high,
            low: raw.low,
            close: raw.close,
            volume: raw.volume,
            extra: raw.extra,
            splits: Vec::new(),
        });
    }
    let mut bars = Bars {
        symbols: raw.symbols,
        extra: raw.extra.iter().map(|e| ExtraColumn { name: e.name.clone(), values: Vec::new() }).collect(),
        ..Default::default()
    };
    let mut reject = |i: usize, problem: RowProblem| -> Result<()> {
        match policy {
            BadRowPolicy::Fail => Err(DataError::BadRow { path: path.to_path_buf(), loc: loc(i), problem }),
            BadRowPolicy::Skip => {
                *skipped.entry(problem.reason().to_string()).or_default() += 1;
                Ok(())
            }
        }
    };
    // Row indices kept, materialised only once a row is dropped (most files drop none).
    let mut keep_rows: Option<Vec<usize>> = None;
    let drop_row = |keep_rows: &mut Option<Vec<usize>>, i: usize| {
        keep_rows.get_or_insert_with(|| (0..i).collect());
    };
    let mut problems = raw.problems.into_iter().peekable();
    let mut last_ts: Option<Ts> = None;
    let mut seen_at_ts: Vec<u32> = Vec::new();
    for i in 0..n {
        let parse_problem = match problems.peek() {
            Some((row, _)) if *row == i => problems.next().map(|(_, p)| p),
            _ => None,
        };
        if !raw.keep[i] {
            drop_row(&mut keep_rows, i);
            continue;
        }
        if let Some(p) = parse_problem {
            reject(i, p)?;
            drop_row(&mut keep_rows, i);
            continue;
        }
        if !values_ok(raw.open[i], raw.high[i], raw.low[i], raw.close[i], raw.volume[i])
            && let Some(p) = check_values(raw.open[i], raw.high[i], raw.low[i], raw.close[i], raw.volume[i])
        {
            reject(i, p)?;
            drop_row(&mut keep_rows, i);
            continue;
        }
        let t = raw.ts[i];
        let s = raw.sym[i];
        match last_ts {
            Some(prev) if t < prev => {
                reject(i, RowProblem::OutOfOrder { timestamp: format_ts(t), previous: format_ts(prev) })?;
                drop_row(&mut keep_rows, i);
                continue;
            }
            Some(prev) if t == prev => {
                if seen_at_ts.contains(&s) {
                    let symbol = bars.symbols[s as usize].clone();
                    reject(i, RowProblem::Duplicate { symbol, timestamp: format_ts(t) })?;
                    drop_row(&mut keep_rows, i);
                    continue;
                }
                seen_at_ts.push(s);
            }
            _ => {
                seen_at_ts.clear();
                seen_at_ts.push(s);
                last_ts = Some(t);
            }
        }
        if let Some(k) = &mut keep_rows {
            k.push(i);
        }
    }
    let keep_rows = keep_rows.unwrap_or_else(|| (0..n).collect());
    let take = |v: &[f64]| -> Vec<f64> { keep_rows.iter().map(|&i| v[i]).collect() };
    bars.ts = keep_rows.iter().map(|&i| raw.ts[i]).collect();
    bars.sym = keep_rows.iter().map(|&i| raw.sym[i]).collect();
    bars.open = take(&raw.open);
    bars.high = take(&raw.high);
    bars.low = take(&raw.low);
    bars.close = take(&raw.close);
    bars.volume = take(&raw.volume);
    for (dst, src) in bars.extra.iter_mut().zip(&raw.extra) {
        dst.values = take(&src.values);
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_check_values_table() {
        struct Case {
            name: &'static str,
            row: [f64; 5],
            reason: Option<&'static str>,
        }
        let cases = [
            Case { name: "good", row: [10.0, 11.0, 9.0, 10.5, 100.0], reason: None },
            Case { name: "zero volume ok", row: [10.0, 10.0, 10.0, 10.0, 0.0], reason: None },
            Case { name: "nan close", row: [10.0, 11.0, 9.0, f64::NAN, 1.0], reason: Some("non_finite") },
            Case { name: "inf volume", row: [10.0, 11.0, 9.0, 10.0, f64::INFINITY], reason: Some("non_finite") },
            Case { name: "zero low", row: [10.0, 11.0, 0.0, 10.0, 1.0], reason: Some("non_positive_price") },
            Case { name: "negative open", row: [-1.0, 11.0, 9.0, 10.0, 1.0], reason: Some("non_positive_price") },
            Case { name: "high below low", row: [10.0, 9.0, 11.0, 10.0, 1.0], reason: Some("high_below_low") },
            Case { name: "open above high", row: [12.0, 11.0, 9.0, 10.0, 1.0], reason: Some("outside_range") },
            Case { name: "close below low", row: [10.0, 11.0, 9.0, 8.0, 1.0], reason: Some("outside_range") },
            Case { name: "negative volume", row: [10.0, 11.0, 9.0, 10.0, -5.0], reason: Some("negative_volume") },
        ];
        for c in cases {
            let [o, h, l, cl, v] = c.row;
            assert_eq!(check_values(o, h, l, cl, v).map(|p| p.reason()), c.reason, "case {}", c.name);
            assert_eq!(values_ok(o, h, l, cl, v), c.reason.is_none(), "case {}", c.name);
        }
    }
}
