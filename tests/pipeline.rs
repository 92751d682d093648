//! Session filter, resampling (hand-computed and against the vendor's hourly bars), and
//! corporate actions on real data.

use quorum::market::Split;
use quorum::market::session::{NyClock, in_regular_session};
use quorum::market::time::NS_PER_HOUR;
use quorum::market::{SessionMode, load};

use crate::common::{equities_1m, fixture, opts};

#[test]
fn test_regular_session_keeps_390_minutes_a_day_at_most() {
    let mut o = opts(&equities_1m());
    o.session = SessionMode::Regular;
    let (bars, report) = load(&o).unwrap();
    assert!(report.filtered["session"] > 0);
    let mut clock = NyClock::new();
    let mut per_day: std::collections::BTreeMap<(u32, chrono::NaiveDate), usize> = Default::default();
    for i in 0..bars.len() {
        assert!(in_regular_session(&mut clock, bars.ts[i], 60_000_000_000));
        *per_day.entry((bars.sym[i], clock.date(bars.ts[i]))).or_default() += 1;
    }
    assert_eq!(per_day.len(), 4 * 6, "4 symbols x 6 sessions");
    assert!(per_day.values().all(|n| (385..=390).contains(n)), "{per_day:?}");
    assert_eq!(report.bars_per_session, Some(390.0));
}

/// Regular-session SPY minutes aggregated to 1h vs the vendor's hourly file: volumes equal,
/// open/close within 3 cents, highs/lows within $1.26 (the minute file keeps bad prints).
#[test]
fn test_resample_hourly_cross_check_against_vendor() {
    let mut o = opts(&equities_1m());
    o.symbols = vec!["SPY".into()];
    o.session = SessionMode::Regular;
    o.resample = Some(NS_PER_HOUR);
    let (mine, _) = load(&o).unwrap();
    let (vendor, _) = load(&opts(&fixture("spy_1h_2013-10.csv"))).unwrap();
    assert_eq!(mine.ts, vendor.ts, "same hourly labels (09:00 ET bucket holds 09:30-09:59)");
    assert_eq!(mine.len(), 42);
    let mut max_oc: f64 = 0.0;
    let mut max_hl: f64 = 0.0;
    let mut hl_exact = 0;
    for i in 0..mine.len() {
        assert_eq!(mine.volume[i], vendor.volume[i], "volume at row {i}");
        max_oc = max_oc.max((mine.open[i] - vendor.open[i]).abs()).max((mine.close[i] - vendor.close[i]).abs());
        let hl = (mine.high[i] - vendor.high[i]).abs().max((mine.low[i] - vendor.low[i]).abs());
        max_hl = max_hl.max(hl);
        if hl < 0.005 {
            hl_exact += 1;
        }
    }
    assert!(max_oc <= 0.03 + 1e-9, "open/close differ by {max_oc}");
    assert!(max_hl <= 1.26 + 1e-9, "high/low differ by {max_hl}");
    assert!(max_hl > 1.0, "the 2013-10-08 bad print should show up ({max_hl})");
    assert!(hl_exact >= 21, "most hours agree on high/low: {hl_exact}/42");
}

#[test]
fn test_unadjusted_split_is_warned_about() {
    let (bars, report) = load(&opts(&fixture("aapl_1m_2014-06_split.csv"))).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let w = &report.warnings[0];
    assert!(w.contains("AAPL") && w.contains("7:1") && w.contains("2014-06-06"), "{w}");
    assert!(bars.close[0] > 600.0, "nothing changed on a guess");
}

#[test]
fn test_split_adjusted_by_factor_file_and_by_config() {
    let raw = load(&opts(&fixture("aapl_1m_2014-06_split.csv"))).unwrap().0;
    let mut o = opts(&fixture("aapl_1m_2014-06_split.csv"));
    o.factor_files = Some(fixture("factor_files"));
    let (by_file, report) = load(&o).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.adjustments.len(), 1, "{:?}", report.adjustments);
    let ratio = 0.25 / 0.0357143;
    assert!((by_file.open[0] - raw.open[0] / ratio).abs() < 1e-9);
    assert!((by_file.volume[0] - raw.volume[0] * ratio).abs() < 1e-6);
    let last = raw.len() - 1;
    assert_eq!(by_file.close[last], raw.close[last], "post-split bars untouched");

    let mut o = opts(&fixture("aapl_1m_2014-06_split.csv"));
    o.splits = vec![Split {
        symbol: "AAPL".into(),
        ex_date: chrono::NaiveDate::from_ymd_opt(2014, 6, 9).unwrap(),
        ratio: 7.0,
    }];
    let (by_cfg, report) = load(&o).unwrap();
    assert!(report.warnings.is_empty());
    assert!((by_cfg.open[0] - raw.open[0] / 7.0).abs() < 1e-9);
}

#[test]
fn test_resample_preserves_volume_and_extremes() {
    let mut o = opts(&equities_1m());
    o.session = SessionMode::Regular;
    let (minute, _) = load(&o).unwrap();
    o.resample = Some(15 * 60_000_000_000);
    let (q, report) = load(&o).unwrap();
    assert_eq!(report.interval, "15m");
    assert_eq!(report.bars_per_session, Some(26.0));
    for s in 0..minute.symbols.len() as u32 {
        let tot =
            |b: &quorum::market::Bars| -> f64 { (0..b.len()).filter(|&i| b.sym[i] == s).map(|i| b.volume[i]).sum() };
        assert_eq!(tot(&minute), tot(&q));
        let hi = |b: &quorum::market::Bars| {
            (0..b.len()).filter(|&i| b.sym[i] == s).map(|i| b.high[i]).fold(f64::MIN, f64::max)
        };
        assert_eq!(hi(&minute), hi(&q));
    }
}
