//! The HTML report end to end: `backtest` writes report.html with every section,
//! `--no-report` does not, `quorum report A B` compares, a non-run folder is refused.

use std::path::Path;
use std::process::Command;

use crate::common::root;

const SECTIONS: [&str; 11] = [
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
];

fn quorum(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_quorum")).args(args).current_dir(root()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small graph run (one symbol, one day) into `out`.
fn small_run(out: &Path, extra: &[&str]) {
    let mut args = vec!["backtest", "-q", "--symbols", "SPY", "--from", "2013-10-07", "--to", "2013-10-07", "--out"];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    let (code, _, err) = quorum(&args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn test_backtest_writes_the_report_and_report_compares_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    small_run(&a, &[]);
    small_run(&b, &["--no-report", "--composer", "equal"]);
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    for id in SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "section {id}");
    }
    assert!(html.contains("<svg") && html.contains("chart-weights") && html.contains("chart-calibration"));
    assert!(a.join("prices.parquet").is_file());
    assert!(!b.join("report.html").exists(), "--no-report");
    // Written later from the folder alone: the same page.
    let (code, out, err) = quorum(&["report", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report.html"), "{out}");
    assert_eq!(
        std::fs::read_to_string(a.join("report.html")).unwrap(),
        html,
        "backtest and report write the same page"
    );
    // Two runs compared.
    let page = tmp.path().join("cmp.html");
    let (code, _, err) = quorum(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", page.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let cmp = std::fs::read_to_string(&page).unwrap();
    for want in ["<section id=\"runs\">", "<section id=\"equity\">", "<section id=\"metrics\">", "composer.mode"] {
        assert!(cmp.contains(want), "compare page lacks {want}");
    }
    // A file that is not a report is not overwritten.
    let notes = tmp.path().join("notes.html");
    std::fs::write(&notes, "my notes").unwrap();
    let (code, _, err) =
        quorum(&["report", a.to_str().unwrap(), b.to_str().unwrap(), "--out", notes.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("notes.html") && err.contains("not an HTML page"), "{err}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes");
    // Not a run folder, an unfinished one, a missing one: refused, named, no panic.
    let (code, _, err) = quorum(&["report", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a quorum run folder") && !err.contains("panicked"), "{err}");
    std::fs::remove_file(b.join(quorum::run::MARKER)).unwrap();
    let (code, _, err) = quorum(&["report", b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("unfinished run folder"), "{err}");
    let (code, _, err) = quorum(&["report", tmp.path().join("missing").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("missing") && !err.contains("panicked"), "{err}");
}
