//! Walk-forward (issue 17): fold boundaries with purge and embargo on constructed
//! timelines (property test), and the real sample end to end: purged training memories,
//! stitched out-of-sample curves recomputed from the folds, determinism, the command's
//! errors and a reused folder.

use std::path::Path;
use std::process::Command;

use polars::prelude::SerReader;
use proptest::prelude::*;
use quorum::Registry;
use quorum::config::{Config, ShapleyMode};
use quorum::market::TimeBound;
use quorum::memory::MemoryStore;
use quorum::research::walk_forward::{MARKER, walk_forward};
use quorum::research::{Span, Timeline, WalkForward};

use crate::common::root;

const DAY: i64 = 86_400 * 1_000_000_000;

fn spans() -> impl Strategy<Value = Span> {
    prop_oneof![(1usize..40).prop_map(Span::Bars), (1usize..6).prop_map(Span::Days), (1usize..3).prop_map(Span::Months)]
}

/// Distinct day keys of the steps `r`.
fn days_in(tl_days: &[i64], r: std::ops::Range<usize>) -> usize {
    let d = &tl_days[r];
    d.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!d.is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// On any timeline (ragged days, gaps of 1–4 days) and any windows: every fold trains
    /// on something, its training run's data ends `embargo` bars before its test window, so
    /// every outcome a training run can resolve (a vote at step i, resolved at i + h inside
    /// the run's data) lies before the test window by more than the embargo; memory carried
    /// forward resumes exactly where the last training ended and never reaches into this or
    /// a later test window; test windows are disjoint, in order, of the asked length; the
    /// unused tail is what follows the last.
    #[test]
    fn prop_walk_forward_folds_purged_embargoed_disjoint(
        per_day in proptest::collection::vec(1usize..12, 1..90),
        gaps in proptest::collection::vec(1i64..5, 90),
        train in spans(),
        test in spans(),
        step in proptest::option::of(spans()),
        anchored: bool,
        fresh_memory: bool,
        embargo in 0usize..10,
        horizon in 1usize..30,
    ) {
        let (mut ts, mut day, mut d) = (Vec::new(), Vec::new(), 15_000i64);
        for (k, n) in per_day.iter().enumerate() {
            for j in 0..*n {
                ts.push(d * DAY + j as i64 * 60_000_000_000);
                day.push(d);
            }
            d += gaps[k];
        }
        let tl = Timeline::with_days(ts, day.clone());
        let spec = WalkForward { train, test, step, anchored, embargo, fresh_memory };
        let Ok(plan) = spec.plan(&tl) else { return Ok(()) };
        let folds = &plan.folds;
        prop_assert!(!folds.is_empty());
        for (k, f) in folds.iter().enumerate() {
            prop_assert_eq!(f.index, k + 1);
            prop_assert!(!f.train.is_empty() && !f.learn.is_empty() && !f.test.is_empty());
            prop_assert_eq!(f.train.end + embargo, f.test.start);
            prop_assert_eq!(f.learn.end, f.train.end);
            if fresh_memory || k == 0 {
                prop_assert_eq!(&f.learn, &f.train);
            } else {
                prop_assert_eq!(f.learn.start, folds[k - 1].train.end, "carried memory resumes");
            }
            if anchored {
                prop_assert_eq!(f.train.start, 0);
            }
            for i in f.learn.clone() {
                if i + horizon < f.learn.end {
                    prop_assert!(i + horizon + embargo < f.test.start, "outcome of step {} inside the embargo", i);
                }
            }
            for later in &folds[k..] {
                prop_assert!(f.learn.end + embargo <= later.test.start, "training reaches a test window");
            }
            if k > 0 {
                prop_assert!(folds[k - 1].test.end <= f.test.start, "test windows overlap");
            }
            match test {
                Span::Bars(n) => prop_assert_eq!(f.test.len(), n),
                Span::Days(n) => prop_assert_eq!(days_in(&day, f.test.clone()), n),
                Span::Months(_) => {}
            }
        }
        let last = folds.last().unwrap();
        prop_assert_eq!(plan.unused_tail, tl.len() - last.test.end);
        // The plan is maximal: one more step would not fit another fold (rolling windows,
        // whose origin is the training window's start).
        if !anchored {
            let more = tl
                .end(last.train.start, step.unwrap_or(test))
                .filter(|&o| o < tl.len())
                .and_then(|o| tl.end(o, train))
                .and_then(|t| tl.end(t, test));
            prop_assert!(more.is_none(), "another fold fits after fold {}", last.index);
        }
    }

    /// A plan is refused as too short only when not even one fold fits.
    #[test]
    fn prop_walk_forward_too_short_only_when_nothing_fits(
        steps in 1usize..60,
        train in 1usize..40,
        test in 1usize..40,
    ) {
        let tl = Timeline::with_days((0..steps as i64).collect(), vec![15_000; steps]);
        let spec = WalkForward {
            train: Span::Bars(train),
            test: Span::Bars(test),
            step: None,
            anchored: false,
            embargo: 0,
            fresh_memory: false,
        };
        match spec.plan(&tl) {
            Ok(p) => prop_assert_eq!(p.folds.len(), (steps - train) / test),
            Err(_) => prop_assert!(train + test > steps),
        }
    }
}

/// The graph on the shipped week, composer without its cost gate (so the composed book
/// trades), no ablation, Shapley or page (speed).
fn config(out: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.data.path = root().join("data/bars");
    cfg.graph.agents_dir = root().join("agents");
    cfg.graph.ablation = false;
    cfg.graph.shapley = ShapleyMode::Off;
    cfg.output.report = false;
    cfg.composer.cost_aware = false;
    cfg.output.dir = out.to_path_buf();
    cfg
}

fn spec(embargo: usize, fresh_memory: bool) -> WalkForward {
    WalkForward { train: Span::Days(2), test: Span::Days(1), step: None, anchored: false, embargo, fresh_memory }
}

fn ts(s: &str) -> i64 {
    TimeBound::parse(s).unwrap().start()
}

/// Six sessions, two to train and one to test: four folds. Every item of a fold's training
/// memory (outcomes included) is timed at or before its last training bar, the test run
/// trades from the test window's first bar, the stitched curve is the product of the
/// folds' test returns, and a second run writes the same bytes.
#[test]
fn test_walk_forward_real_sample_purged_stitched_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        walk_forward(&config(&dir.path().join("a")), &spec(15, false), &Registry::default(), &mut |_| {}).unwrap();
    assert_eq!(out.plan.folds.len(), 4);
    assert!(dir.path().join("a").join(MARKER).is_file());
    for f in &out.folds {
        let fold = dir.path().join("a").join(format!("fold-{:03}", f.fold.index));
        let memory = MemoryStore::load(&fold.join("train/memory")).unwrap();
        let snap = memory.snapshot();
        let (train_to, test_from) = (ts(&f.train_to), ts(&f.test_from));
        assert!(snap.now() <= train_to, "fold {}: checkpoint after training", f.fold.index);
        let items: Vec<_> = snap.items(i64::MAX).collect();
        assert!(!items.is_empty(), "fold {}: training wrote memories", f.fold.index);
        for it in &items {
            assert!(it.time <= train_to && it.time < test_from, "fold {}: item {} at {}", f.fold.index, it.id, it.time);
        }
        if f.fold.index > 1 {
            // Carried forward: the memory holds items from before this fold's training run.
            assert!(items.iter().any(|it| it.time < ts(&f.learn_from)), "fold {}: nothing carried", f.fold.index);
        }
        // Training trades nothing, in any strategy.
        let train: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fold.join("train/summary.json")).unwrap()).unwrap();
        for st in train["strategies"].as_array().unwrap() {
            assert_eq!((st["metrics"]["fills"].as_u64(), st["metrics"]["trades"].as_u64()), (Some(0), Some(0)));
        }
        // The test run: exactly the test window (the embargo bars are in neither run).
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fold.join("test/summary.json")).unwrap()).unwrap();
        assert_eq!(s["data"]["first"].as_str().map(ts), Some(test_from));
        assert_eq!(s["data"]["last"].as_str().map(ts), Some(ts(&f.test_to)));
        assert_eq!((f.fold.test.len(), f.fold.test.start - f.fold.train.end), (390, 15));
    }
    // Every stitched curve, recomputed from the folds' own test returns, strategy by name.
    assert_eq!(out.stitched[0].name, "composed");
    for (k, st) in out.stitched.iter().enumerate() {
        assert!(out.folds.iter().all(|f| f.strategies[k].name == st.name));
        let product: f64 = out.folds.iter().map(|f| 1.0 + f.strategies[k].metrics.total_return).product();
        assert!((st.final_equity - 100_000.0 * product).abs() < 1e-6, "{}: {} vs {product}", st.name, st.final_equity);
    }
    assert!(out.stitched[0].trades > 0, "the ungated composer trades");
    // The stitched file: one row per test step, from the first test bar on.
    let eq = polars::prelude::ParquetReader::new(std::fs::File::open(dir.path().join("a/equity.parquet")).unwrap())
        .finish()
        .unwrap();
    assert_eq!(eq.height(), out.folds.iter().map(|f| f.fold.test.len()).sum::<usize>());
    let first = eq.column("timestamp").unwrap().cast(&polars::prelude::DataType::Int64).unwrap();
    assert_eq!(first.i64().unwrap().get(0), Some(ts(&out.folds[0].test_from)));
    let frame = |name: &str| std::fs::read(dir.path().join("a").join(name)).unwrap();
    let again =
        walk_forward(&config(&dir.path().join("b")), &spec(15, false), &Registry::default(), &mut |_| {}).unwrap();
    assert_eq!(again.stitched[0].final_equity, out.stitched[0].final_equity);
    for name in ["folds.parquet", "equity.parquet"] {
        assert_eq!(frame(name), std::fs::read(dir.path().join("b").join(name)).unwrap(), "{name} differs");
    }
}

/// With `--resample 5m`, every fold's runs hold whole buckets: the test run's bars are the
/// full load's bars in its window (a bound at the last bucket's own label used to cut it to
/// its first raw minute).
#[test]
fn test_walk_forward_resampled_folds_hold_whole_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.data.resample = Some("5m".parse().unwrap());
    let out = walk_forward(&cfg, &spec(3, false), &Registry::default(), &mut |_| {}).unwrap();
    let (bars, _) = quorum::market::load(&cfg.load_options().unwrap()).unwrap();
    for f in &out.folds {
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("fold-{:03}/test/summary.json", f.fold.index))).unwrap(),
        )
        .unwrap();
        let (from, to) = (ts(&f.test_from), ts(&f.test_to));
        let want: Vec<f64> =
            (0..bars.len()).filter(|&i| bars.ts[i] >= from && bars.ts[i] <= to).map(|i| bars.close[i]).collect();
        assert_eq!(s["data"]["bars"].as_u64(), Some(want.len() as u64), "fold {}", f.fold.index);
        // The closes the fold's run traded on, last bucket included, are the full load's.
        let prices = dir.path().join(format!("fold-{:03}/test/prices.parquet", f.fold.index));
        let got = polars::prelude::ParquetReader::new(std::fs::File::open(prices).unwrap()).finish().unwrap();
        let got: Vec<f64> = got.column("close").unwrap().f64().unwrap().into_no_null_iter().collect();
        assert_eq!(got, want, "fold {}: closes differ", f.fold.index);
    }
}

/// `--fresh-memory`: every fold's training memory holds only its own window.
#[test]
fn test_walk_forward_fresh_memory_holds_its_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.data.symbols = vec!["SPY".into()];
    let out = walk_forward(&cfg, &spec(0, true), &Registry::default(), &mut |_| {}).unwrap();
    for f in &out.folds {
        let memory = MemoryStore::load(&dir.path().join(format!("fold-{:03}/train/memory", f.fold.index))).unwrap();
        let from = ts(&f.train_from);
        assert!(memory.snapshot().items(i64::MAX).all(|it| it.time >= from), "fold {}", f.fold.index);
    }
}

fn quorum(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quorum")).args(args).current_dir(root()).output().unwrap()
}

/// The command: its summary table, clear errors with a non-zero exit, a foreign folder
/// refused, and a rerun into its own folder replacing it whole (no stale fold left).
#[test]
fn test_walk_forward_cli_summary_errors_and_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wf").display().to_string();
    let fast = ["--no-report", "--no-ablation", "--shapley", "off", "--symbols", "SPY"];
    let run = |extra: &[&str]| {
        let mut a = vec!["walk-forward", "--out", &out];
        a.extend_from_slice(&fast);
        a.extend_from_slice(extra);
        quorum(&a)
    };
    let o = run(&["--train", "2d", "--test", "1d"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("walk-forward: 4 folds, train 2d / test 1d / step 1d"), "{stdout}");
    assert!(stdout.contains("Folds positive") && stdout.contains("buy-and-hold"), "{stdout}");
    assert!(dir.path().join("wf/fold-004/test/run.complete").is_file());
    // Fewer folds into the same folder: the fourth is gone.
    let o = run(&["--train", "3d", "--test", "1d"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dir.path().join("wf/fold-004").exists(), "a stale fold survived");
    assert!(dir.path().join("wf").join(MARKER).is_file());
    for (args, want) in [
        (vec!["--train", "3w", "--test", "1d"], "unknown unit \"w\""),
        (vec!["--train", "5d", "--test", "2d"], "shorter than one training window (5d) plus one test window (2d)"),
        (vec!["--train", "2d", "--test", "1d", "--step", "100b"], "would overlap"),
        (vec!["--train", "2d", "--test", "1d", "--warmup-until", "2013-10-08"], "every fold sets its own"),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{args:?}: {err}");
    }
    let foreign = dir.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let o = quorum(&["walk-forward", "--train", "2d", "--test", "1d", "--out", &foreign.display().to_string()]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not a walk-forward folder"));
    assert!(foreign.join("keep.txt").is_file());
}

/// A small grid over the shipped week (SPY only, no ablation, Shapley or page: speed):
/// 4 points, plain backtests, or 2 points each a walk-forward.
fn grid_file(dir: &Path, walk: bool) -> std::path::PathBuf {
    let r = root();
    let mut text = format!(
        r#"[set]
"data.path" = "{data}"
"data.symbols" = ["SPY"]
"graph.agents_dir" = "{agents}"
"graph.ablation" = false
"graph.shapley" = "off"
"output.report" = false
"composer.cost_aware" = false
[overfit]
blocks = 4
"#,
        data = r.join("data/bars").display(),
        agents = r.join("agents").display()
    );
    if walk {
        text.push_str(
            "[grid]\n\"composer.cap\" = [0.4, 0.6]\n[walk_forward]\ntrain = \"3d\"\ntest = \"1d\"\nembargo = 5\n",
        );
    } else {
        text.push_str("[grid]\n\"composer.cap\" = [0.4, 0.6]\n\"composer.band\" = [0.1, 0.2]\n");
    }
    let p = dir.join(if walk { "wf-grid.toml" } else { "grid.toml" });
    std::fs::write(&p, text).unwrap();
    p
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The shard protocol: the local sweep (-j 2) and the same grid planned, its shards run in
/// reverse order (one through SLURM_ARRAY_TASK_ID, one twice, one killed mid-run first),
/// then merged, write the same leaderboard byte for byte; merge refuses missing shards.
#[test]
fn test_sweep_shards_any_order_same_leaderboard() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), false);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let out = ok(&quorum(&["sweep", grid.to_str().unwrap(), "-j", "2", "--out", a.to_str().unwrap()]));
    assert!(out.contains("rank") && out.contains("4 points tried; PBO 0.") || out.contains("; PBO 1.00"), "{out}");
    assert!(!out.contains("not computed"), "{out}");
    ok(&quorum(&["sweep", "plan", grid.to_str().unwrap(), "--out", b.to_str().unwrap()]));
    let bs = b.to_str().unwrap();
    let o = quorum(&["sweep", "merge", bs]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("shard(s) 0, 1, 2, 3 have no result"));
    // Shard 3 killed while it writes its run folder (SIGKILL): no result, then rerun whole.
    let killed = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["sweep", "run", bs, "--shard", "3"])
        .env("QUORUM_FAULT", "artifacts")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!killed.status.success());
    assert!(!b.join("shards/shard-0003.parquet").exists(), "a killed shard left a result");
    // Shard 3 twice at once: one runs it, the other finds its lock held and leaves it.
    let twins: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_quorum"))
                .args(["sweep", "run", bs, "--shard", "3"])
                .current_dir(root())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let said: Vec<String> = twins.into_iter().map(|c| ok(&c.wait_with_output().unwrap())).collect();
    assert!(said.iter().any(|s| s.contains("shard 3: done")), "{said:?}");
    assert!(b.join("shards/shard-0003.parquet").is_file());
    assert!(ok(&quorum(&["sweep", "run", bs, "--shard", "2"])).contains("done"));
    assert!(ok(&quorum(&["sweep", "run", bs, "--shard", "2"])).contains("already done"));
    let slurm = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["sweep", "run", bs])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(ok(&slurm).contains("shard 1: done"));
    ok(&quorum(&["sweep", "run", bs, "--shard", "0"]));
    let o = quorum(&["sweep", "run", bs, "--shard", "4"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("has 4 shards"));
    ok(&quorum(&["sweep", "merge", bs]));
    for f in ["leaderboard.parquet", "leaderboard.json", "manifest.parquet"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("leaderboard.json")).unwrap()).unwrap();
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let sharpe: Vec<f64> = entries.iter().map(|e| e["sharpe"].as_f64().unwrap_or(f64::NEG_INFINITY)).collect();
    assert!(sharpe.windows(2).all(|w| w[0] >= w[1]), "sorted by Sharpe: {sharpe:?}");
    assert!(entries.iter().all(|e| e["dsr"].as_f64().is_some_and(|d| (0.0..=1.0).contains(&d))));
}

/// Every point a walk-forward: each point's returns are its stitched out-of-sample steps.
/// A grid key the config lacks is refused, naming it.
#[test]
fn test_sweep_of_walk_forwards_and_bad_grid() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), true);
    let a = dir.path().join("a");
    let out = ok(&quorum(&["sweep", grid.to_str().unwrap(), "-j", "2", "--out", a.to_str().unwrap()]));
    assert!(out.contains("2 points tried"), "{out}");
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("leaderboard.json")).unwrap()).unwrap();
    for e in board["entries"].as_array().unwrap() {
        assert_eq!(e["returns"].as_u64(), Some(3 * 390 - 1), "three test sessions of SPY, step to step");
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[grid]\n\"composer.nope\" = [1, 2]\n").unwrap();
    let o = quorum(&["sweep", "plan", bad.to_str().unwrap(), "--out", dir.path().join("b").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("composer.nope"), "{err}");
}

/// `--holdout-from`: no point sees the held-out day; `--evaluate-holdout` runs the best
/// point once on it (trading only from the holdout), prints both and records the look; a
/// second look is counted and warned about; a sweep planned without a holdout refuses.
#[test]
fn test_sweep_holdout_kept_out_then_evaluated_once() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), false);
    let a = dir.path().join("a");
    let (gs, as_) = (grid.to_str().unwrap(), a.to_str().unwrap());
    let out =
        ok(&quorum(&["sweep", gs, "-j", "2", "--out", as_, "--holdout-from", "2013-10-11", "--evaluate-holdout"]));
    assert!(out.contains("holdout from 2013-10-11") && out.contains("sweep") && out.contains("holdout"), "{out}");
    let day = ts("2013-10-11");
    for k in 0..4 {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(a.join(format!("points/p{k:04}/run/summary.json"))).unwrap())
                .unwrap();
        assert!(ts(s["data"]["last"].as_str().unwrap()) < day, "point {k} saw the holdout");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("holdout/run/summary.json")).unwrap()).unwrap();
    assert_eq!(run["warmup_until"].as_str().map(ts), Some(day), "measured from the holdout only");
    assert!(ts(run["data"]["last"].as_str().unwrap()) >= day);
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(a.join("holdout.json")).unwrap()).unwrap();
    assert_eq!(h["evaluations"], 1);
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("leaderboard.json")).unwrap()).unwrap();
    assert_eq!(h["point"], board["entries"][0]["point"], "the leaderboard's best");
    let again = ok(&quorum(&["sweep", "merge", as_, "--evaluate-holdout"]));
    assert!(again.contains("evaluated 2 times"), "{again}");
    let b = dir.path().join("b");
    ok(&quorum(&["sweep", gs, "--out", b.to_str().unwrap(), "-q"]));
    let o = quorum(&["sweep", "merge", b.to_str().unwrap(), "--evaluate-holdout"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("without --holdout-from"));
}

/// A grid over an analyst profile parameter: each point runs with its own copy of the
/// profiles, the value set, from inside the sweep folder.
#[test]
fn test_sweep_over_profile_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    let r = root();
    std::fs::write(
        &grid,
        format!(
            "[set]\n\"data.path\" = \"{}\"\n\"data.symbols\" = [\"SPY\"]\n\"graph.agents_dir\" = \"{}\"\n\
             \"graph.only\" = \"hedge\"\n\"graph.ablation\" = false\n\"graph.shapley\" = \"off\"\n\
             \"output.report\" = false\n[grid]\n\"agents.hedge.horizon\" = [3, 30]\n[overfit]\nblocks = 2\n",
            r.join("data/bars").display(),
            r.join("agents").display()
        ),
    )
    .unwrap();
    let a = dir.path().join("a");
    ok(&quorum(&["sweep", grid.to_str().unwrap(), "-j", "2", "--out", a.to_str().unwrap(), "-q"]));
    for (k, horizon) in [(0, 3), (1, 30)] {
        let pd = a.join(format!("points/p{k:04}"));
        let hedge: toml::Table = std::fs::read_to_string(pd.join("agents/hedge.toml")).unwrap().parse().unwrap();
        assert_eq!(hedge["horizon"].as_integer(), Some(horizon));
        let cfg: toml::Table = std::fs::read_to_string(pd.join("run/config.toml")).unwrap().parse().unwrap();
        let used = cfg["graph"]["agents_dir"].as_str().unwrap().to_string();
        assert!(used.ends_with(&format!("p{k:04}/agents")), "{used}");
    }
}

/// A point that fails when it runs (its data file is missing): the local sweep stops,
/// exits non-zero, and shows the shard's own error.
#[test]
fn test_sweep_failing_point_reports_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(&grid, "[set]\n\"data.path\" = \"nope/missing.csv\"\n[grid]\n\"composer.band\" = [0.1, 0.2]\n")
        .unwrap();
    let o = quorum(&["sweep", grid.to_str().unwrap(), "--out", dir.path().join("s").to_str().unwrap(), "-j", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("shard 0 failed") && err.contains("nope/missing.csv"), "{err}");
}
