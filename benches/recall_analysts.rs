//! Recall latency on the memory that analysts write, with the queries they ask (issue 16,
//! item 5). `memory_recall` uses a 240-word synthetic vocabulary; analysts write templated
//! texts where each query term sits in 5–15% of the items, which is the harder case.
//!
//! The workload, built once:
//! 1. the real graph (five analysts, default profiles and memory) runs over
//!    `../shared/data/hourly_1998-2021` (5 symbols, 204k bars; `data/bars` with a note when
//!    `../shared` is absent); every item the analysts write and every recall query they ask
//!    is recorded ([`MemoryStore::record`]). (The same run with cleanup off, keeping all it
//!    wrote, took 241 s instead of 3.5: recall over a memory that never forgets.)
//! 2. those items go into a fresh store that forgets nothing, of exactly [`ITEMS`] items:
//!    the newest [`ITEMS`] if the run wrote more, else all of them again and again, each
//!    copy shifted back by the run's span (texts, agents, symbols, kinds, layers,
//!    importance, outcomes and vectors as written);
//! 3. 1,000 of the recorded queries, evenly spaced over the run, are asked as of the
//!    store's newest item (so each sees all [`ITEMS`]), as the analysts asked them: text
//!    and market-state vector, own agent, the bar's symbol, kind `outcome`, top k.
//!
//! Each query is timed alone (3 passes) for p50/p99, hybrid and text-only (the vector
//! dropped), over all 3,000 timings and over each query's best of three (which takes the
//! shared machine's hiccups out); criterion times the batch. `QUORUM_BENCH_SLOWEST=N`
//! prints the N slowest queries. Target: hybrid p99 ≤ 250 µs at 100k items.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use quorum::agents::{Registry, load_profiles};
use quorum::composer::ComposerConfig;
use quorum::engine::graph::GraphStrategy;
use quorum::engine::{EngineConfig, run};
use quorum::market::{SessionMode, load};
use quorum::memory::{LayerParams, MemoryParams, MemoryStore, NewItem, Query, Recording};
use quorum::strategy::Universe;

use common::{raw_opts, shared_or_sample};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Items in the measured store.
const ITEMS: usize = 100_000;
/// Recorded queries asked.
const QUERIES: usize = 1_000;

/// Memory parameters that forget nothing: no cleanup, no capacity limit.
fn keep_all() -> MemoryParams {
    let d = MemoryParams::default();
    let big = |l: LayerParams| LayerParams { capacity: 10_000_000, ..l };
    MemoryParams {
        cleanup_recency: 0.0,
        cleanup_importance: 0.0,
        short: big(d.short),
        mid: big(d.mid),
        long: big(d.long),
        reflection: big(d.reflection),
        ..d
    }
}

/// Runs the graph over the hourly set with recording on: what the analysts wrote and asked.
fn analysts_run() -> Recording {
    let mut opts = raw_opts(shared_or_sample("hourly_1998-2021"));
    opts.session = SessionMode::Auto;
    let (bars, rep) = load(&opts).expect("load");
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: rep.asset_classes.clone(), interval: rep.interval_ns };
    let agents = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agents");
    let registry = Registry::default();
    let analysts = load_profiles(&agents, None, &registry)
        .expect("profiles")
        .iter()
        .map(|p| registry.build(p).expect("analyst"))
        .collect();
    let store = Arc::new(MemoryStore::new(MemoryParams::default()).expect("store"));
    store.record();
    let mut g = GraphStrategy::new(
        analysts,
        ComposerConfig::default(),
        store.clone(),
        Vec::new(),
        0.05,
        Default::default(),
        &universe,
    )
    .expect("graph");
    let t = Instant::now();
    run(&bars, &universe, &mut g, &EngineConfig::default(), &mut |_, _| {}).expect("graph run");
    eprintln!("analysts' run: {} bars in {:.1} s", bars.len(), t.elapsed().as_secs_f64());
    drop(g);
    store.take_recording()
}

/// A fresh store of exactly `n` of the written items (see the module doc).
fn measured_store(mut items: Vec<NewItem>, n: usize) -> (MemoryStore, i64) {
    assert!(!items.is_empty(), "the analysts wrote nothing");
    items.sort_by(|a, b| (a.time, &a.agent).cmp(&(b.time, &b.agent)));
    let written = items.len();
    let (first, last) = (items[0].time, items[written - 1].time);
    let span = last - first + 1;
    let mut copies: Vec<NewItem> = Vec::with_capacity(n);
    let mut shift = 0i64;
    while copies.len() < n {
        // Newest first, so a run of more than `n` items keeps its newest.
        for it in items.iter().rev().take(n - copies.len()) {
            copies.push(NewItem { time: it.time - shift, ..it.clone() });
        }
        shift += span;
    }
    items.clear();
    copies.sort_by_key(|it| it.time);
    eprintln!("the run wrote {written} items; measured store: {n} ({:.1} copies)", n as f64 / written as f64);
    let store = MemoryStore::new(keep_all()).expect("store");
    for chunk in copies.chunks(20_000) {
        for it in chunk {
            store.insert(it.clone()).expect("insert");
        }
        store.publish_bulk(chunk.last().expect("chunk").time).expect("publish");
    }
    store.commit().expect("commit");
    (store, last)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn bench_recall_analysts(c: &mut Criterion) {
    let Recording { items, queries: recorded } = analysts_run();
    assert!(!recorded.is_empty(), "the analysts asked no recall");
    let (store, now) = measured_store(items, ITEMS);
    let step = (recorded.len() / QUERIES).max(1);
    let hybrid: Vec<Query> =
        recorded.iter().step_by(step).take(QUERIES).map(|q| Query { at: now, ..q.clone() }).collect();
    let text_only: Vec<Query> = hybrid.iter().map(|q| Query { vector: None, ..q.clone() }).collect();
    let terms: f64 =
        hybrid.iter().map(|q| q.text.as_deref().unwrap_or("").split_whitespace().count() as f64).sum::<f64>()
            / hybrid.len() as f64;
    eprintln!("{} queries recorded, {} asked, {terms:.1} words each", recorded.len(), hybrid.len());
    let snap = store.snapshot();
    let mut g = c.benchmark_group("recall_analysts");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let mut report = Vec::new();
    for (label, qs) in [("hybrid", &hybrid), ("text_only", &text_only)] {
        for q in qs.iter() {
            std::hint::black_box(snap.recall(q).expect("recall"));
        }
        let mut lat: Vec<f64> = Vec::with_capacity(3 * qs.len());
        let mut per_query = vec![f64::INFINITY; qs.len()];
        for _ in 0..3 {
            for (i, q) in qs.iter().enumerate() {
                let t = Instant::now();
                std::hint::black_box(snap.recall(q).expect("recall"));
                let us = t.elapsed().as_secs_f64() * 1e6;
                lat.push(us);
                per_query[i] = per_query[i].min(us);
            }
        }
        lat.sort_by(f64::total_cmp);
        // QUORUM_BENCH_SLOWEST=N: the N queries slowest at their best of three.
        let slowest = std::env::var("QUORUM_BENCH_SLOWEST").ok().and_then(|v| v.parse().ok()).unwrap_or(0usize);
        let mut order: Vec<usize> = (0..qs.len()).collect();
        order.sort_by(|&a, &b| per_query[b].total_cmp(&per_query[a]));
        for &i in order.iter().take(slowest) {
            let q = &qs[i];
            eprintln!(
                "{label} {:.0} µs: {:?} agent {:?} symbol {:?} kind {:?} k {}",
                per_query[i], q.text, q.agent, q.symbol, q.kind, q.k
            );
        }
        let hits: usize = qs.iter().map(|q| snap.recall(q).expect("recall").len()).sum();
        per_query.sort_by(f64::total_cmp);
        report.push(format!(
            "{label} at {ITEMS} items: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; each query's best of 3: p50 {:.0} µs, \
             p99 {:.0} µs ({:.1} hits a query)",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1],
            percentile(&per_query, 0.5),
            percentile(&per_query, 0.99),
            hits as f64 / qs.len() as f64
        ));
        g.bench_function(format!("{label}_100k_{}_queries", qs.len()), |b| {
            b.iter(|| {
                for q in qs.iter() {
                    std::hint::black_box(snap.recall(q).expect("recall"));
                }
            })
        });
    }
    g.finish();
    for line in report {
        eprintln!("{line}");
    }
}

criterion_group!(benches, bench_recall_analysts);
criterion_main!(benches);
