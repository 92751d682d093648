//! The paper loop on the workload users run.
//!
//! - `journal_step_*`: the journal's cost per step — the step's commit (bars, fills, votes,
//!   targets, book, order intents; fsynced) and the commit of the broker's answers — on the
//!   real rows of a paper run over the shipped week (`data/bars`, 2,340 steps of four
//!   symbols, 25 votes a step), replayed into a fresh journal. The bench also prints the
//!   p50/p99 per step over all 2,340 steps (target: p99 ≤ 2 ms).
//! - `replay_*` vs `backtest_*`: `quorum paper --feed replay:FILE` as fast as possible
//!   (fresh state folder each time: journal, broker book, checkpoints, run folder) against
//!   `quorum backtest` on the same file and config, end to end (target: the replay at ≥ 25%
//!   of the backtest's throughput). On the shipped week, and on
//!   ../shared/data/spy_1m_2011.csv when it is there.

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use quorum::Registry;
use quorum::config::Config;
use quorum::engine::backtest;
use quorum::paper::journal::{Identity, Journal, JournalOrder, StepRow};
use quorum::paper::{PaperOptions, Source, Venue, paper, stop_clock};

use common::shared_or_sample;

fn options(state: &Path) -> PaperOptions {
    PaperOptions {
        state: state.to_path_buf(),
        speed: None,
        flatten_on_exit: false,
        checkpoint_every: 390,
        notify_webhook: None,
    }
}

fn config(data: &Path, out: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.data.path = data.to_path_buf();
    cfg.output.dir = out.to_path_buf();
    cfg.output.report = false;
    cfg
}

fn run_paper(cfg: &Config, state: &Path) {
    let _ = std::fs::remove_dir_all(state);
    let stop = AtomicBool::new(false);
    let mut cfg = cfg.clone();
    cfg.output.dir = state.join("run");
    let clock = stop_clock(&stop);
    let opts = options(state);
    black_box(
        paper(&cfg, &Registry::default(), &opts, Venue::Local, Source::Replay, &clock, &stop, &mut |_| {})
            .expect("paper"),
    );
}

/// The rows and order intents of a real paper run over the shipped week.
fn real_steps(dir: &Path) -> Vec<(StepRow, Vec<JournalOrder>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let state = dir.join("source");
    run_paper(&config(&root.join("data/bars"), &dir.join("unused")), &state);
    let j = Journal::read(&state.join("journal.db")).expect("journal");
    let orders = j.all_orders().expect("orders");
    (0..j.steps().expect("steps"))
        .map(|k| {
            let row = j.step(k).expect("step").expect("row");
            let intents: Vec<JournalOrder> = orders.iter().filter(|o| o.step == k).cloned().collect();
            (row, intents)
        })
        .collect()
}

fn write_all(j: &mut Journal, steps: &[(StepRow, Vec<JournalOrder>)], times: Option<&mut Vec<f64>>) {
    let mut times = times;
    for (row, intents) in steps {
        let t = Instant::now();
        j.write_step(row, &[], intents).expect("write");
        let acks: Vec<(String, String, f64, Option<String>)> =
            intents.iter().map(|o| (o.coid.clone(), "working".to_string(), 0.0, Some("1".to_string()))).collect();
        j.update_orders(&acks).expect("acks");
        if let Some(v) = times.as_deref_mut() {
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
}

fn bench_journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = real_steps(dir.path());
    let identity = Identity { config: "bench".into(), broker: "local".into(), run_id: "bench".into() };
    // p50 / p99 per step over every real step, into a fresh journal.
    let mut times = Vec::with_capacity(steps.len());
    let (mut j, _, _) = Journal::open(&dir.path().join("p99.db"), &identity).expect("journal");
    write_all(&mut j, &steps, Some(&mut times));
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "journal per step over {} real steps: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
    let mut g = c.benchmark_group("paper");
    g.sample_size(10);
    g.throughput(Throughput::Elements(steps.len() as u64));
    let mut k = 0;
    g.bench_function("journal_step_real_week_all_steps", |b| {
        b.iter_batched(
            || {
                k += 1;
                Journal::open(&dir.path().join(format!("j{k}.db")), &identity).expect("journal").0
            },
            |mut j| write_all(&mut j, &steps, None),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut g = c.benchmark_group("paper");
    g.sample_size(10);
    let mut sets = vec![("week", root.join("data/bars"))];
    let spy = shared_or_sample("spy_1m_2011.csv");
    if spy.ends_with("spy_1m_2011.csv") {
        sets.push(("spy_1m_2011", spy));
    }
    for (label, data) in sets {
        let cfg = config(&data, &dir.path().join(format!("bt-{label}")));
        let bars = backtest(&cfg, &mut |_, _, _| {}).expect("backtest").summary.data.bars;
        g.throughput(Throughput::Elements(bars as u64));
        g.bench_function(format!("backtest_{label}_end_to_end"), |b| {
            b.iter(|| black_box(backtest(&cfg, &mut |_, _, _| {}).expect("backtest")))
        });
        let state = dir.path().join(format!("paper-{label}"));
        g.bench_function(format!("replay_{label}_end_to_end"), |b| b.iter(|| run_paper(&cfg, &state)));
    }
    g.finish();
}

criterion_group!(benches, bench_journal, bench_replay);
criterion_main!(benches);
