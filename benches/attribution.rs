//! Attribution costs, as issue 13 sets them (release build, this 2-core machine):
//!
//! - `shapley_replay_spy_1m_2011`: replay-mode exact Shapley over the five analysts (32
//!   coalitions: composer and portfolio re-run over the logged votes) after a graph run on
//!   `../shared/data/spy_1m_2011.csv`. Target ≤ 1 s.
//! - `shapley_full_default_end_to_end`: `quorum backtest --shapley full` on the repo's
//!   default sample (`data/bars`), everything included: the graph, the ablation, the
//!   baselines, replay Shapley, 31 whole-graph coalitions, artifacts. Target ≤ 60 s.

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use quorum::config::{Config, ShapleyMode};
use quorum::engine::{EngineConfig, backtest, shapley_replay, trading_weights};
use quorum::market::load;
use quorum::report::compute;
use quorum::run::RunResult;
use quorum::strategy::Universe;

use common::shared_or_sample;

fn bench_shapley_replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config::default();
    cfg.data.path = shared_or_sample("spy_1m_2011.csv");
    cfg.output.dir = dir.path().join("run");
    cfg.graph.shapley = ShapleyMode::Off;
    cfg.graph.ablation = false;
    let out = backtest(&cfg, &mut |_, _, _| {}).expect("backtest");
    let (votes, weights) = (out.votes.expect("graph run"), out.weights.expect("graph run"));
    let agents = out.summary.analysts.clone();
    let trading = std::sync::Arc::new(trading_weights(&cfg, &weights));
    let (bars, report) = load(&cfg.load_options().expect("options")).expect("load");
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from: None };
    let a = out.summary.annualisation;
    let value = |r: &RunResult| {
        let m = compute(r, &a, 0.0);
        [m.total_return, m.sharpe, m.total_costs]
    };
    let mut g = c.benchmark_group("attribution");
    g.sample_size(10);
    g.bench_function("shapley_replay_spy_1m_2011", |b| {
        b.iter(|| {
            black_box(
                shapley_replay(&cfg, &bars, &universe, &engine, &votes, &weights, &trading, &agents, &value)
                    .expect("shapley"),
            )
        })
    });
    g.finish();
}

fn bench_shapley_full(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = Config::default();
    cfg.data.path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/bars");
    cfg.graph.agents_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agents");
    cfg.output.dir = dir.path().join("full");
    cfg.graph.shapley = ShapleyMode::Full;
    let mut g = c.benchmark_group("attribution");
    g.sample_size(10);
    g.bench_function("shapley_full_default_end_to_end", |b| {
        b.iter(|| black_box(backtest(&cfg, &mut |_, _, _| {}).expect("backtest")))
    });
    g.finish();
}

criterion_group!(benches, bench_shapley_replay, bench_shapley_full);
criterion_main!(benches);
