//! The engine loop alone, bars/s: buy-and-hold and SMA cross over bars already in memory
//! (../shared/data: spy_1m_2011.csv all hours, 31,757 bars; the five hourly files merged,
//! ~204k bars).

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorum::engine::{EngineConfig, run};
use quorum::market::load;
use quorum::strategy::SmaParams;
use quorum::strategy::{BuyAndHold, SmaCross, Universe};

use common::{raw_opts, shared_or_sample};

fn bench_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    for (label, name) in [("spy_1m_2011", "spy_1m_2011.csv"), ("hourly_5_symbols", "hourly_1998-2021")] {
        let (bars, report) = load(&raw_opts(shared_or_sample(name))).expect("load");
        let universe = Universe {
            symbols: bars.symbols.clone(),
            classes: report.asset_classes.clone(),
            interval: report.interval_ns,
        };
        let cfg = EngineConfig::default();
        g.throughput(Throughput::Elements(bars.len() as u64));
        g.bench_function(format!("buy_and_hold/{label}"), |b| {
            b.iter(|| black_box(run(&bars, &universe, &mut BuyAndHold::new(), &cfg, &mut |_, _| {})))
        });
        g.bench_function(format!("sma_cross/{label}"), |b| {
            b.iter(|| black_box(run(&bars, &universe, &mut SmaCross::new(SmaParams::default()), &cfg, &mut |_, _| {})))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
