//! Resampling to a coarser timeframe (1m → 5m, 15m, 1h, ...), per symbol.
//!
//! OHLCV aggregation: open = first open, high = max high, low = min low, close = last close,
//! volume = sum; extra columns take the bucket's last non-NaN value. Buckets are aligned to
//! the exchange clock: New York local time for equities (so a 1h bucket labelled 09:00 holds
//! 09:30–09:59 after the session filter, matching vendor hourly bars), UTC for crypto. A
//! bucket is labelled by its start, like every bar here. Missing source bars simply do not
//! contribute; empty buckets produce no bar.

use super::bars::{Bar, Bars, ExtraColumn};
use super::error::{DataError, Result};
use super::session::{AssetClass, NyClock};
use super::time::{Ts, format_duration};

/// Aggregates `bars` (source interval `source`) into `target`-long buckets.
pub(super) fn resample(bars: &Bars, classes: &[AssetClass], source: Option<i64>, target: i64) -> Result<Bars> {
    if let Some(src) = source
        && (target < src || target % src != 0)
    {
        return Err(DataError::Invalid(format!(
            "cannot resample {} bars to {}: the target must be a whole multiple of the source interval",
            format_duration(src),
            format_duration(target)
        )));
    }
    let n_sym = bars.symbols.len();
    let mut clock = NyClock::new();
    // Per symbol: the open bucket and its aggregate so far (bar + last extra values).
    let mut open: Vec<Option<(Bar, Vec<f64>)>> = vec![None; n_sym];
    let mut out: Vec<(Bar, Vec<f64>)> = Vec::new();
    for i in 0..bars.len() {
        let b = bars.bar(i);
        let s = b.symbol as usize;
        let bucket = bucket_start(&mut clock, classes[s], b.ts, target);
        let extras = || bars.extra.iter().map(|e| e.values[i]).collect::<Vec<f64>>();
        match &mut open[s] {
            Some((agg, ex)) if agg.ts == bucket => {
                agg.high = agg.high.max(b.high);
                agg.low = agg.low.min(b.low);
                agg.close = b.close;
                agg.volume += b.volume;
                for (dst, e) in ex.iter_mut().zip(&bars.extra) {
                    if !e.values[i].is_nan() {
                        *dst = e.values[i];
                    }
                }
            }
            slot => {
                if let Some(done) = slot.take() {
                    out.push(done);
                }
                *slot = Some((Bar { ts: bucket, ..b }, extras()));
            }
        }
    }
    out.extend(open.into_iter().flatten());
    out.sort_by_key(|(b, _)| (b.ts, b.symbol));
    let mut res = Bars {
        symbols: bars.symbols.clone(),
        extra: bars.extra.iter().map(|e| ExtraColumn { name: e.name.clone(), values: Vec::new() }).collect(),
        splits: bars.splits.clone(),
        ..Default::default()
    };
    for (b, ex) in out {
        res.push(b);
        for (dst, v) in res.extra.iter_mut().zip(ex) {
            *dst.values.last_mut().expect("pushed") = v;
        }
    }
    Ok(res)
}

/// Start of the bucket holding `ts`, aligned to the asset's exchange clock.
fn bucket_start(clock: &mut NyClock, class: AssetClass, ts: Ts, target: i64) -> Ts {
    match class {
        AssetClass::Crypto => ts.div_euclid(target) * target,
        AssetClass::Equity => {
            let off = clock.offset(ts);
            (ts + off).div_euclid(target) * target - off
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::time::{NS_PER_HOUR, NS_PER_MIN, parse_rfc3339};

    fn t(s: &str) -> Ts {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn test_resample_hand_computed_five_minutes() {
        // Seven 1m bars 13:30..13:36Z (EDT: 09:30..09:36 ET), one missing at 13:33.
        let rows = [
            ("2013-10-07T13:30:00Z", 10.0, 10.5, 9.9, 10.2, 100.0),
            ("2013-10-07T13:31:00Z", 10.2, 10.8, 10.1, 10.7, 200.0),
            ("2013-10-07T13:32:00Z", 10.7, 10.7, 9.5, 9.6, 300.0),
            ("2013-10-07T13:34:00Z", 9.6, 9.9, 9.6, 9.8, 50.0),
            ("2013-10-07T13:35:00Z", 9.8, 10.0, 9.7, 9.9, 10.0),
            ("2013-10-07T13:36:00Z", 9.9, 11.0, 9.9, 10.9, 20.0),
        ];
        let mut bars = Bars { symbols: vec!["SPY".into()], ..Default::default() };
        for (ts, open, high, low, close, volume) in rows {
            bars.push(Bar { ts: t(ts), symbol: 0, open, high, low, close, volume });
        }
        let r = resample(&bars, &[AssetClass::Equity], Some(NS_PER_MIN), 5 * NS_PER_MIN).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.bar(0),
            Bar {
                ts: t("2013-10-07T13:30:00Z"),
                symbol: 0,
                open: 10.0,
                high: 10.8,
                low: 9.5,
                close: 9.8,
                volume: 650.0
            }
        );
        assert_eq!(
            r.bar(1),
            Bar {
                ts: t("2013-10-07T13:35:00Z"),
                symbol: 0,
                open: 9.8,
                high: 11.0,
                low: 9.7,
                close: 10.9,
                volume: 30.0
            }
        );
    }

    #[test]
    fn test_resample_hour_buckets_are_new_york_clock_hours() {
        let mut bars = Bars { symbols: vec!["SPY".into(), "X".into()], ..Default::default() };
        for (ts, s) in [
            ("2011-01-03T14:30:00Z", 0),
            ("2011-01-03T14:45:00Z", 1),
            ("2011-01-03T14:59:00Z", 0),
            ("2011-01-03T15:00:00Z", 0),
        ] {
            bars.push(Bar { ts: t(ts), symbol: s, open: 1.0, high: 2.0, low: 0.5, close: 1.5, volume: 1.0 });
        }
        let r = resample(&bars, &[AssetClass::Equity, AssetClass::Equity], None, NS_PER_HOUR).unwrap();
        let got: Vec<(Ts, u32, f64)> = (0..r.len()).map(|i| (r.ts[i], r.sym[i], r.volume[i])).collect();
        assert_eq!(
            got,
            vec![
                (t("2011-01-03T14:00:00Z"), 0, 2.0),
                (t("2011-01-03T14:00:00Z"), 1, 1.0),
                (t("2011-01-03T15:00:00Z"), 0, 1.0)
            ]
        );
    }

    #[test]
    fn test_resample_rejects_non_multiple() {
        let bars = Bars { symbols: vec!["SPY".into()], ..Default::default() };
        assert!(resample(&bars, &[AssetClass::Equity], Some(2 * NS_PER_MIN), 5 * NS_PER_MIN).is_err());
        assert!(resample(&bars, &[AssetClass::Equity], Some(5 * NS_PER_MIN), NS_PER_MIN).is_err());
    }
}
