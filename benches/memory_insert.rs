//! Memory insert throughput, items/s: stage a batch of synthetic items (see
//! `common::synthetic_items`), publish it (ids, columns, text index adds) and commit the
//! text index. Target: ≥ 200k items/s. A 50k batch is committed within its publish, so it
//! skips the searchable tail; `stream_…` publishes every 100 items, so items go through
//! the tail as in a backtest, with a commit every `commit_every` (4,096).

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use quorum::memory::{MemoryParams, MemoryStore};

fn bench_insert(c: &mut Criterion) {
    let n = 50_000;
    let items = common::synthetic_items(n, 16, 1);
    let now = items.last().map(|i| i.time).unwrap_or(0);
    let mut g = c.benchmark_group("memory_insert");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("batch_50k_publish_commit", |b| {
        b.iter_batched(
            || (MemoryStore::new(MemoryParams::default()).expect("store"), items.clone()),
            |(store, items)| {
                for it in items {
                    store.insert(it).expect("insert");
                }
                store.publish_bulk(now).expect("publish");
                store.commit().expect("commit");
                store
            },
            BatchSize::LargeInput,
        )
    });
    // The streaming path: publishes of 100 items (a backtest step's writes are fewer), so
    // most items pass through the searchable tail before a commit every `commit_every`.
    g.bench_function("stream_50k_publish_every_100", |b| {
        b.iter_batched(
            || (MemoryStore::new(MemoryParams::default()).expect("store"), items.clone()),
            |(store, items)| {
                for chunk in items.chunks(100) {
                    for it in chunk {
                        store.insert(it.clone()).expect("insert");
                    }
                    store.publish_bulk(chunk[chunk.len() - 1].time).expect("publish");
                }
                store.commit().expect("commit");
                store
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_insert);
criterion_main!(benches);
