//! The HTML report of a finished run folder: reading its artifacts back, drawing every chart
//! (M4-decimated), writing report.html. The run is made once in the setup (the default
//! command's analyst graph on ../shared/data/spy_1m_2011.csv, and on the 5-symbol hourly set
//! when present); only the report is timed. Issue 13's target: ≤ 2 s and ≤ 5 MB for the
//! spy_1m_2011 run. Prints each page's size.

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use quorum::config::Config;
use quorum::engine::backtest;
use quorum::report::html::write_report;

use common::{shared, shared_or_sample};

fn bench_report(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    let mut cases = vec![("spy_1m_2011", shared_or_sample("spy_1m_2011.csv"))];
    if let Some(p) = shared("hourly_1998-2021") {
        cases.push(("hourly_5_symbols", p));
    }
    for (label, data) in cases {
        let mut cfg = Config::default();
        cfg.data.path = data;
        cfg.output.dir = dir.path().join(label);
        cfg.output.report = false;
        backtest(&cfg, &mut |_, _, _| {}).expect("backtest");
        let bytes = write_report(&cfg.output.dir).expect("report");
        eprintln!("report/{label}: report.html is {:.2} MB", bytes as f64 / 1e6);
        g.bench_function(label, |b| b.iter(|| write_report(&cfg.output.dir).expect("report")));
    }
    g.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
