//! The full analyst graph with memory on, bars/s, and peak memory: five analyst actors,
//! the shared memory, the composer and the engine, on ../shared/data/spy_1m_2011.csv
//! (1 symbol, 31,757 bars) and the five hourly files (5 symbols × ~40,800 bars).
//! Targets (issue 16): ≥ 50,000 bars/s on spy_1m_2011, ≥ 60,000 on the hourly set, ≤ 512 MiB.
//! Each set runs with the actors on the driver's thread (`shared`, the default) and with
//! a thread per analyst (`_spread`, the placement before issue 16).
//!
//! Peak memory is the counting allocator's high-water mark during one graph run (heap
//! bytes live at once, bars included), printed after the criterion measurements. The
//! allocator counts only during those single runs: its two atomic updates per allocation
//! cost the spy_1m_2011 graph ~20% (352 against 279 ms a run, issue 16), time the CLI,
//! which allocates through plain mimalloc, never pays.

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorum::agents::{Registry, load_profiles};
use quorum::composer::ComposerConfig;
use quorum::config::ActorPlacement;
use quorum::engine::graph::GraphStrategy;
use quorum::engine::{EngineConfig, run};
use quorum::market::{SessionMode, load};
use quorum::memory::{MemoryParams, MemoryStore};
use quorum::strategy::Universe;

use common::{raw_opts, shared_or_sample};

struct Peak;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(true);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn note(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size() as isize);
        unsafe { INNER.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        note(-(l.size() as isize));
        unsafe { INNER.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        note(new as isize - l.size() as isize);
        unsafe { INNER.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

fn graph_run(bars: &quorum::market::Bars, universe: &Universe, placement: ActorPlacement) -> usize {
    let agents = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agents");
    let analysts = load_profiles(&agents, None, &Registry::default())
        .expect("profiles")
        .iter()
        .map(|p| Registry::default().build(p).expect("analyst"))
        .collect();
    let store = Arc::new(MemoryStore::new(MemoryParams::default()).expect("store"));
    let cfg = ComposerConfig::default();
    let mut g = GraphStrategy::placed(analysts, cfg, store, Vec::new(), 0.05, Default::default(), universe, placement)
        .expect("graph");
    let r = run(bars, universe, &mut g, &EngineConfig::default(), &mut |_, _| {}).expect("graph run");
    r.fills.len()
}

fn bench_graph(c: &mut Criterion) {
    let mut g = c.benchmark_group("graph");
    g.sample_size(10);
    let mut report = Vec::new();
    // Both sets loaded and their single runs measured first, while the allocator counts.
    let mut sets = Vec::new();
    for (label, name) in [("spy_1m_2011", "spy_1m_2011.csv"), ("hourly_5_symbols", "hourly_1998-2021")] {
        // The sets loaded before stay live: not part of this set's peak.
        let held = LIVE.load(Ordering::Relaxed);
        let mut opts = raw_opts(shared_or_sample(name));
        opts.session = SessionMode::Auto;
        let (bars, rep) = load(&opts).expect("load");
        let universe =
            Universe { symbols: bars.symbols.clone(), classes: rep.asset_classes.clone(), interval: rep.interval_ns };
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t = Instant::now();
        graph_run(&bars, &universe, ActorPlacement::Shared);
        let secs = t.elapsed().as_secs_f64();
        let peak = PEAK.load(Ordering::Relaxed);
        report.push(format!(
            "{label}: {} bars in {secs:.2} s = {:.0} bars/s, peak heap {:.0} MiB (bars {:.0} MiB)",
            bars.len(),
            bars.len() as f64 / secs,
            (peak - held) as f64 / 1048576.0,
            (before - held) as f64 / 1048576.0
        ));
        sets.push((label, bars, universe));
    }
    // Off for good: frees of counted memory are not subtracted from here on.
    COUNTING.store(false, Ordering::Relaxed);
    for (label, bars, universe) in &sets {
        let label = *label;
        g.throughput(Throughput::Elements(bars.len() as u64));
        g.bench_function(label, |b| b.iter(|| graph_run(bars, universe, ActorPlacement::Shared)));
        // The placement before issue 16: a thread per analyst.
        g.bench_function(format!("{label}_spread"), |b| b.iter(|| graph_run(bars, universe, ActorPlacement::Spread)));
    }
    g.finish();
    println!("\nsingle runs:");
    for line in report {
        println!("{line}");
    }
}

/// `n` symbols side by side for the first `steps` steps of `src`: symbol `k` is the real
/// series of `src`'s symbol `k mod m`, named `<name>_<k>` (so every series is real, and a
/// step holds `n` bars where `src` has them all).
fn side_by_side(src: &quorum::market::Bars, n: usize, steps: usize) -> quorum::market::Bars {
    let m = src.symbols.len();
    let mut names: Vec<(String, usize)> = (0..n).map(|k| (format!("{}_{k:02}", src.symbols[k % m]), k % m)).collect();
    names.sort();
    let mut out = quorum::market::Bars { symbols: names.iter().map(|x| x.0.clone()).collect(), ..Default::default() };
    for r in src.steps().take(steps) {
        for (id, (_, from)) in names.iter().enumerate() {
            if let Some(i) = r.clone().find(|&i| src.sym[i] as usize == *from) {
                out.push(quorum::market::Bar { symbol: id as u32, ..src.bar(i) });
            }
        }
    }
    out
}

/// How a step's cost grows with the symbols in it: 1, 4, 16 and 64 symbols over the first
/// 1,000 steps of the hourly set (its five real series side by side under distinct
/// names). Criterion reports the time of the 1,000 steps; per step and per bar below.
fn bench_scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("graph_scaling");
    g.sample_size(10);
    let mut opts = raw_opts(shared_or_sample("hourly_1998-2021"));
    opts.session = SessionMode::Auto;
    let (src, rep) = load(&opts).expect("load");
    let mut lines = Vec::new();
    for n in [1usize, 4, 16, 64] {
        let bars = side_by_side(&src, n, 1_000);
        let universe = Universe {
            symbols: bars.symbols.clone(),
            classes: vec![rep.asset_classes[0]; bars.symbols.len()],
            interval: rep.interval_ns,
        };
        let t = Instant::now();
        graph_run(&bars, &universe, ActorPlacement::Shared);
        let secs = t.elapsed().as_secs_f64();
        lines.push(format!(
            "{n} symbols: {} bars, {:.0} µs a step, {:.1} µs a bar (one run)",
            bars.len(),
            secs * 1e6 / 1_000.0,
            secs * 1e6 / bars.len() as f64
        ));
        g.throughput(Throughput::Elements(bars.len() as u64));
        g.bench_function(format!("{n}_symbols_1000_steps"), |b| {
            b.iter(|| graph_run(&bars, &universe, ActorPlacement::Shared))
        });
    }
    g.finish();
    println!("\nscaling:");
    for l in lines {
        println!("{l}");
    }
}

criterion_group!(benches, bench_graph, bench_scaling);
criterion_main!(benches);
