//! Session filter, resampling (hand-computed and against the vendor's hourly bars), and
//! corporate actions on real data.

use quorum::market::Split;
use quorum::market::session::{NyClock, in_regular_session};
use quorum::market::time::NS_PER_HOUR;
use quorum::market::{DataError, SessionMode, load};

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
fn test_unadjusted_split_refuses_to_load_and_names_the_fixes() {
    let err = load(&opts(&fixture("aapl_1m_2014-06_split.csv"))).unwrap_err();
    assert!(matches!(err, DataError::UnadjustedSplit(..)), "{err:?}");
    let e = err.to_string();
    for want in ["AAPL", "7:1", "2014-06-09", "--factor-files", "[[data.splits]]", "ratio = 7", "--allow-unadjusted"] {
        assert!(e.contains(want), "{want:?} missing from: {e}");
    }
}

#[test]
fn test_unadjusted_split_allowed_is_a_warning_and_changes_nothing() {
    let mut o = opts(&fixture("aapl_1m_2014-06_split.csv"));
    o.allow_unadjusted = true;
    let (bars, report) = load(&o).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let w = &report.warnings[0];
    assert!(w.contains("AAPL") && w.contains("7:1") && w.contains("2014-06-09"), "{w}");
    assert!(bars.close[0] > 600.0, "nothing changed on a guess");
    assert!(bars.splits.is_empty());
}

/// Real crisis days look like 5:4 or 2:3 splits by price alone; the confirmation rules
/// (reverse splits are 1:N, the new level holds, volume does not spike) keep them out,
/// while AIG's 1:20 reverse split of 2009 (price ratio 0.0543) is found.
#[test]
fn test_split_detection_on_crisis_days_and_a_reverse_split() {
    let mut o = opts(&fixture("crisis_1h"));
    o.allow_unadjusted = true;
    let (_, report) = load(&o).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:#?}", report.warnings);
    let w = &report.warnings[0];
    assert!(w.contains("AIG") && w.contains("1:20") && w.contains("2009-07-01"), "{w}");
    let err = load(&opts(&fixture("crisis_1h"))).unwrap_err().to_string();
    assert!(err.contains("ratio = 0.05"), "{err}");
    assert!(!err.contains("BAC") && !err.contains("IBM") && !err.contains("2008-09"), "{err}");
}

#[test]
fn test_split_adjusted_by_factor_file_and_by_config() {
    let mut o = opts(&fixture("aapl_1m_2014-06_split.csv"));
    o.allow_unadjusted = true;
    let raw = load(&o).unwrap().0;
    let mut o = opts(&fixture("aapl_1m_2014-06_split.csv"));
    o.factor_files = Some(fixture("lean_factor_files"));
    let (by_file, report) = load(&o).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.adjustments.len(), 1, "{:?}", report.adjustments);
    assert!((by_file.open[0] - raw.open[0] / 7.0).abs() < 1e-9, "factor-file ratio snapped to 7");
    assert!((by_file.volume[0] - raw.volume[0] * 7.0).abs() < 1e-6);
    let last = raw.len() - 1;
    assert_eq!(by_file.close[last], raw.close[last], "post-split bars untouched");
    assert_eq!(by_file.splits.len(), 1);
    assert_eq!(by_file.splits[0].ratio, 7.0);

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

/// The AAPL split minutes in a temporary folder with `factor_files/aapl.csv` beside them.
fn aapl_beside_its_factor_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("aapl_1m_2014-06_split.csv"), dir.path().join("aapl.csv")).unwrap();
    std::fs::create_dir(dir.path().join("factor_files")).unwrap();
    std::fs::copy(fixture("lean_factor_files/aapl.csv"), dir.path().join("factor_files/aapl.csv")).unwrap();
    dir
}

/// A split in the config and in the factor file next to the data is applied once.
#[test]
fn test_split_given_twice_is_applied_once() {
    let dir = aapl_beside_its_factor_file();
    let mut o = opts(dir.path());
    let (once, _) = load(&o).unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(2014, 6, 9).unwrap();
    o.splits = vec![Split { symbol: "AAPL".into(), ex_date: date, ratio: 7.0 }];
    let (twice, report) = load(&o).unwrap();
    assert_eq!(twice.close, once.close, "not divided by 49");
    assert!(report.warnings.iter().any(|w| w.contains("given twice")), "{:?}", report.warnings);
    o.splits = vec![Split { symbol: "AAPL".into(), ex_date: date, ratio: 4.0 }];
    let e = load(&o).unwrap_err().to_string();
    assert!(e.contains("two different splits") && e.contains("AAPL"), "{e}");
}

#[test]
fn test_factor_files_next_to_the_data_are_picked_up_and_reported() {
    let dir = aapl_beside_its_factor_file();
    for path in [dir.path().to_path_buf(), dir.path().join("aapl.csv")] {
        let (bars, report) = load(&opts(&path)).unwrap();
        let f = report.factor_files.as_deref().unwrap_or_default();
        assert!(f.contains("factor_files") && f.contains("found next to the data"), "{f}");
        assert!(report.warnings.is_empty() && bars.close[0] < 100.0, "{:?}", report.warnings);
    }
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
