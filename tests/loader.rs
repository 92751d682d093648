//! Loading and validating bar files: each kind of bad input gets a clear error naming the
//! file, the row and the field; `--on-bad-row skip` counts skips by reason.

use quorum::market::{BadRowPolicy, load};

use crate::common::{equities_1m, opts, write};

const HEADER: &str = "timestamp,symbol,open,high,low,close,volume";
const GOOD: [&str; 4] = [
    "2013-10-07T13:30:00Z,SPY,100,101,99,100.5,1000",
    "2013-10-07T13:30:00Z,IBM,180,181,179,180.5,500",
    "2013-10-07T13:31:00Z,SPY,100.5,102,100,101,1200",
    "2013-10-07T13:32:00Z,SPY,101,101.5,100.5,101.2,900",
];

/// The good file with row `k` (0-based data row) replaced by `line`.
fn with_row(k: usize, line: &str) -> String {
    let mut rows: Vec<&str> = GOOD.to_vec();
    rows[k] = line;
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

#[test]
fn test_loader_bad_rows_are_named_table() {
    struct Case {
        name: &'static str,
        row: usize,
        line: &'static str,
        wants: &'static [&'static str],
        reason: &'static str,
    }
    let cases = [
        Case {
            name: "bad timestamp",
            row: 2,
            line: "2013-10-07 13:31,SPY,100.5,102,100,101,1200",
            wants: &["line 4", "timestamp", "2013-10-07 13:31"],
            reason: "bad_timestamp",
        },
        Case {
            name: "timestamp without offset",
            row: 2,
            line: "2013-10-07T13:31:00,SPY,100.5,102,100,101,1200",
            wants: &["line 4", "timestamp"],
            reason: "bad_timestamp",
        },
        Case {
            name: "bad number",
            row: 1,
            line: "2013-10-07T13:30:00Z,IBM,18O,181,179,180.5,500",
            wants: &["line 3", "`open`", "18O"],
            reason: "bad_number",
        },
        Case {
            name: "empty close",
            row: 3,
            line: "2013-10-07T13:32:00Z,SPY,101,101.5,100.5,,900",
            wants: &["line 5", "`close`", "empty"],
            reason: "missing_value",
        },
        Case {
            name: "empty symbol",
            row: 3,
            line: "2013-10-07T13:32:00Z,,101,101.5,100.5,101,900",
            wants: &["line 5", "`symbol`"],
            reason: "missing_value",
        },
        Case {
            name: "nan price",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,NaN,102,100,101,1200",
            wants: &["line 4", "`open`", "not finite"],
            reason: "non_finite",
        },
        Case {
            name: "inf volume",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,100.5,102,100,101,inf",
            wants: &["line 4", "`volume`", "not finite"],
            reason: "non_finite",
        },
        Case {
            name: "zero price",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,100.5,102,0,101,1200",
            wants: &["line 4", "`low`", "must be > 0"],
            reason: "non_positive_price",
        },
        Case {
            name: "negative price",
            row: 0,
            line: "2013-10-07T13:30:00Z,SPY,-100,101,99,100.5,1000",
            wants: &["line 2", "`open`"],
            reason: "non_positive_price",
        },
        Case {
            name: "high below low",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,100.5,99,101,100,1200",
            wants: &["line 4", "high 99 is below low 101"],
            reason: "high_below_low",
        },
        Case {
            name: "open above high",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,103,102,100,101,1200",
            wants: &["line 4", "`open`", "103"],
            reason: "outside_range",
        },
        Case {
            name: "close below low",
            row: 2,
            line: "2013-10-07T13:31:00Z,SPY,100.5,102,100,99,1200",
            wants: &["line 4", "`close`", "99"],
            reason: "outside_range",
        },
        Case {
            name: "negative volume",
            row: 3,
            line: "2013-10-07T13:32:00Z,SPY,101,101.5,100.5,101.2,-5",
            wants: &["line 5", "`volume`", "-5"],
            reason: "negative_volume",
        },
        Case {
            name: "duplicate",
            row: 1,
            line: "2013-10-07T13:30:00Z,SPY,100,101,99,100.5,1000",
            wants: &["line 3", "duplicate", "SPY"],
            reason: "duplicate",
        },
        Case {
            name: "out of order",
            row: 3,
            line: "2013-10-07T13:29:00Z,SPY,101,101.5,100.5,101.2,900",
            wants: &["line 5", "earlier than", "13:31"],
            reason: "out_of_order",
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for c in cases {
        let p = write(dir.path(), "bars.csv", &with_row(c.row, c.line));
        let e = load(&opts(&p)).unwrap_err().to_string();
        assert!(e.contains("bars.csv"), "{}: no file in {e}", c.name);
        for w in c.wants {
            assert!(e.contains(w), "{}: {w:?} not in {e}", c.name);
        }
        let mut o = opts(&p);
        o.on_bad_row = BadRowPolicy::Skip;
        let (bars, report) = load(&o).unwrap();
        assert_eq!(bars.len(), 3, "{}", c.name);
        assert_eq!(report.skipped.get(c.reason), Some(&1), "{}: {:?}", c.name, report.skipped);
    }
}

#[test]
fn test_loader_file_level_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(std::path::PathBuf, &[&str])> = vec![
        (write(d, "empty.csv", ""), &["empty.csv", "empty file"]),
        (write(d, "header.csv", &format!("{HEADER}\n")), &["header.csv", "empty file"]),
        (
            write(d, "nocol.csv", "timestamp,symbol,open,high,low,volume\n2013-10-07T13:30:00Z,SPY,1,1,1,1\n"),
            &["nocol.csv", "missing column `close`"],
        ),
        (
            write(d, "case.csv", "timestamp,symbol,open,high,low,Close,volume\n2013-10-07T13:30:00Z,SPY,1,1,1,1,1\n"),
            &["case.csv", "`close`", "did you mean `Close`"],
        ),
        (d.join("does-not-exist.csv"), &["does-not-exist.csv", "cannot read"]),
        (write(d, "bars.txt", "x"), &["bars.txt", "unsupported file type"]),
    ];
    for (p, wants) in cases {
        let e = load(&opts(&p)).unwrap_err().to_string();
        for w in wants {
            assert!(e.contains(w), "{w:?} not in {e}");
        }
    }
    let empty_dir = tempfile::tempdir().unwrap();
    let e = load(&opts(empty_dir.path())).unwrap_err().to_string();
    assert!(e.contains("no .csv or .parquet files"), "{e}");
}

#[test]
fn test_loader_skip_counts_several_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{}\nbad,SPY,1,1,1,1,1\n{}\n2013-10-07T13:31:00Z,SPY,1,0.5,1,1,1\n{}\n{}\n2013-10-07T13:31:30Z,SPY,1,1,1,1,1\n",
        GOOD[0], GOOD[1], GOOD[2], GOOD[3]
    );
    let p = write(dir.path(), "bars.csv", &text);
    let mut o = opts(&p);
    o.on_bad_row = BadRowPolicy::Skip;
    let (bars, report) = load(&o).unwrap();
    assert_eq!(bars.len(), 4);
    let want: std::collections::BTreeMap<String, usize> =
        [("bad_timestamp", 1), ("high_below_low", 1), ("out_of_order", 1)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
    assert_eq!(report.skipped, want);
}

#[test]
fn test_loader_symbol_filter_and_unknown_symbol() {
    let mut o = opts(&equities_1m());
    o.symbols = vec!["IBM".into(), "SPY".into()];
    let (bars, _) = load(&o).unwrap();
    assert_eq!(bars.symbols, vec!["IBM".to_string(), "SPY".to_string()]);
    o.symbols = vec!["TSLA".into()];
    let e = load(&o).unwrap_err().to_string();
    assert!(e.contains("TSLA") && e.contains("AIG, BAC, IBM, SPY"), "{e}");
}

#[test]
fn test_loader_date_range_is_half_open() {
    let mut o = opts(&equities_1m());
    o.from = quorum::market::time::parse_bound("2013-10-07", false);
    o.to = quorum::market::time::parse_bound("2013-10-08", true);
    let (bars, report) = load(&o).unwrap();
    assert!(report.first.starts_with("2013-10-07"), "{}", report.first);
    assert!(report.last.starts_with("2013-10-08"), "{}", report.last);
    assert!(bars.ts.iter().all(|&t| t >= o.from.unwrap() && t < o.to.unwrap()));
}

#[test]
fn test_loader_parquet_roundtrip_matches_csv() {
    use polars::prelude::*;
    let (csv_bars, _) = load(&opts(&equities_1m())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bars.parquet");
    // Microsecond timestamps and integer volumes, as other writers produce them.
    let mut df = quorum::market::to_frame(&csv_bars).unwrap();
    let us: Vec<i64> = csv_bars.ts.iter().map(|t| t / 1000).collect();
    df.replace(
        "timestamp",
        Series::new("timestamp".into(), us).into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)).into_column(),
    )
    .unwrap();
    let vol: Vec<i64> = csv_bars.volume.iter().map(|v| *v as i64).collect();
    df.replace("volume", Column::new("volume".into(), vol)).unwrap();
    ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
    let (pq_bars, _) = load(&opts(&p)).unwrap();
    assert_eq!(pq_bars, csv_bars);
}

#[test]
fn test_loader_parquet_bad_row_names_row() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.parquet");
    let mut df = df!(
        "timestamp" => ["2013-10-07T13:30:00Z", "2013-10-07T13:31:00Z"],
        "symbol" => ["SPY", "SPY"],
        "open" => [100.0, 100.0],
        "high" => [101.0, 99.0],
        "low" => [99.0, 101.0],
        "close" => [100.0, 100.0],
        "volume" => [1.0, 1.0]
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
    let e = load(&opts(&p)).unwrap_err().to_string();
    assert!(e.contains("bad.parquet") && e.contains("row 2") && e.contains("high"), "{e}");
}

#[test]
fn test_loader_folder_merges_files_and_catches_cross_file_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", &format!("{HEADER}\n{}\n{}\n", GOOD[0], GOOD[2]));
    write(dir.path(), "b.csv", &format!("{HEADER}\n{}\n{}\n", GOOD[1], GOOD[3]));
    write(dir.path(), "notes.md", "ignored");
    let (bars, report) = load(&opts(dir.path())).unwrap();
    assert_eq!(report.files.len(), 2);
    assert_eq!(bars.len(), 4);
    assert!(bars.ts.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(bars.symbols, vec!["IBM".to_string(), "SPY".to_string()]);
    write(dir.path(), "c.csv", &format!("{HEADER}\n{}\n", GOOD[2]));
    let e = load(&opts(dir.path())).unwrap_err().to_string();
    assert!(e.contains("duplicate") && e.contains("c.csv") && e.contains("a.csv"), "{e}");
}

/// Inputs a new user hit that got through or got a poor message (issue 12, item 8).
#[test]
fn test_loader_ragged_cr_only_case_long_symbols_and_naive_parquet_times() {
    let dir = tempfile::tempdir().unwrap();
    // An extra field: named by line; skippable, and later rows keep their own line numbers.
    let ragged = format!(
        "{HEADER}\n{}\n{}\n{}\n2013-10-07T13:31:30Z,SPY,1,1,1,1,1,extra\n2013-10-07T13:33:00Z,SPY,4,3,5,4,1\n",
        GOOD[0], GOOD[1], GOOD[2]
    );
    let p = write(dir.path(), "ragged.csv", &ragged);
    let e = load(&opts(&p)).unwrap_err().to_string();
    assert!(e.contains("line 5") && e.contains("8 fields") && e.contains("7"), "{e}");
    let mut o = opts(&p);
    o.on_bad_row = BadRowPolicy::Skip;
    let (bars, report) = load(&o).unwrap();
    assert_eq!((bars.len(), report.skipped["field_count"], report.skipped["high_below_low"]), (3, 1, 1));
    o.on_bad_row = BadRowPolicy::Fail;
    let p2 = write(dir.path(), "ragged2.csv", &ragged.replace(",extra", ""));
    let e = load(&opts(&p2)).unwrap_err().to_string();
    assert!(e.contains("line 6"), "original line numbers: {e}");

    // CR-only line endings: said so, in a short message.
    let cr = format!("{HEADER}\r{}\r{}\r", GOOD[0], GOOD[1]);
    let e = load(&opts(&write(dir.path(), "cr.csv", &cr))).unwrap_err().to_string();
    assert!(e.contains("lone CR") && e.len() < 400, "{e}");

    // `spy` and `SPY` are one instrument; `--symbols spy` selects it.
    let mixed = format!("{HEADER}\n{}\n{}\n", GOOD[0], GOOD[2].replace("SPY", "spy"));
    let mut o = opts(&write(dir.path(), "mixed.csv", &mixed));
    o.symbols = vec!["spy".into()];
    let (bars, _) = load(&o).unwrap();
    assert_eq!((bars.symbols.clone(), bars.len()), (vec!["SPY".to_string()], 2));

    // A huge symbol field is refused by line, without echoing it.
    let long = format!("{HEADER}\n{}\n2013-10-07T13:31:00Z,{},1,1,1,1,1\n", GOOD[0], "X".repeat(100_000));
    let e = load(&opts(&write(dir.path(), "long.csv", &long))).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("longer than a symbol") && e.len() < 400, "{}", &e[..e.len().min(400)]);

    // Naive Parquet times are refused as naive CSV times are.
    use polars::prelude::*;
    let ts = Series::new("timestamp".into(), [1_381_152_600_000_000_000i64])
        .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
        .unwrap();
    let mut df = DataFrame::new_infer_height(vec![
        ts.into_column(),
        Column::new("symbol".into(), ["SPY"]),
        Column::new("open".into(), [1.0]),
        Column::new("high".into(), [1.0]),
        Column::new("low".into(), [1.0]),
        Column::new("close".into(), [1.0]),
        Column::new("volume".into(), [1.0]),
    ])
    .unwrap();
    let pq = dir.path().join("naive.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap()).finish(&mut df).unwrap();
    let e = load(&opts(&pq)).unwrap_err().to_string();
    assert!(e.contains("without a time zone"), "{e}");
}
