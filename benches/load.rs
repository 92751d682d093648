//! Loading throughput, rows/s: CSV and Parquet, through the whole loader (read, validate,
//! merge). Data: ../shared/data (spy_1m_2011.csv; the five hourly files, ~204k rows, as CSV
//! and converted once to one Parquet file in a temp folder).

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quorum::market::load;

use common::{raw_opts, shared_or_sample};

fn bench_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("load");
    g.sample_size(20);
    for (label, name) in [("csv_spy_1m_2011", "spy_1m_2011.csv"), ("csv_hourly_5_symbols", "hourly_1998-2021")] {
        let opts = raw_opts(shared_or_sample(name));
        let rows = load(&opts).expect("load").0.len();
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_function(label, |b| b.iter(|| black_box(load(&opts).expect("load"))));
    }
    let hourly = load(&raw_opts(shared_or_sample("hourly_1998-2021"))).expect("load").0;
    let dir = tempfile::tempdir().expect("tempdir");
    let pq = dir.path().join("hourly.parquet");
    quorum::market::write_parquet(&hourly, &pq).expect("write parquet");
    let opts = raw_opts(pq);
    g.throughput(Throughput::Elements(hourly.len() as u64));
    g.bench_function("parquet_hourly_5_symbols", |b| b.iter(|| black_box(load(&opts).expect("load"))));
    g.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
