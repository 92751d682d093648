//! Corporate actions: detecting unadjusted splits and adjusting for known ones.
//!
//! Detection: between two consecutive bars of a symbol on different session dates, the
//! ratio `previous close / next close` is compared with common split ratios (2, 3, 4, 5, 6,
//! 7, 8, 10, 15, 20, 3:2, 4:3, 5:4 and the reverse splits); within 3% it is reported as a
//! probable unadjusted split. Nothing is changed on a guess: a warning names the symbol,
//! dates, prices and ratio, and says how to supply the factor.
//!
//! Detection compares the last close of one session with the first CLOSE of the next: the
//! first bar's open can be a stale reference print (AAPL's first bar on 2014-06-09 opens at
//! the pre-split 645.57 and closes at 92.42).
//!
//! Adjustment, when a split is given (config `[[data.splits]]` or a Lean factor file):
//! prices of bars whose session date is before the ex-date are divided by the ratio and
//! volumes multiplied by it. Only splits whose ex-date falls on or before a symbol's last
//! loaded session apply, so prices are back-adjusted to the share basis of the end of the
//! data (Lean adjusts to today's basis instead; a split years after the window would only
//! rescale every price of a backtest). Lean factor files hold rows
//! `YYYYMMDD,price_factor,split_factor,reference_price`; a row's factors apply to dates up to
//! and including its date, so a change of split factor between rows i and i+1 is a split
//! with ratio `split_factor[i+1] / split_factor[i]` and ex-date the day after row i's date.
//! Dividend (price) factors are not applied: intraday research wants traded prices.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::bars::Bars;
use super::error::{DataError, Result};
use super::session::{AssetClass, NyClock, date_to_day, session_day};
use super::time::{Ts, format_ts};

/// A split: from `ex_date` on, one old share is `ratio` new shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// The symbol that split, as named in the data.
    pub symbol: String,
    /// First session date trading on the new basis.
    pub ex_date: NaiveDate,
    /// New shares per old share (7 for a 7:1 split, 0.1 for a 1:10 reverse split).
    pub ratio: f64,
}

/// An overnight jump that looks like an unadjusted split.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SplitJump {
    pub symbol: String,
    pub before: Ts,
    pub after: Ts,
    pub close_before: f64,
    /// Close of the first bar after the jump.
    pub close_after: f64,
    /// The common ratio matched (new shares per old share).
    pub ratio: f64,
}

impl std::fmt::Display for SplitJump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: overnight jump {} -> {} between {} and {} matches a {}:1 split; prices look unadjusted \
             (add [[data.splits]] symbol = \"{}\", ex_date = \"YYYY-MM-DD\", ratio = {} or set data.factor_files)",
            self.symbol,
            self.close_before,
            self.close_after,
            format_ts(self.before),
            format_ts(self.after),
            fmt_ratio(self.ratio),
            self.symbol,
            fmt_ratio(self.ratio)
        )
    }
}

fn fmt_ratio(r: f64) -> String {
    if (r - r.round()).abs() < 1e-9 { format!("{}", r.round()) } else { format!("{r:.4}") }
}

const COMMON_RATIOS: [f64; 13] = [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 1.5, 4.0 / 3.0, 1.25];
const TOLERANCE: f64 = 0.03;

/// The common split ratio matching a price ratio `close_before / close_after`, if any.
pub(super) fn match_ratio(price_ratio: f64) -> Option<f64> {
    // Every candidate lies outside (0.8, 1.25): ordinary overnight moves return at once.
    const QUIET: (f64, f64) = ((1.0 / 1.25) * (1.0 + TOLERANCE), 1.25 * (1.0 - TOLERANCE));
    if !price_ratio.is_finite() || price_ratio <= 0.0 || (price_ratio > QUIET.0 && price_ratio < QUIET.1) {
        return None;
    }
    for r in COMMON_RATIOS {
        for cand in [r, 1.0 / r] {
            if (price_ratio / cand - 1.0).abs() <= TOLERANCE {
                return Some(cand);
            }
        }
    }
    None
}

/// Finds overnight jumps that match a common split ratio.
pub(super) fn detect_jumps(bars: &Bars, classes: &[AssetClass]) -> Vec<SplitJump> {
    let mut clock = NyClock::new();
    let mut last: Vec<Option<(Ts, f64, i64)>> = vec![None; bars.symbols.len()];
    let mut out = Vec::new();
    // Session days of the current timestamp, per asset class (rows of a step share them).
    let mut cached: (Ts, [i64; 2]) = (i64::MIN, [0; 2]);
    for i in 0..bars.len() {
        let s = bars.sym[i] as usize;
        let t = bars.ts[i];
        if t != cached.0 {
            cached =
                (t, [session_day(&mut clock, AssetClass::Equity, t), session_day(&mut clock, AssetClass::Crypto, t)]);
        }
        let date = cached.1[(classes[s] == AssetClass::Crypto) as usize];
        if let Some((t0, c0, d0)) = last[s] {
            if d0 != date {
                if let Some(ratio) = match_ratio(c0 / bars.close[i]) {
                    out.push(SplitJump {
                        symbol: bars.symbols[s].clone(),
                        before: t0,
                        after: bars.ts[i],
                        close_before: c0,
                        close_after: bars.close[i],
                        ratio,
                    });
                }
            }
        }
        last[s] = Some((bars.ts[i], bars.close[i], date));
    }
    out
}

/// Back-adjusts prices and volumes for the given splits. Returns one line per split applied.
pub(super) fn adjust(bars: &mut Bars, classes: &[AssetClass], splits: &[Split]) -> Vec<String> {
    let mut clock = NyClock::new();
    let mut last_day: Vec<Option<i64>> = vec![None; bars.symbols.len()];
    if !splits.is_empty() {
        for i in 0..bars.len() {
            let s = bars.sym[i] as usize;
            last_day[s] = Some(session_day(&mut clock, classes[s], bars.ts[i]));
        }
    }
    let mut applied = Vec::new();
    for split in splits {
        let Some(id) = bars.symbol_id(&split.symbol) else { continue };
        let ex_day = date_to_day(split.ex_date);
        if last_day[id as usize].is_none_or(|d| ex_day > d) {
            continue;
        }
        let mut n = 0usize;
        for i in 0..bars.len() {
            if bars.sym[i] != id || session_day(&mut clock, classes[id as usize], bars.ts[i]) >= ex_day {
                continue;
            }
            bars.open[i] /= split.ratio;
            bars.high[i] /= split.ratio;
            bars.low[i] /= split.ratio;
            bars.close[i] /= split.ratio;
            bars.volume[i] *= split.ratio;
            n += 1;
        }
        if n > 0 {
            applied.push(format!(
                "{}: split {}:1 ex {} applied to {n} earlier bars",
                split.symbol,
                fmt_ratio(split.ratio),
                split.ex_date
            ));
        }
    }
    applied
}

/// Parses a Lean factor file into the splits it implies for `symbol`.
pub(super) fn read_lean_factor_file(path: &Path, symbol: &str) -> Result<Vec<Split>> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let err = |line: usize, message: String| DataError::FactorFile { path: path.to_path_buf(), line, message };
    let mut rows: Vec<(NaiveDate, f64)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 3 {
            return Err(err(i + 1, format!("expected date,price_factor,split_factor[,reference_price], got {line:?}")));
        }
        let date = NaiveDate::parse_from_str(f[0], "%Y%m%d")
            .map_err(|_| err(i + 1, format!("field `date`: cannot parse {:?} as YYYYMMDD", f[0])))?;
        let sf: f64 = f[2]
            .parse()
            .map_err(|_| err(i + 1, format!("field `split_factor`: cannot parse {:?} as a number", f[2])))?;
        if !(sf.is_finite() && sf > 0.0) {
            return Err(err(i + 1, format!("field `split_factor`: {sf} must be > 0")));
        }
        if let Some((prev, _)) = rows.last() {
            if date <= *prev {
                return Err(err(i + 1, format!("field `date`: {date} is not after the previous row's {prev}")));
            }
        }
        rows.push((date, sf));
    }
    if rows.is_empty() {
        return Err(err(1, "empty factor file".into()));
    }
    Ok(rows
        .windows(2)
        .filter(|w| (w[1].1 / w[0].1 - 1.0).abs() > 1e-9)
        .filter_map(|w| Some(Split { symbol: symbol.to_string(), ex_date: w[0].0.succ_opt()?, ratio: w[1].1 / w[0].1 }))
        .collect())
}

/// Reads `<dir>/<symbol lower-case>.csv` for each symbol that has one.
pub(super) fn factor_dir_splits(dir: &Path, symbols: &[String]) -> Result<Vec<Split>> {
    if !dir.is_dir() {
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "factor-file folder not found"),
        });
    }
    let mut out = Vec::new();
    for s in symbols {
        let p: PathBuf = dir.join(format!("{}.csv", s.to_ascii_lowercase()));
        if p.is_file() {
            out.extend(read_lean_factor_file(&p, s)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_match_ratio_common_and_reverse() {
        assert_eq!(match_ratio(645.57 / 92.7), Some(7.0));
        assert_eq!(match_ratio(50.0 / 100.0), Some(0.5));
        assert_eq!(match_ratio(1.01), None);
        assert_eq!(match_ratio(2.5), None);
        assert_eq!(match_ratio(f64::NAN), None);
    }

    #[test]
    fn test_lean_factor_file_yields_splits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("aapl.csv");
        std::fs::write(
            &p,
            "20000620,0.86,0.00892857,101\n20050225,0.86,0.01785710,88.97\n20140606,0.90,0.03571430,645.57\n20140806,0.90,0.25,94.97\n20501231,1,1,0\n",
        )
        .unwrap();
        let s = read_lean_factor_file(&p, "AAPL").unwrap();
        let got: Vec<(String, f64)> =
            s.iter().map(|x| (x.ex_date.to_string(), (x.ratio * 1e4).round() / 1e4)).collect();
        let want = [("2000-06-21", 2.0), ("2005-02-26", 2.0), ("2014-06-07", 7.0), ("2014-08-07", 4.0)];
        assert_eq!(got, want.iter().map(|(d, r)| (d.to_string(), *r)).collect::<Vec<_>>());
    }

    #[test]
    fn test_lean_factor_file_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "20000620,0.86,0.5,1\n2000-06-21,1,1,1\n").unwrap();
        let e = read_lean_factor_file(&p, "X").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("date"), "{e}");
    }
}
