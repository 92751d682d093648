//! A whole backtest, end to end: load ../shared/data/spy_1m_2011.csv (regular session),
//! run the SMA cross and the buy-and-hold benchmark, compute metrics, write the run folder.
//! Target: under 0.5 s in release.

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorum::config::Config;
use quorum::engine::backtest;

use common::shared_or_sample;

fn bench_backtest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config::default();
    cfg.data.path = shared_or_sample("spy_1m_2011.csv");
    cfg.output.dir = dir.path().join("run");
    let bars = backtest(&cfg, &mut |_, _| {}).expect("backtest").summary.data.bars;
    let mut g = c.benchmark_group("backtest");
    g.sample_size(20);
    g.throughput(Throughput::Elements(bars as u64));
    g.bench_function("sma_cross_spy_1m_2011_end_to_end", |b| {
        b.iter(|| black_box(backtest(&cfg, &mut |_, _| {}).expect("backtest")))
    });
    g.finish();
}

criterion_group!(benches, bench_backtest);
criterion_main!(benches);
