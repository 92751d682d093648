//! Unit tests of the report: colour scale, digest, breakdown heatmaps on a constructed
//! frame, period returns, the metric rows, and byte-identical pages.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::chart::hit_colour;
use super::page::{config_digest, money};
use super::read::breakdown_rows;
use super::sections::{METRICS, breakdown_heatmap, period_returns, underwater};

#[test]
fn test_hit_colour_scale() {
    struct Case {
        name: &'static str,
        hit: f64,
        want: (u8, u8, u8),
    }
    let cases = [
        Case { name: "coin is white", hit: 0.5, want: (255, 255, 255) },
        Case { name: "65% is full blue", hit: 0.65, want: (33, 102, 172) },
        Case { name: "above 65% stays full blue", hit: 0.9, want: (33, 102, 172) },
        Case { name: "35% is full red", hit: 0.35, want: (178, 24, 43) },
        Case { name: "0% stays full red", hit: 0.0, want: (178, 24, 43) },
        Case { name: "nothing judged is grey", hit: f64::NAN, want: (225, 225, 225) },
    ];
    for c in cases {
        let got = hit_colour(c.hit);
        assert_eq!((got.0, got.1, got.2), c.want, "{}", c.name);
    }
    // Monotone towards blue: red channel falls as the hit rate rises above ½.
    let reds: Vec<u8> = (50..=65).map(|p| hit_colour(p as f64 / 100.0).0).collect();
    assert!(reds.windows(2).all(|w| w[0] >= w[1]), "{reds:?}");
}

#[test]
fn test_config_digest_ignores_output_dir_only() {
    let a = "[data]\npath = \"data/bars\"\n\n[output]\ndir = \"runs/a\"\nreport = true\n";
    let b = "[data]\npath = \"data/bars\"\n\n[output]\ndir = \"runs/b\"\nreport = true\n";
    let c = "[data]\npath = \"data/other\"\n\n[output]\ndir = \"runs/a\"\nreport = true\n";
    assert_eq!(config_digest(a), config_digest(b), "the folder is not part of what was run");
    assert_ne!(config_digest(a), config_digest(c));
    assert_eq!(config_digest(a).len(), 64);
    assert!(config_digest(a).chars().all(|ch| ch.is_ascii_hexdigit()));
    // Known value: SHA-256 of the empty document.
    assert_eq!(config_digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/// A breakdown frame as issue 13's `breakdown.parquet` lays it out.
fn breakdown_frame() -> DataFrame {
    type Row = (&'static str, &'static str, &'static str, u64, u64, u64, Option<f64>, f64);
    let rows: [Row; 9] = [
        ("composed", "regime", "up/high-vol", 10, 8, 5, Some(0.625), 12.5),
        ("composed", "regime", "down/low-vol", 4, 0, 0, None, 0.0),
        ("composed", "time_of_day", "09:30", 6, 6, 2, Some(1.0 / 3.0), -3.0),
        ("composed", "day", "2013-10-07", 20, 14, 7, Some(0.5), 1.0),
        ("hedge", "regime", "up/high-vol", 30, 25, 15, Some(0.6), 0.0),
        ("hedge", "regime", "down/low-vol", 12, 10, 3, Some(0.3), 0.0),
        ("hedge", "time_of_day", "09:30", 9, 9, 5, Some(5.0 / 9.0), 0.0),
        ("hedge", "time_of_day", "10:00", 7, 7, 4, Some(4.0 / 7.0), 0.0),
        ("hedge", "day", "2013-10-07", 40, 34, 20, Some(20.0 / 34.0), 0.0),
    ];
    let col = |name: &str, v: Vec<&str>| Column::new(name.into(), v);
    DataFrame::new_infer_height(vec![
        col("who", rows.iter().map(|r| r.0).collect()),
        col("dimension", rows.iter().map(|r| r.1).collect()),
        col("bucket", rows.iter().map(|r| r.2).collect()),
        Column::new("votes".into(), rows.iter().map(|r| r.3).collect::<Vec<u64>>()),
        Column::new("judged".into(), rows.iter().map(|r| r.4).collect::<Vec<u64>>()),
        Column::new("hits".into(), rows.iter().map(|r| r.5).collect::<Vec<u64>>()),
        Column::new("hit_rate".into(), rows.iter().map(|r| r.6).collect::<Vec<Option<f64>>>()),
        Column::new("pnl".into(), rows.iter().map(|r| r.7).collect::<Vec<f64>>()),
        Column::new("costs".into(), vec![0.0f64; rows.len()]),
    ])
    .unwrap()
}

#[test]
fn test_breakdown_heatmaps_from_a_constructed_frame() {
    let path = Path::new("breakdown.parquet");
    let rows = breakdown_rows(&breakdown_frame(), path).unwrap();
    assert_eq!(rows.len(), 9);
    assert!(rows[1].hit_rate.is_nan() && rows[1].judged == 0, "null hit rate reads as NaN");
    let analysts = vec!["hedge".to_string()];
    let regime = breakdown_heatmap(&rows, "regime", "Hit rate by regime", &analysts).unwrap().unwrap();
    for want in ["up/high-vol", "down/low-vol", "hedge", "composed", "\n25\n", "\n10\n", "\n8\n", "–"] {
        assert!(regime.contains(want), "regime heatmap lacks {want}");
    }
    // hedge's 30% cell is full red, composed's unjudged cell grey.
    assert!(regime.contains("#B2182B"), "full red cell");
    let hours = breakdown_heatmap(&rows, "time_of_day", "Hit rate by time of day", &analysts).unwrap().unwrap();
    assert!(hours.contains("09:30") && hours.contains("10:00"));
    assert!(breakdown_heatmap(&rows, "symbol", "none", &analysts).unwrap().is_none(), "no rows, no chart");
    // A missing column is named.
    let e = breakdown_rows(&breakdown_frame().drop("judged").unwrap(), path).unwrap_err().to_string();
    assert!(e.contains("breakdown.parquet") && e.contains("`judged`"), "{e}");
}

#[test]
fn test_period_returns_and_underwater() {
    let day = 86_400_000_000_000i64;
    let ts = [0, 3600, 7200, day, day + 3600, 2 * day].map(|t| t + 1_381_000_000_000_000_000);
    let equity = [100.0, 101.0, 102.0, 99.0, 104.0, 104.0];
    let (keys, rets) = period_returns(&ts, &equity, &|t| super::page::date(t));
    assert_eq!(keys.len(), 3);
    let want = [0.02, 104.0 / 102.0 - 1.0, 0.0];
    for (g, w) in rets.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{rets:?}");
    }
    let uw = underwater(&equity);
    assert_eq!(uw[0], 0.0);
    assert!((uw[3] - (99.0 / 102.0 - 1.0)).abs() < 1e-12);
    assert_eq!(uw[4], 0.0);
}

#[test]
fn test_metric_rows_are_the_terminal_tables() {
    let labels: Vec<&str> = crate::report::table::ROWS.iter().map(|r| r.0).collect();
    let mine: Vec<&str> = METRICS.iter().map(|r| r.0).collect();
    assert_eq!(mine, labels);
    let r = crate::run::RunResult::default();
    let m = crate::report::compute(&r, &crate::report::Annualisation::fixed(252.0), 0.0);
    let json = serde_json::to_value(&m).unwrap();
    for (label, key, _) in METRICS {
        assert!(json.get(key).is_some(), "{label}: no key {key} in summary.json metrics");
    }
    assert_eq!(money(-1234567.891), "−1,234,567.89");
    assert_eq!(money(12.5), "12.50");
}

fn sma_run(dir: &Path) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = crate::Config::default();
    cfg.data.path = root.join("data/bars");
    cfg.data.symbols = vec!["SPY".into(), "IBM".into()];
    cfg.strategy.name = crate::config::StrategyName::SmaCross;
    cfg.output.dir = dir.join("run");
    crate::engine::backtest(&cfg, &mut |_, _, _| {}).unwrap();
    cfg.output.dir
}

#[test]
fn test_report_is_deterministic_and_complete_for_a_non_graph_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = sma_run(tmp.path());
    let first = std::fs::read(run.join("report.html")).unwrap();
    let (again, charts) = super::render_run(&run).unwrap();
    assert!(first == again.as_bytes(), "same run folder, same bytes");
    let html = String::from_utf8(first).unwrap();
    for id in [
        "run",
        "metrics",
        "equity",
        "drawdown",
        "weights",
        "attribution",
        "calibration",
        "breakdown",
        "trades",
        "daily",
        "costs",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "section {id}");
    }
    assert!(html.contains("Not an analyst-graph run"));
    assert!(!html.contains("src=\"") && !html.contains("href=\"http"), "nothing to fetch");
    assert!(charts.iter().any(|c| c.name.starts_with("price-")), "price charts from prices.parquet");
    // Unreadable input names the file.
    std::fs::write(run.join("fills.parquet"), "not parquet").unwrap();
    let e = super::render_run(&run).unwrap_err().to_string();
    assert!(e.contains("fills.parquet"), "{e}");
}

#[test]
fn test_report_refuses_to_overwrite_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes.html");
    std::fs::write(&notes, "my notes").unwrap();
    let txt = tmp.path().join("x.txt");
    for (path, want) in [(&notes, "not an HTML page"), (&txt, "*.html")] {
        let e = super::check_target(path).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    std::fs::write(&notes, "<!DOCTYPE html>\n<html></html>").unwrap();
    super::check_target(&notes).unwrap();
}

#[test]
fn test_png_of_a_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = super::chart::heatmap("t", &["hedge".into()], &["09:30".into()], &|_, _| (0.6, 12)).unwrap();
    let (files, _warnings) = super::png::write_all(&[super::Chart::new("chart-heat", svg)], tmp.path()).unwrap();
    assert_eq!(files, vec![tmp.path().join("heat.png")]);
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}
