//! Corporate actions: detecting unadjusted splits and adjusting for known ones.
//!
//! **Detection** looks at every overnight step of a symbol (last bar of one session date,
//! first bar of the next) and calls it an unadjusted split only when three things agree:
//!
//! 1. *The jump matches a split ratio.* With `p = previous close / first close after` and a
//!    candidate ratio `r` (new shares per old share), `|ln p − ln r| ≤ 0.03·max(1, |ln r|)`.
//!    Candidates: forward 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 30, 40, 50, 3:2, 4:3, 5:4 and
//!    reverse 1:N for the whole N among them. Fractional reverse ratios (2:3, 4:5) are not
//!    candidates: companies consolidate shares 1:N, and a +25% or +50% overnight rally
//!    (AIG 2008-09-19, 2009-07-13) would otherwise match them. The tolerance grows with
//!    `|ln r|` because a big reverse split leaves room for a real move on the day (AIG's
//!    1:20 of 2009-07-01 printed a 0.0543 ratio).
//! 2. *The next days confirm the new level.* With `m` the median close of the first three
//!    sessions on or after the jump (fewer at the end of the data: one at the last session), `|ln(previous close / m) − ln r| ≤ 0.10·max(1, |ln r|)`:
//!    a split moves the price level once and for all, a crash keeps moving (BAC 2009-01-15
//!    fell 20% and kept falling: level ratio 1.42 against 1.25). The level before must
//!    agree too: with `m₋` the median close of the three sessions before the jump,
//!    `|ln(m₋ / first close after) − ln r| ≤ 0.15·max(1, |ln r|)`, so the recovery from a
//!    one-day dip is no reverse split (0.15: AIG fell 20% the day before its 1:20).
//! 3. *Volume does not spike beyond what the split explains.* Share volume scales by `r`
//!    at a split; a news shock brings a volume spike. With `v` the median bar volume of those
//!    three sessions over that of the three sessions before, `v ≤ 1.5·max(r, 1)` (IBM
//!    1999-10-21 fell 18% on volume ×2.7; AAPL 2000-09-29 halved on volume ×6.7). Without
//!    volume before the jump the ratio is undefined and cannot veto.
//!
//! Measured on the shared hourly set (5 symbols, 1998–2021) against its Lean factor files:
//! all 10 splits in the window are found (AAPL 2000, 2005, 2014, 2020; AIG 1998, 1999, 2000
//! and the 1:20 of 2009; BAC 2004; IBM 1999) and none of the crisis days (AIG 2008-09-18,
//! BAC 2009-01-15, IBM 1999-10-21, AAPL 2000-09-29 and the rest of 2008–09) is flagged; the
//! minute AAPL file's 7:1 of 2014-06-09 is found. Vendors' volumes are not always on the
//! raw share basis (this set's pre-split volumes are partly adjusted), which is why volume
//! can veto a candidate but never make one.
//!
//! The jump compares the last close of one session with the first CLOSE of the next: the
//! first bar's open can be a stale reference print (AAPL's first bar on 2014-06-09 opens at
//! the pre-split 645.57 and closes at 92.42).
//!
//! A detected split that no adjustment covers stops the load ([`DataError::UnadjustedSplit`])
//! unless the user accepts trading it as a price move (`--allow-unadjusted`); then it is a
//! warning in the data report.
//!
//! **Adjustment**, when a split is given (config `[[data.splits]]` or a Lean factor file):
//! prices of bars whose session date is before the ex-date are divided by the ratio and
//! volumes multiplied by it. Only splits whose ex-date falls on or before a symbol's last
//! loaded session apply, so prices are back-adjusted to the share basis of the end of the
//! data (Lean adjusts to today's basis instead; a split years after the window would only
//! rescale every price of a backtest). Lean factor files hold rows
//! `YYYYMMDD,price_factor,split_factor,reference_price`; a row's factors apply to dates up to
//! and including its date, so a change of split factor between rows i and i+1 is a split
//! with ratio `split_factor[i+1] / split_factor[i]` and ex-date the day after row i's date.
//! Dividend (price) factors are not applied: intraday research wants traded prices.
//!
//! Every applied split is kept with the bars ([`AppliedSplit`]) so the broker can charge
//! costs on the prices and share counts as they were traded ([`AsTraded`]).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::bars::Bars;
use super::error::{DataError, Result};
use super::session::{AssetClass, NyClock, date_to_day, day_to_date, session_day};
use super::time::{NS_PER_DAY, Ts, format_ts};

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

/// A split applied to loaded bars: rows of `symbol` starting before `from` had their prices
/// divided by `ratio` (and volumes multiplied by it).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedSplit {
    /// The symbol, by name (ids change when symbols are compacted).
    pub symbol: String,
    /// Start of the ex-date: New York midnight for equities, UTC midnight for crypto.
    pub from: Ts,
    /// New shares per old share.
    pub ratio: f64,
}

/// The factor that turns back-adjusted bars into prices and share counts as traded: at a
/// bar of symbol `s`, `as-traded price = price × factor` and `as-traded quantity =
/// quantity / factor`. Walks forward in time (each call's `ts` ≥ the previous one's for the
/// same symbol), O(1) amortised.
#[derive(Debug, Clone, Default)]
pub struct AsTraded {
    steps: Vec<Vec<(Ts, f64)>>,
    next: Vec<usize>,
    factor: Vec<f64>,
}

impl AsTraded {
    /// The schedule for `bars` (factor 1 everywhere when no split was applied).
    pub fn new(bars: &Bars) -> Self {
        let n = bars.symbols.len();
        let mut steps = vec![Vec::new(); n];
        for sp in &bars.splits {
            if let Some(id) = bars.symbol_id(&sp.symbol) {
                steps[id as usize].push((sp.from, sp.ratio));
            }
        }
        for s in &mut steps {
            s.sort_by_key(|x| x.0);
        }
        let factor = steps.iter().map(|s| s.iter().map(|x| x.1).product()).collect();
        AsTraded { steps, next: vec![0; n], factor }
    }

    /// The factor in force for symbol `s` at `ts`.
    #[inline]
    pub fn at(&mut self, s: usize, ts: Ts) -> f64 {
        let steps = &self.steps[s];
        while let Some(&(from, ratio)) = steps.get(self.next[s]) {
            if ts < from {
                break;
            }
            self.factor[s] /= ratio;
            self.next[s] += 1;
        }
        self.factor[s]
    }
}

/// An overnight jump that looks like an unadjusted split.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SplitJump {
    pub symbol: String,
    pub before: Ts,
    pub after: Ts,
    /// Session date of the first bar after the jump: the likely ex-date.
    pub ex_date: NaiveDate,
    pub close_before: f64,
    /// Close of the first bar after the jump.
    pub close_after: f64,
    /// The common ratio matched (new shares per old share).
    pub ratio: f64,
    /// Previous close over the median close of the next sessions.
    pub level: f64,
    /// Median bar volume of the next sessions over that of the previous ones.
    pub volume: f64,
}

impl std::fmt::Display for SplitJump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: probable unadjusted {} split on {} (close {} at {} -> {} at {}, price ratio {:.4}; \
             the next sessions confirm it: level ratio {:.4}, volume x{:.2})",
            self.symbol,
            fmt_split(self.ratio),
            self.ex_date,
            self.close_before,
            format_ts(self.before),
            self.close_after,
            format_ts(self.after),
            self.close_before / self.close_after,
            self.level,
            self.volume,
        )
    }
}

impl SplitJump {
    /// The config entry that adjusts for it.
    pub(super) fn config_entry(&self) -> String {
        format!("[[data.splits]]\nsymbol = \"{}\"\nex_date = \"{}\"\nratio = {}", self.symbol, self.ex_date, self.ratio)
    }
}

fn fmt_ratio(r: f64) -> String {
    if (r - r.round()).abs() < 1e-9 { format!("{}", r.round()) } else { format!("{r:.4}") }
}

/// A ratio as a split is named: `7:1`, `3:2`, `1:20`.
fn fmt_split(r: f64) -> String {
    for (a, b) in [(3.0, 2.0), (4.0, 3.0), (5.0, 4.0)] {
        if (r - a / b).abs() < 1e-9 {
            return format!("{a}:{b}");
        }
    }
    if r >= 1.0 { format!("{}:1", fmt_ratio(r)) } else { format!("1:{}", fmt_ratio(1.0 / r)) }
}

const FORWARD: [f64; 17] =
    [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 1.5, 4.0 / 3.0, 1.25];
const JUMP_TOLERANCE: f64 = 0.03;
const LEVEL_TOLERANCE: f64 = 0.10;
const PRE_LEVEL_TOLERANCE: f64 = 0.15;
const VOLUME_SPIKE: f64 = 1.5;
/// Sessions on each side of a jump that confirm it.
const CONFIRM_SESSIONS: usize = 3;

fn tolerance(ratio: f64, base: f64) -> f64 {
    base * ratio.ln().abs().max(1.0)
}

/// The split ratio matching a price ratio `close_before / close_after`, if any (rule 1 of
/// the module docs; the closest candidate in log terms wins).
pub(super) fn match_ratio(price_ratio: f64) -> Option<f64> {
    if !price_ratio.is_finite() || price_ratio <= 0.0 {
        return None;
    }
    let x = price_ratio.ln();
    // Every candidate lies outside (0.8, 1.25): ordinary overnight moves return at once.
    if x.abs() < 1.25f64.ln() - 2.0 * JUMP_TOLERANCE {
        return None;
    }
    let candidates = FORWARD.iter().copied().chain(FORWARD.iter().filter(|r| r.fract() == 0.0).map(|r| 1.0 / r));
    candidates
        .map(|r| (r, (x - r.ln()).abs()))
        .filter(|&(r, d)| d <= tolerance(r, JUMP_TOLERANCE))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let k = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    let hi = *m;
    if v.len() % 2 == 1 {
        return hi;
    }
    let lo = v[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// Finds overnight jumps that are unadjusted splits by the three rules of the module docs.
pub(super) fn detect_jumps(bars: &Bars, classes: &[AssetClass]) -> Vec<SplitJump> {
    let mut clock = NyClock::new();
    let mut out = Vec::new();
    for (s, rows) in bars.rows_by_symbol().into_iter().enumerate() {
        // Sessions of the symbol: (session day, first row index into `rows`).
        let mut sessions: Vec<(i64, usize)> = Vec::new();
        for (k, &i) in rows.iter().enumerate() {
            let day = session_day(&mut clock, classes[s], bars.ts[i]);
            if sessions.last().is_none_or(|x| x.0 != day) {
                sessions.push((day, k));
            }
        }
        let end_of = |j: usize| sessions.get(j + 1).map_or(rows.len(), |x| x.1);
        for j in 1..sessions.len() {
            let (before, after) = (rows[sessions[j].1 - 1], rows[sessions[j].1]);
            let Some(ratio) = match_ratio(bars.close[before] / bars.close[after]) else { continue };
            let pre = rows[sessions[j.saturating_sub(CONFIRM_SESSIONS)].1..sessions[j].1].iter();
            let post = rows[sessions[j].1..end_of((j + CONFIRM_SESSIONS - 1).min(sessions.len() - 1))].iter();
            let level = bars.close[before] / median(post.clone().map(|&i| bars.close[i]).collect());
            let level_pre = median(pre.clone().map(|&i| bars.close[i]).collect()) / bars.close[after];
            let vol_pre = median(pre.map(|&i| bars.volume[i]).collect());
            let volume = median(post.map(|&i| bars.volume[i]).collect()) / vol_pre;
            // No volume before (or none at all): volume cannot veto.
            let volume = if volume.is_finite() { volume } else { f64::NAN };
            let level_ok = (level.ln() - ratio.ln()).abs() <= tolerance(ratio, LEVEL_TOLERANCE)
                && (level_pre.ln() - ratio.ln()).abs() <= tolerance(ratio, PRE_LEVEL_TOLERANCE);
            let volume_ok = volume.is_nan() || volume <= VOLUME_SPIKE * ratio.max(1.0);
            if !(level_ok && volume_ok) {
                continue;
            }
            out.push(SplitJump {
                symbol: bars.symbols[s].clone(),
                before: bars.ts[before],
                after: bars.ts[after],
                ex_date: day_to_date(sessions[j].0),
                close_before: bars.close[before],
                close_after: bars.close[after],
                ratio,
                level,
                volume,
            });
        }
    }
    out.sort_by(|a, b| (a.after, &a.symbol).cmp(&(b.after, &b.symbol)));
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
                "{}: split {} ex {} applied to {n} earlier bars",
                split.symbol,
                fmt_split(split.ratio),
                split.ex_date
            ));
            let from = match classes[id as usize] {
                // Noon UTC lies on the same New York date; its local midnight starts the ex-date.
                AssetClass::Equity => clock.utc_at_local_minute(ex_day * NS_PER_DAY + NS_PER_DAY / 2, 0),
                AssetClass::Crypto => ex_day * NS_PER_DAY,
            };
            bars.splits.push(AppliedSplit { symbol: split.symbol.clone(), from, ratio: split.ratio });
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
        if let Some((prev, _)) = rows.last()
            && date <= *prev
        {
            return Err(err(i + 1, format!("field `date`: {date} is not after the previous row's {prev}")));
        }
        rows.push((date, sf));
    }
    if rows.is_empty() {
        return Err(err(1, "empty factor file".into()));
    }
    Ok(rows
        .windows(2)
        .filter(|w| (w[1].1 / w[0].1 - 1.0).abs() > 1e-9)
        .filter_map(|w| {
            Some(Split { symbol: symbol.to_string(), ex_date: w[0].0.succ_opt()?, ratio: snap(w[1].1 / w[0].1) })
        })
        .collect())
}

/// Factor files round their factors (AAPL's 2000 split reads 1.999996): a ratio within
/// 1e-4 of a fraction a/b with b ≤ 10 is that fraction.
fn snap(r: f64) -> f64 {
    for b in 1..=10 {
        let a = (r * b as f64).round();
        if a >= 1.0 && (r / (a / b as f64) - 1.0).abs() < 1e-4 {
            return a / b as f64;
        }
    }
    r
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
        // AIG's 1:20 of 2009 printed 1.13 -> 20.8: outside 3%, inside the widened tolerance.
        assert_eq!(match_ratio(1.13 / 20.8), Some(0.05));
        // A +50% rally is not a 2:3 reverse split: fractional reverse ratios are not candidates.
        assert_eq!(match_ratio(2.39 / 3.59), None);
        assert_eq!(match_ratio(1.5098), Some(1.5));
    }

    /// Sessions of 3 bars each at `price` with `volume`, one symbol.
    fn sessions(days: &[(f64, f64)]) -> Bars {
        let mut b = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (d, &(p, v)) in days.iter().enumerate() {
            for k in 0..3 {
                let ts = (d as i64 + 20_000) * NS_PER_DAY + 15 * 3_600_000_000_000 + k * 60_000_000_000;
                b.push(crate::market::Bar { ts, symbol: 0, open: p, high: p, low: p, close: p, volume: v });
            }
        }
        b
    }

    #[test]
    fn test_detection_without_volume_before_the_jump() {
        let found = |days: &[(f64, f64)]| detect_jumps(&sessions(days), &[AssetClass::Equity]);
        // No volume before: the ratio is undefined and cannot veto the 2:1 split.
        assert_eq!(found(&[(100.0, 0.0), (100.0, 0.0), (50.0, 1000.0), (50.0, 1000.0)]).len(), 1);
        // A volume spike far beyond the ratio vetoes it.
        assert!(found(&[(100.0, 10.0), (100.0, 10.0), (50.0, 1000.0), (50.0, 1000.0)]).is_empty());
        // The level must hold: a jump that reverts is no split, and neither is the recovery.
        assert!(found(&[(100.0, 10.0), (100.0, 10.0), (50.0, 10.0), (100.0, 10.0), (100.0, 10.0)]).is_empty());
        // At the very end of the data one session confirms.
        assert_eq!(found(&[(100.0, 10.0), (100.0, 10.0), (50.0, 20.0)]).len(), 1);
    }

    #[test]
    fn test_factor_ratios_snap_to_fractions() {
        assert_eq!(snap(1.999996), 2.0);
        assert_eq!(snap(1.500005), 1.5);
        assert_eq!(snap(0.05), 0.05);
        assert_eq!(snap(1.249993), 1.25);
        assert_eq!(snap(1.7), 1.7);
        assert_eq!(snap(1.234567), 1.234567);
    }

    #[test]
    fn test_as_traded_factor_walks_the_schedule() {
        let mut b = Bars { symbols: vec!["A".into(), "B".into()], ..Default::default() };
        b.splits = vec![
            AppliedSplit { symbol: "A".into(), from: 100, ratio: 2.0 },
            AppliedSplit { symbol: "A".into(), from: 50, ratio: 7.0 },
        ];
        let mut f = AsTraded::new(&b);
        assert_eq!(f.at(0, 0), 14.0, "before both splits: ×7×2");
        assert_eq!(f.at(1, 0), 1.0);
        assert_eq!(f.at(0, 50), 2.0);
        assert_eq!(f.at(0, 99), 2.0);
        assert_eq!(f.at(0, 100), 1.0);
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
