//! Hybrid top-10 recall latency at 1k, 10k, 100k and 1M items, with and without filters,
//! and bytes per item (after the build, and with the caches queries fill). Criterion times batches of queries; each query is also timed alone
//! and the p50/p99 of those single-query times are printed (criterion reports means and
//! medians, not tails). Targets: p99 ≤ 250 µs at 100k, ≤ 2 ms at 1M.
//!
//! Set `QUORUM_BENCH_MAX_ITEMS` to skip larger sizes (e.g. 100000 on a small machine) and
//! `QUORUM_BENCH_MIN_ITEMS` to skip smaller ones (e.g. to profile one size);
//! `QUORUM_BENCH_PROBE` overrides the IVF lists probed per query; `QUORUM_BENCH_SIDE` set
//! to `text` or `vector` drops the other half of each query (to see what each costs);
//! `QUORUM_BENCH_FILTERED=true|false` runs one of the two query sets;
//! `QUORUM_BENCH_PASSES` (default 3) sets how many times the 400 queries are timed alone,
//! so that `perf stat` of two runs differing only in it gives instructions and cycles per
//! query (steadier than wall time on a shared machine).

mod common;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use quorum::memory::{MemoryParams, MemoryStore, Query};
use quorum::rng::SplitMix64;

/// mimalloc with a live-bytes counter, for bytes per item.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { INNER.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn build(n: usize) -> (MemoryStore, i64, f64) {
    let params = MemoryParams {
        short: quorum::memory::LayerParams { capacity: 2_000_000, ..MemoryParams::default().short },
        ..Default::default()
    };
    let before = LIVE.load(Ordering::Relaxed);
    let store = MemoryStore::new(params).expect("store");
    let items = common::synthetic_items(n, 16, 7);
    let now = items.last().map(|i| i.time).unwrap_or(0);
    for chunk in items.chunks(100_000) {
        for it in chunk {
            store.insert(it.clone()).expect("insert");
        }
        store.publish_bulk(now).expect("publish");
    }
    drop(items);
    store.commit().expect("commit");
    let bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;
    (store, now, bytes)
}

fn queries(now: i64, filtered: bool, seed: u64) -> Vec<Query> {
    let probe = common::synthetic_items(400, 16, seed);
    let agents = ["hedge", "liquidity", "sentiment", "wyckoff", "markov"];
    let symbols = ["SPY", "AAPL", "AIG", "BAC", "IBM", "BTCUSDT", "QQQ", "IWM"];
    let mut rng = SplitMix64(seed);
    let side = std::env::var("QUORUM_BENCH_SIDE").unwrap_or_default();
    probe
        .into_iter()
        .map(|it| {
            let words: Vec<&str> = it.text.split(' ').take(3).collect();
            Query {
                text: (side != "vector").then(|| words.join(" ")),
                vector: (side != "text").then_some(it.vector),
                agent: filtered.then(|| agents[rng.below(5)].to_string()),
                symbol: filtered.then(|| symbols[rng.below(8)].to_string()),
                at: now,
                k: 10,
                probe: std::env::var("QUORUM_BENCH_PROBE").ok().and_then(|v| v.parse().ok()),
                ..Default::default()
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn bench_recall(c: &mut Criterion) {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (min, max) = (env("QUORUM_BENCH_MIN_ITEMS", 0), env("QUORUM_BENCH_MAX_ITEMS", 1_000_000));
    let mut report = Vec::new();
    let mut g = c.benchmark_group("memory_recall");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    for n in [1_000usize, 10_000, 100_000, 1_000_000].into_iter().filter(|&n| (min..=max).contains(&n)) {
        let t = Instant::now();
        let base = LIVE.load(Ordering::Relaxed);
        let (store, now, bytes) = build(n);
        let build_s = t.elapsed().as_secs_f64();
        let snap = store.snapshot();
        let sets = std::env::var("QUORUM_BENCH_FILTERED").unwrap_or_default();
        for filtered in [false, true].into_iter().filter(|f| sets.is_empty() || sets == f.to_string()) {
            let qs = queries(now, filtered, 99 + n as u64);
            for q in &qs {
                std::hint::black_box(snap.recall(q).expect("recall"));
            }
            let mut lat: Vec<f64> = Vec::new();
            for _ in 0..env("QUORUM_BENCH_PASSES", 3) {
                for q in &qs {
                    let t = Instant::now();
                    std::hint::black_box(snap.recall(q).expect("recall"));
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
            lat.sort_by(f64::total_cmp);
            // Query-time caches (frequent terms' decoded postings, filter bitsets) included.
            let cached = (LIVE.load(Ordering::Relaxed) - base) as f64 / n as f64;
            // Recall@10 against the same query with every IVF list probed (exact vectors).
            let (mut agree, mut total) = (0usize, 0usize);
            for q in &qs {
                let exact: Vec<u64> = snap
                    .recall(&Query { probe: Some(usize::MAX), ..q.clone() })
                    .expect("recall")
                    .iter()
                    .map(|h| h.id)
                    .collect();
                let got = snap.recall(q).expect("recall");
                agree += got.iter().filter(|h| exact.contains(&h.id)).count();
                total += exact.len();
            }
            let label = format!("hybrid_top10_{}{}", n, if filtered { "_filtered" } else { "" });
            report.push(format!(
                "{label:<32} p50 {:>8.1} us  p99 {:>8.1} us  max {:>8.1} us  recall@10 vs exact {:.3}  ({bytes:.0} bytes/item, {cached:.0} with query caches, built in {build_s:.1} s)",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(f64::NAN),
                agree as f64 / total.max(1) as f64
            ));
            let mut k = 0usize;
            g.bench_function(&label, |b| {
                b.iter(|| {
                    k = (k + 1) % qs.len();
                    std::hint::black_box(snap.recall(&qs[k]).expect("recall"))
                })
            });
        }
    }
    g.finish();
    println!("\nsingle-query latency percentiles:");
    for line in report {
        println!("{line}");
    }
}

criterion_group!(benches, bench_recall);
criterion_main!(benches);
