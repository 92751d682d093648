//! Memory insert throughput, items/s: stage a batch of synthetic items (see
//! `common::synthetic_items`), publish it (ids, columns, text index adds, tail) and commit
//! the text index. Target: ≥ 200k items/s.

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
    g.finish();
}

criterion_group!(benches, bench_insert);
criterion_main!(benches);
