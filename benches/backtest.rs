//! A whole backtest, end to end: load ../shared/data/spy_1m_2011.csv (regular session),
//! run the strategy and the buy-and-hold benchmark, compute metrics, write the run folder.
//! `sma_cross_…`: the SMA cross (target: under 0.5 s in release). `graph_…`: the default
//! command's analyst graph with its baselines and memory checkpoint, as `quorum backtest`
//! runs it (the end-to-end number BENCHMARKS.md reports).

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorum::config::{Config, StrategyName};
use quorum::engine::backtest;

use common::shared_or_sample;

fn bench_backtest(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("backtest");
    for (label, strategy, samples) in [
        ("sma_cross_spy_1m_2011_end_to_end", StrategyName::SmaCross, 20),
        ("graph_spy_1m_2011_end_to_end", StrategyName::Graph, 10),
    ] {
        let mut cfg = Config::default();
        cfg.data.path = shared_or_sample("spy_1m_2011.csv");
        cfg.strategy.name = strategy;
        cfg.output.dir = dir.path().join(label);
        let bars = backtest(&cfg, &mut |_, _, _| {}).expect("backtest").summary.data.bars;
        g.sample_size(samples);
        g.throughput(Throughput::Elements(bars as u64));
        g.bench_function(label, |b| b.iter(|| black_box(backtest(&cfg, &mut |_, _, _| {}).expect("backtest"))));
    }
    g.finish();
}

criterion_group!(benches, bench_backtest);
criterion_main!(benches);
