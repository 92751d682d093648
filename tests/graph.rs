//! The analyst graph end to end: composer weighting, a real-data run and its artifacts,
//! determinism across thread scheduling, no look-ahead, warm-up and memory reuse.

use std::path::Path;
use std::sync::Arc;

use quorum::agents::{Registry, load_profiles};
use quorum::composer::{Composer, ComposerConfig};
use quorum::config::{ActorPlacement, Config};
use quorum::engine::graph::{GraphError, GraphStrategy};
use quorum::engine::{EngineConfig, RunError, backtest, run};
use quorum::market::time::{NS_PER_HOUR, parse_rfc3339};
use quorum::memory::{Kind, MemoryParams, MemoryStore, NewItem};
use quorum::strategy::Universe;

use crate::common::root;

const T0: i64 = 1_381_152_600_000_000_000;

/// The shipped roster's analysts, built by the default registry.
fn shipped_analysts() -> Vec<Box<dyn quorum::agents::Analyst>> {
    load_profiles(&root().join("agents"), None, &Registry::default())
        .unwrap()
        .iter()
        .map(|p| Registry::default().build(p).unwrap())
        .collect()
}

#[test]
fn test_composer_winner_gains_weight_loser_floors_and_recovers() {
    let store = MemoryStore::new(MemoryParams::default()).unwrap();
    let agents = vec!["winner".to_string(), "loser".to_string(), "coin".to_string()];
    let composer = Composer::new(ComposerConfig::default(), agents, 1);
    let outcome = |t: i64, agent: &str, r: f64| {
        store.insert(NewItem::new(t, agent, "SPY", Kind::Outcome, format!("{agent} vote")).with_outcome(r)).unwrap();
    };
    let mut t = T0;
    for k in 0..20 {
        t = T0 + k * NS_PER_HOUR;
        outcome(t, "winner", 0.01);
        outcome(t, "loser", -0.01);
        outcome(t, "coin", if k % 2 == 0 { 0.01 } else { -0.01 });
        store.publish(t).unwrap();
    }
    let w = composer.weights(&store.snapshot(), t);
    let sum: f64 = w.iter().map(|x| x.weight).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    assert!(w[0].weight > w[2].weight && w[2].weight >= w[1].weight, "{w:?}");
    assert!((w[0].weight - 0.6).abs() < 1e-9, "capped: {w:?}");
    assert!(w[0].win_rate > 0.8 && w[1].win_rate < 0.2);
    let floor_share = w[1].weight;
    // The loser turns: a week of wins while its old losses decay (72 h half-life).
    for k in 0..40 {
        t += NS_PER_HOUR * 6;
        outcome(t, "loser", 0.01);
        outcome(t, "winner", if k % 2 == 0 { 0.01 } else { -0.01 });
        store.publish(t).unwrap();
    }
    let w2 = composer.weights(&store.snapshot(), t);
    assert!(w2[1].weight > floor_share * 3.0 && w2[1].weight > w2[0].weight, "recovered: {w2:?}");
}

#[test]
fn test_graph_refuses_symbols_it_was_not_built_for() {
    let (bars, report) = quorum::market::load(&crate::common::opts(&crate::common::equities_1m())).unwrap();
    let run_universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let built_for = Universe { symbols: vec!["SPY".into()], ..run_universe.clone() };
    let analysts = shipped_analysts();
    let store = Arc::new(MemoryStore::new(MemoryParams::default()).unwrap());
    let mut g = GraphStrategy::new(
        analysts,
        ComposerConfig::default(),
        store,
        Vec::new(),
        0.05,
        Default::default(),
        &built_for,
    )
    .unwrap();
    let e = run(&bars, &run_universe, &mut g, &EngineConfig::default(), &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(&e, GraphError::Universe { built, given } if built.symbols.len() == 1 && given.symbols.len() == 4),
        "{e:?}"
    );
}

fn config(out: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.data.path = root().join("data/bars");
    cfg.graph.agents_dir = root().join("agents");
    cfg.output.dir = out.to_path_buf();
    cfg
}

fn small(out: &Path) -> Config {
    let mut cfg = config(out);
    cfg.data.symbols = vec!["SPY".into(), "IBM".into()];
    cfg.data.from = Some("2013-10-07".parse().unwrap());
    cfg.data.to = Some("2013-10-08".parse().unwrap());
    // The memory ablation is one more graph run: on where a test is about it.
    cfg.graph.ablation = false;
    cfg
}

#[test]
fn test_graph_end_to_end_on_real_multi_symbol_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = backtest(&config(dir.path()), &mut |_, _, _| {}).unwrap();
    // The roster is whatever the shipped profiles enable, in file order.
    let roster: Vec<String> = load_profiles(&root().join("agents"), None, &Registry::default())
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(roster.len() >= 2, "{roster:?}");
    let mut want = vec!["composed".to_string(), "equal-weight".to_string(), "no-recall".to_string()];
    want.extend(roster.iter().map(|a| format!("votes:{a}")));
    want.push("buy-and-hold".into());
    let names: Vec<&str> = out.summary.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, want);
    assert_eq!(out.summary.analysts, roster);
    for f in [
        "summary.json",
        "equity.parquet",
        "trades.parquet",
        "fills.parquet",
        "votes.parquet",
        "weights.parquet",
        "breakdown.parquet",
        "config.toml",
        "memory/manifest.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let votes = out.votes.unwrap();
    // One vote per analyst per bar: 4 symbols share the sessions.
    assert_eq!(votes.votes.len(), roster.len() * out.summary.data.bars);
    assert!(votes.votes.iter().all(|v| (-1.0..=1.0).contains(&v.direction) && (0.0..=1.0).contains(&v.confidence)));
    let weights = out.weights.unwrap();
    for k in 0..weights.ts.len() {
        let s: f64 = weights.step(k).iter().map(|w| w.weight).sum();
        assert!((s - 1.0).abs() < 1e-9, "weights sum to 1 at step {k}");
    }
    // The learning loop ran: outcomes were written, used memories reinforced, and some
    // votes were shaped by recalled memories.
    let mem = MemoryStore::load(&dir.path().join("memory")).unwrap();
    let snap = mem.snapshot();
    let items: Vec<_> = snap.items(snap.now()).collect();
    assert!(items.iter().filter(|i| i.kind == Kind::Outcome).count() > 100);
    assert!(items.iter().any(|i| i.access_count > 0), "reinforced memories");
    for kind in [Kind::Pattern, Kind::Regime, Kind::Observation] {
        assert!(items.iter().any(|i| i.kind == kind), "{kind:?} memories");
    }
    assert!(votes.votes.iter().filter(|v| !v.memory_ids.is_empty()).count() > 20, "memory in the loop");
    for a in &roster {
        assert!(snap.agent_stats(a, None, snap.now()).count > 0.0, "{a}: its votes were judged");
    }
    // Every strategy that trades is charged costs; some analyst's votes traded. (The
    // composed book may not: its cost gate holds back exposure the remembered outcomes do
    // not pay for, and on this week they pay for none.)
    for st in &out.summary.strategies {
        assert_eq!(st.metrics.fills > 0, st.metrics.total_costs > 0.0, "{}", st.name);
    }
    assert!(out.summary.strategies.iter().any(|s| s.name.starts_with("votes:") && s.metrics.fills > 0));
    // The learning report: one line per analyst, every one judged.
    let learning: Vec<&str> = out.summary.learning.iter().map(|l| l.agent.as_str()).collect();
    assert_eq!(learning, roster.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.summary.learning.iter().all(|l| l.resolved > 100 && l.win_rate_outcome_corr.is_some()));
    // Does memory help: each judged vote (wins and losses) is in exactly one evidence
    // stance, and the wins' and losses' memory use covers them all.
    for l in &out.summary.learning {
        let judged: usize = l.evidence.iter().map(|s| s.judged).sum();
        assert_eq!(judged, l.wins + l.losses, "{}", l.agent);
        assert_eq!((l.memory_of_wins.votes, l.memory_of_losses.votes), (l.wins, l.losses), "{}", l.agent);
    }
    assert!(out.summary.learning.iter().any(|l| l.evidence[0].judged > 0 && l.evidence[1].judged > 0));
    assert!(
        out.summary
            .learning
            .iter()
            .any(|l| l.memory_of_wins.kinds["outcome"] > 0 && l.memory_of_wins.layers["short"] > 0)
    );
}

/// The memory ablation: the same analysts without recall vote on perception alone (no
/// memory shapes a vote, no evidence is seen), and memory is still written; with recall the
/// same analysts do use memories.
#[test]
fn test_memory_ablation_votes_without_recall() {
    let (bars, report) = quorum::market::load(&crate::common::opts(&crate::common::equities_1m())).unwrap();
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let graph = |recall: bool| {
        let analysts = shipped_analysts();
        let store = Arc::new(MemoryStore::new(MemoryParams::default()).unwrap());
        let g = GraphStrategy::new(
            analysts,
            ComposerConfig::default(),
            store,
            Vec::new(),
            0.05,
            Default::default(),
            &universe,
        )
        .unwrap();
        let mut g = if recall { g } else { g.without_recall("no-recall") };
        let r = run(&bars, &universe, &mut g, &EngineConfig::default(), &mut |_, _| {}).unwrap();
        (g, r)
    };
    let (ablated, r) = graph(false);
    assert_eq!(r.strategy, "no-recall");
    assert!(ablated.votes.votes.iter().all(|v| v.memory_ids.is_empty() && v.memory.outcomes == 0));
    assert!(ablated.store.snapshot().counts().live > 100, "memory is still written");
    assert!(ablated.calibration.report(&ablated.agent_names).iter().all(|l| l.evidence[2].judged == l.wins + l.losses));
    let (with, _) = graph(true);
    assert!(with.votes.votes.iter().filter(|v| v.memory.outcomes > 0).count() > 20);
    assert_eq!(with.regimes.len(), bars.len(), "a regime per bar");
}

/// Full-mode Shapley (three analysts, so 7 whole-graph coalitions): efficient, and the
/// coalition of every analyst, re-run with its own memory, is the live run to the bit.
#[test]
fn test_full_mode_shapley_is_efficient_and_reruns_the_live_graph() {
    let dir = tempfile::tempdir().unwrap();
    let agents = tempfile::tempdir().unwrap();
    for a in ["hedge", "markov", "wyckoff"] {
        let f = format!("{a}.toml");
        std::fs::copy(root().join("agents").join(&f), agents.path().join(&f)).unwrap();
    }
    let mut cfg = small(dir.path());
    cfg.data.symbols = vec!["SPY".into()];
    cfg.graph.agents_dir = agents.path().to_path_buf();
    cfg.composer.cost_aware = false;
    cfg.graph.shapley = quorum::config::ShapleyMode::Full;
    let mut ticks = Vec::new();
    let out = backtest(&cfg, &mut |phase, done, total| {
        if phase == quorum::engine::Phase::Coalitions {
            ticks.push((done, total));
        }
    })
    .unwrap();
    assert_eq!(ticks.first(), Some(&(0, 7)));
    assert_eq!(ticks.last(), Some(&(7, 7)));
    let full = out.summary.shapley_full.clone().unwrap();
    let replay = out.summary.shapley.clone().unwrap();
    assert_eq!((full.mode.as_str(), replay.mode.as_str()), ("full", "replay"));
    assert!(out.run.fills.len() > 5, "the book traded");
    let live = out.summary.strategies[0].metrics.total_return;
    assert_eq!(full.total_return_all, live, "v(all) in full mode is the live run");
    assert_eq!(replay.total_return_all, live);
    let sum: f64 = full.agents.iter().map(|a| a.total_return).sum();
    assert!((sum - full.total_return_all).abs() < 1e-12);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("attribution.json")).unwrap()).unwrap();
    assert_eq!(json["shapley_full"]["mode"], "full");
    // Above 8 analysts full mode (2^n − 1 graphs) is refused before anything runs.
    let nine = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("agents/wyckoff.toml")).unwrap();
    for k in 1..=9 {
        let own = text.replacen("name = \"wyckoff\"", &format!("name = \"w{k}\""), 1);
        std::fs::write(nine.path().join(format!("w{k}.toml")), own).unwrap();
    }
    cfg.graph.agents_dir = nine.path().to_path_buf();
    let e = backtest(&cfg, &mut |_, _, _| {}).unwrap_err().to_string();
    assert!(e.contains("graph.shapley") && e.contains("9 analysts"), "{e}");
}

/// Without the cost gate the composer trades every target past the no-trade band; with it,
/// never more. `--composer equal` logs the evidence weights (not 1/n) and its "composed"
/// replay trades with them.
#[test]
fn test_graph_cost_gate_and_equal_mode_logs_evidence_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.composer.cost_aware = false;
    let free = backtest(&cfg, &mut |_, _, _| {}).unwrap();
    cfg.composer.cost_aware = true;
    let gated = backtest(&cfg, &mut |_, _, _| {}).unwrap();
    let fills = |o: &quorum::BacktestOutput| o.summary.strategies[0].metrics.fills;
    assert!(fills(&free) > 0, "ungated, the composed book trades");
    assert!(fills(&gated) <= fills(&free));
    cfg.composer.mode = quorum::composer::ComposerMode::Equal;
    let equal = backtest(&cfg, &mut |_, _, _| {}).unwrap();
    let w = equal.weights.unwrap();
    assert_eq!(w.weights, gated.weights.unwrap().weights, "the same evidence weights, whatever the mode");
    assert!(w.weights.iter().all(|x| (0.0..=1.0).contains(&x.weight)));
    let names: Vec<&str> = equal.summary.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(&names[..2], &["equal-weight", "composed"]);
}

/// Two runs, one with the actors on the driver's thread and one with a thread per
/// analyst: every byte the same.
#[test]
fn test_graph_runs_are_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let with_ablation = |p: &Path, actors| {
        let mut cfg = small(p);
        cfg.graph.ablation = true;
        cfg.graph.actors = actors;
        cfg
    };
    backtest(&with_ablation(a.path(), ActorPlacement::Shared), &mut |_, _, _| {}).unwrap();
    backtest(&with_ablation(b.path(), ActorPlacement::Spread), &mut |_, _, _| {}).unwrap();
    // Every file of the two folders, the memory checkpoint's manifest and tantivy index
    // included; only the output folder's name (config.toml's `dir`, and report.html, which
    // names the run by it) may differ.
    fn files(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    files(a.path(), a.path(), &mut fa);
    files(b.path(), b.path(), &mut fb);
    fa.sort();
    fb.sort();
    assert_eq!(fa, fb);
    assert!(fa.iter().any(|f| f.starts_with("memory/index/")) && fa.contains(&"memory/manifest.json".to_string()));
    for f in &fa {
        let (x, y) = (std::fs::read(a.path().join(f)).unwrap(), std::fs::read(b.path().join(f)).unwrap());
        if f == "report.html" {
            continue; // names the folder and the config's digest; drawn from the files compared here
        } else if f == "config.toml" {
            let strip = |v: Vec<u8>| String::from_utf8(v).unwrap().replace(&a.path().display().to_string(), "");
            let y = strip(y)
                .replace(&b.path().display().to_string(), "")
                .replace("actors = \"spread\"", "actors = \"shared\"");
            assert_eq!(strip(x), y, "{f}");
        } else {
            assert!(x == y, "{f} differs between runs");
        }
    }
}

/// Bars fed one step at a time: the run on a prefix of the data votes exactly as the full
/// run did on those steps, so nothing decided at step t used a later bar; and every memory
/// a vote used was written before the vote's step.
#[test]
fn test_graph_no_look_ahead() {
    let full_dir = tempfile::tempdir().unwrap();
    let full = backtest(&small(full_dir.path()), &mut |_, _, _| {}).unwrap();
    let full_votes = full.votes.unwrap();
    let mem = MemoryStore::load(&full_dir.path().join("memory")).unwrap();
    let snap = mem.snapshot();
    for cut in ["2013-10-07T16:00:00Z", "2013-10-08T14:30:00Z"] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = small(dir.path());
        cfg.data.to = Some(cut.parse().unwrap());
        let part = backtest(&cfg, &mut |_, _, _| {}).unwrap();
        let pv = part.votes.unwrap();
        assert!(pv.votes.len() < full_votes.votes.len());
        assert_eq!(pv.votes[..], full_votes.votes[..pv.votes.len()], "votes up to {cut}");
        let last = parse_rfc3339(cut).unwrap();
        let pf: Vec<_> = part.run.fills.to_vec();
        let ff: Vec<_> = full.run.fills.iter().filter(|f| f.ts <= last).copied().collect();
        assert_eq!(pf, ff, "fills up to {cut}");
    }
    for v in &full_votes.votes {
        for id in &v.memory_ids {
            if let Some(item) = snap.item(*id, v.ts) {
                assert!(item.time < v.ts, "memory {id} at {} used by a vote at {}", item.time, v.ts);
            }
        }
    }
    for f in &full.run.fills {
        assert!(f.decided_at < f.ts);
    }
}

#[test]
fn test_graph_warmup_memory_reuse_only_and_equal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(&dir.path().join("train"));
    cfg.graph.warmup_until = Some("2013-10-08".parse().unwrap());
    let warm = backtest(&cfg, &mut |_, _, _| {}).unwrap();
    let all_periods = warm.run.equity.len() - 1;
    let reported = warm.summary.strategies[0].metrics.periods;
    assert!(
        reported < all_periods / 2 + 10 && reported > 0,
        "metrics after the warm-up only: {reported} of {all_periods}"
    );
    assert!(
        warm.run.fills.iter().all(|f| f.ts >= parse_rfc3339("2013-10-08T00:00:00Z").unwrap()),
        "no trading while warming"
    );
    assert_eq!(warm.summary.warmup_until.as_deref(), Some("2013-10-08T00:00:00Z"));

    // Train on the 7th, trade the 8th from that memory.
    let mut train = small(&dir.path().join("day1"));
    train.data.to = Some("2013-10-07".parse().unwrap());
    backtest(&train, &mut |_, _, _| {}).unwrap();
    let mut test = small(&dir.path().join("day2"));
    test.data.from = Some("2013-10-08".parse().unwrap());
    test.graph.memory_from = Some(dir.path().join("day1/memory"));
    let reused = backtest(&test, &mut |_, _, _| {}).unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let mut fresh = small(fresh_dir.path());
    fresh.data.from = Some("2013-10-08".parse().unwrap());
    let fresh = backtest(&fresh, &mut |_, _, _| {}).unwrap();
    assert_ne!(reused.votes.unwrap().votes, fresh.votes.unwrap().votes, "the warmed memory changes decisions");
    // A checkpoint from after the data is refused.
    let mut bad = small(&dir.path().join("bad"));
    bad.data.to = Some("2013-10-07".parse().unwrap());
    bad.graph.memory_from = Some(dir.path().join("day2/memory"));
    let e = backtest(&bad, &mut |_, _, _| {}).unwrap_err();
    assert!(matches!(e, RunError::MemoryAfterData { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("day2/memory") && e.contains("after the first bar"), "{e}");
    // A checkpoint published exactly at the first bar is refused too: strictly before.
    let day1_now = MemoryStore::load(&dir.path().join("day1/memory")).unwrap().snapshot().now();
    let mut same = small(&dir.path().join("same"));
    same.data.from = Some(quorum::market::time::format_ts(day1_now).parse().unwrap());
    same.graph.memory_from = Some(dir.path().join("day1/memory"));
    let e = backtest(&same, &mut |_, _, _| {}).unwrap_err();
    assert!(matches!(e, RunError::MemoryAfterData { .. }), "{e:?}");

    let mut only = small(&dir.path().join("only"));
    let first = load_profiles(&root().join("agents"), None, &Registry::default()).unwrap()[0].name.clone();
    only.graph.only = Some(first.clone());
    let o = backtest(&only, &mut |_, _, _| {}).unwrap();
    assert_eq!(o.summary.analysts, vec![first]);
    let mut eq = small(&dir.path().join("eq"));
    eq.composer.mode = quorum::composer::ComposerMode::Equal;
    let e = backtest(&eq, &mut |_, _, _| {}).unwrap();
    assert_eq!(e.summary.strategies[0].name, "equal-weight");
    assert_eq!(e.summary.strategies[1].name, "composed");
}

/// The recipe of `agents/README.md`, followed from outside the crate: a sixth kind.
mod momentum {
    use quorum::agents::{Analyst, Core, PerSymbol, Perception, Profile, ProfileError, Proposal};
    use quorum::memory::Kind;

    /// `[params]` of a momentum profile.
    #[derive(Debug, Clone, Copy, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct Params {
        pub bars: usize,
    }

    impl Default for Params {
        fn default() -> Self {
            Params { bars: 10 }
        }
    }

    /// Votes with the last `bars`-bar move: tanh(z / 2), z = the move in standard
    /// deviations; a move beyond 2σ is remembered and its earlier outcomes recalled.
    pub struct Momentum {
        core: Core,
        p: Params,
        closes: PerSymbol<Vec<f64>>,
    }

    /// The registry entry.
    pub fn build(profile: &Profile) -> Result<Box<dyn Analyst>, ProfileError> {
        Ok(Box::new(Momentum { core: Core::new(profile), p: profile.params()?, closes: PerSymbol::new(Vec::new()) }))
    }

    impl Analyst for Momentum {
        fn core(&self) -> &Core {
            &self.core
        }

        fn perceive(&mut self, pc: &Perception<'_>) -> Proposal {
            let n = self.p.bars;
            let closes = self.closes.get(pc.sym);
            closes.push(pc.features.bar.close);
            if closes.len() <= n || pc.features.sigma <= 0.0 {
                return Proposal::neutral("momentum: warming up");
            }
            let z = (closes[closes.len() - 1] / closes[closes.len() - 1 - n]).ln()
                / (pc.features.sigma * (n as f64).sqrt());
            let direction = (z / 2.0).tanh();
            let burst = z.abs() > 2.0;
            let what = format!("momentum burst {} {}", if z > 0.0 { "up" } else { "down" }, pc.symbol);
            Proposal {
                direction,
                confidence: direction.abs(),
                rationale: format!("{n}-bar momentum z {z:+.2}"),
                writes: if burst { vec![self.core.memory(pc, Kind::Observation, what.clone(), 50.0)] } else { vec![] },
                recall: burst.then(|| self.core.recall_outcomes(what)),
            }
        }
    }
}

#[test]
fn test_graph_sixth_analyst_by_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    for e in std::fs::read_dir(root().join("agents")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, agents.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        agents.join("momentum.toml"),
        "name = \"momentum\"\nkind = \"momentum\"\nhorizon = 10\nrecall_k = 6\n[params]\nbars = 10\n",
    )
    .unwrap();
    let mut registry = Registry::default();
    registry.register("momentum", momentum::build);
    let shipped: Vec<String> = load_profiles(&root().join("agents"), None, &Registry::default())
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut cfg = small(&dir.path().join("run"));
    cfg.graph.agents_dir = agents.clone();
    let out = quorum::engine::backtest_with(&cfg, &registry, &mut |_, _, _| {}).unwrap();
    let want: Vec<String> = load_profiles(&agents, None, &registry).unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(want.len(), shipped.len() + 1);
    assert!(want.contains(&"momentum".to_string()));
    assert_eq!(out.summary.analysts, want, "every shipped analyst and the new one, in file order");
    let m = out.summary.analysts.iter().position(|a| a == "momentum").unwrap();
    let votes = out.votes.unwrap();
    assert_eq!(votes.votes.iter().filter(|v| v.agent == m).count(), out.summary.data.bars, "one vote a bar");
    assert!(votes.votes.iter().any(|v| v.agent == m && v.direction != 0.0));
    assert!(out.summary.strategies.iter().any(|s| s.name == "votes:momentum"), "its own baseline");
    assert_eq!(out.weights.unwrap().step(0).len(), want.len(), "a composer weight for it");
    let mem = MemoryStore::load(&dir.path().join("run/memory")).unwrap();
    let snap = mem.snapshot();
    assert!(snap.agent_stats("momentum", None, snap.now()).count > 0.0, "the learning loop judged its votes");
    // The shipped registry does not know the kind: the profile's file and kind are named.
    let e = load_profiles(&agents, None, &Registry::default()).unwrap_err().to_string();
    assert!(e.contains("momentum.toml") && e.contains("momentum") && e.contains("kinds: hedge"), "{e}");
}

/// An analyst that panics at its 40th bar.
struct Panicky(quorum::agents::Core, usize);

impl quorum::Analyst for Panicky {
    fn core(&self) -> &quorum::agents::Core {
        &self.0
    }
    fn perceive(&mut self, _: &quorum::agents::Perception<'_>) -> quorum::agents::Proposal {
        self.1 += 1;
        assert!(self.1 < 40, "panicky: a bug at bar {}", self.1);
        quorum::agents::Proposal::neutral("fine so far")
    }
}

/// A panic inside an analyst's actor ends the run with a typed error naming the analyst,
/// not a panic of the engine and not a hang.
#[test]
fn test_graph_panicking_analyst_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    std::fs::write(agents.join("panicky.toml"), "name = \"panicky\"\nkind = \"panicky\"\nhorizon = 5\n").unwrap();
    let mut registry = Registry::default();
    registry.register("panicky", |p| Ok(Box::new(Panicky(quorum::agents::Core::new(p), 0))));
    let mut cfg = small(&dir.path().join("run"));
    cfg.graph.agents_dir = agents;
    let e = quorum::engine::backtest_with(&cfg, &registry, &mut |_, _, _| {}).unwrap_err();
    assert!(matches!(&e, RunError::Graph(GraphError::Mailbox { actor, .. }) if actor.contains("panicky")), "{e:?}");
    assert!(!dir.path().join("run/summary.json").exists(), "no run folder for a failed run");
}

/// A cap at or below 1/n would leave every weight at 1/n: refused, naming the cap and n.
#[test]
fn test_composer_cap_at_or_below_one_over_n_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.composer.cap = 0.2;
    let e = backtest(&cfg, &mut |_, _, _| {}).unwrap_err().to_string();
    assert!(e.contains("composer.cap") && e.contains("0.2") && e.contains("analysts"), "{e}");
}

/// The composed book's P&L, split among the analysts by their signed contributions, plus
/// the unattributed residual, is the book's P&L to the cent (real data, composer ungated so
/// it trades); the split is in summary.json and attribution.json; the Shapley values of
/// the same run are efficient.
#[test]
fn test_attribution_parts_sum_to_the_total_on_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.composer.cost_aware = false;
    let out = backtest(&cfg, &mut |_, _, _| {}).unwrap();
    let att = out.summary.attribution.clone().unwrap();
    assert!(out.run.fills.len() > 10, "the book traded");
    let parts: f64 = att.agents.iter().map(|a| a.pnl).sum::<f64>() + att.unattributed;
    let total = out.run.equity.equity.last().unwrap() - out.run.initial_cash;
    assert!((parts - total).abs() < 0.005, "{parts} vs {total}");
    assert!((att.total_pnl - total).abs() < 1e-9);
    assert!(att.agents.iter().any(|a| a.pnl != 0.0));
    let costs: f64 = att.agents.iter().map(|a| a.costs).sum();
    assert!(costs > 0.0 && costs <= out.summary.strategies[0].metrics.total_costs + 1e-6);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("attribution.json")).unwrap()).unwrap();
    assert_eq!(json["agents"].as_array().unwrap().len(), att.agents.len());
    use polars::prelude::SerReader;
    let file = std::fs::File::open(dir.path().join("attribution.parquet")).unwrap();
    let df = polars::prelude::ParquetReader::new(file).finish().unwrap();
    assert_eq!(df.height(), att.agents.len());
    assert!(out.summary.learning.iter().all(|l| l.brier.is_some_and(|b| (0.0..=1.0).contains(&b))));
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["attribution", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success() && text.contains("who earned what") && text.contains("unattributed"), "{text}");
    // Replay-mode Shapley values are efficient: they sum to the value of all analysts
    // minus the value of none (which trades nothing).
    let sh = out.summary.shapley.clone().unwrap();
    assert_eq!(sh.agents.len(), out.summary.analysts.len());
    let sum: f64 = sh.agents.iter().map(|a| a.total_return).sum();
    assert!((sum - sh.total_return_all).abs() < 1e-12, "{sum} vs {}", sh.total_return_all);
    assert!(sh.agents.iter().any(|a| a.total_return != 0.0 && a.total_costs > 0.0));
    // The breakdowns: in every dimension the analysts' parts plus the unattributed residual,
    // and the book's own rows, each sum to the book's P&L.
    let file = std::fs::File::open(dir.path().join("breakdown.parquet")).unwrap();
    let df = polars::prelude::ParquetReader::new(file).finish().unwrap();
    let col = |n: &str| df.column(n).unwrap().as_materialized_series().clone();
    let (who, dim, pnl) = (col("who"), col("dimension"), col("pnl"));
    let (who, dim, pnl) = (who.str().unwrap(), dim.str().unwrap(), pnl.f64().unwrap());
    for d in ["symbol", "regime", "time_of_day", "day"] {
        let (mut analysts, mut book) = (att.unattributed, 0.0);
        for i in 0..df.height() {
            if dim.get(i) == Some(d) {
                let p = pnl.get(i).unwrap();
                if who.get(i) == Some("composed") { book += p } else { analysts += p }
            }
        }
        assert!((analysts - total).abs() < 0.005 && (book - total).abs() < 0.005, "{d}: {analysts} {book} {total}");
    }
    assert!(text.contains("does the memory's evidence help"), "{text}");
}

/// An analyst with nothing to say: every vote is 0.
mod silent {
    use quorum::agents::{Analyst, Core, Perception, Profile, ProfileError, Proposal};

    pub struct Silent(Core);

    impl Analyst for Silent {
        fn core(&self) -> &Core {
            &self.0
        }

        fn perceive(&mut self, _pc: &Perception<'_>) -> Proposal {
            Proposal::neutral("silent")
        }
    }

    pub fn build(profile: &Profile) -> Result<Box<dyn Analyst>, ProfileError> {
        Ok(Box::new(Silent(Core::new(profile))))
    }
}

/// The Shapley axioms on the real value function (replay mode, real bars): an analyst
/// whose votes are all 0 is a null player (every value and leave-one-out exactly 0: a vote
/// of 0 abstains), two identical analysts under different names get equal values, and the
/// values are efficient.
#[test]
fn test_shapley_null_player_and_symmetry_on_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    std::fs::copy(root().join("agents/hedge.toml"), agents.join("hedge.toml")).unwrap();
    let wyckoff = std::fs::read_to_string(root().join("agents/wyckoff.toml")).unwrap();
    std::fs::write(agents.join("wyckoff.toml"), &wyckoff).unwrap();
    // Same length of name, so the twins' memory texts score alike in BM25.
    std::fs::write(agents.join("wyckofb.toml"), wyckoff.replacen("name = \"wyckoff\"", "name = \"wyckofb\"", 1))
        .unwrap();
    std::fs::write(agents.join("silent.toml"), "name = \"silent\"\nkind = \"silent\"\nhorizon = 10\n").unwrap();
    let mut registry = Registry::default();
    registry.register("silent", silent::build);
    let mut cfg = small(&dir.path().join("run"));
    cfg.graph.agents_dir = agents;
    cfg.composer.cost_aware = false;
    let out = quorum::engine::backtest_with(&cfg, &registry, &mut |_, _, _| {}).unwrap();
    assert!(out.run.fills.len() > 5, "the book traded");
    let sh = out.summary.shapley.clone().unwrap();
    let get = |name: &str| sh.agents.iter().find(|a| a.agent == name).unwrap().clone();
    let s = get("silent");
    assert_eq!(
        [s.total_return, s.sharpe, s.total_costs, s.loo_total_return, s.loo_sharpe, s.loo_total_costs],
        [0.0; 6],
        "null player: {s:?}"
    );
    let (a, b) = (get("wyckoff"), get("wyckofb"));
    assert!(a.total_return != 0.0, "the twins matter: {a:?}");
    for (x, y) in [(a.total_return, b.total_return), (a.sharpe, b.sharpe), (a.total_costs, b.total_costs)] {
        assert!((x - y).abs() < 1e-12, "symmetry: {a:?} vs {b:?}");
    }
    let sum: f64 = sh.agents.iter().map(|a| a.total_return).sum();
    assert!((sum - sh.total_return_all).abs() < 1e-12);
}

/// Parity of the seams (issue 14): the analyst graph fed step by step by a replay of the
/// file, orders through the simulated broker behind the `Broker` trait, votes, fills and
/// equity exactly as the backtest's historical feed gives them.
#[test]
fn test_replay_feed_gives_the_backtest_votes_and_fills() {
    use quorum::broker::SimBroker;
    use quorum::engine::clock::{Clock, ManualClock};
    use quorum::engine::feed::ReplayFeed;
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(dir.path());
    let (bars, report) = quorum::market::load(&cfg.load_options().unwrap()).unwrap();
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from: None };
    let graph = || {
        let analysts = shipped_analysts();
        let store = Arc::new(MemoryStore::new(MemoryParams::default()).unwrap());
        let composer = ComposerConfig { cost_aware: false, ..Default::default() };
        GraphStrategy::new(analysts, composer, store, Vec::new(), 0.05, cfg.costs.clone(), &universe).unwrap()
    };
    let mut a = graph();
    let backtest = run(&bars, &universe, &mut a, &engine, &mut |_, _| {}).unwrap();
    let mut b = graph();
    let clock = ManualClock::at(0);
    let mut feed = ReplayFeed::new(bars.clone(), report.interval_ns, Some(60.0), &clock);
    let broker = SimBroker::new(cfg.costs.clone(), quorum::engine::instruments(&universe, &cfg.portfolio));
    let replay = quorum::engine::run_with(&mut feed, broker, &universe, &mut b, &engine, &mut |_, _| {}).unwrap();
    assert!(backtest.fills.len() > 5, "the book traded");
    assert_eq!(replay.fills, backtest.fills);
    assert_eq!(replay.equity, backtest.equity);
    assert_eq!(b.votes.votes, a.votes.votes);
    // Paced at 60x: the replay's clock ran one second per minute of bars.
    let minutes = (bars.ts.last().unwrap() - bars.ts[0]) / 60_000_000_000;
    assert_eq!(clock.now(), minutes * 1_000_000_000);
}

/// The backtest's replays follow the live graph's logs as they are handed over (issue 16);
/// the baselines and the Shapley coalitions they give are the runs of replays started
/// after the graph over its finished logs (`engine::run` of each replay), to the bit —
/// with the follower stepping from the first hand-over (no ablation) and after the
/// ablation's run, under the composed and the equal-weight composer.
#[test]
fn test_followed_replays_are_the_replays_of_the_finished_logs() {
    use quorum::composer::ComposerMode;
    use quorum::engine::graph::{Replay, ReplayLogs, VoteReplay};
    use quorum::engine::trading_weights;
    for (ablation, mode) in [(false, ComposerMode::Composed), (true, ComposerMode::Equal)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        cfg.data.symbols = vec!["SPY".into(), "IBM".into()];
        cfg.graph.ablation = ablation;
        cfg.composer.mode = mode;
        let out = backtest(&cfg, &mut |_, _, _| {}).unwrap();
        let (votes, weights) = (out.votes.clone().unwrap(), out.weights.clone().unwrap());
        assert!(votes.len() > 1024, "several hand-overs: {} steps", votes.len());
        let (bars, report) = quorum::market::load(&cfg.load_options().unwrap()).unwrap();
        let universe = Universe {
            symbols: bars.symbols.clone(),
            classes: report.asset_classes.clone(),
            interval: report.interval_ns,
        };
        let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from: None };
        let trading = Arc::new(trading_weights(&cfg, &weights));
        let logs = ReplayLogs { votes: &votes, evidence: &weights, trading: &trading };
        let agents = &out.summary.analysts;
        let n = agents.len();
        // The other weighting, then each analyst alone (the ablation sits second when it ran).
        let mut expected = vec![match mode {
            ComposerMode::Composed => ("equal-weight".to_string(), Replay::Fixed(vec![1.0 / n as f64; n])),
            ComposerMode::Equal => ("composed".to_string(), Replay::Logged),
        }];
        for (i, a) in agents.iter().enumerate() {
            let mut w = vec![0.0; n];
            w[i] = 1.0;
            expected.push((format!("votes:{a}"), Replay::Fixed(w)));
        }
        let followed: Vec<_> = out.baselines.iter().filter(|b| b.strategy != "no-recall").collect();
        assert_eq!(followed.len(), expected.len());
        assert_eq!(out.baselines.len(), expected.len() + usize::from(ablation));
        for ((name, w), got) in expected.into_iter().zip(followed) {
            let mut r = VoteReplay::new(&name, n, w, cfg.composer, cfg.costs.clone());
            let want = run(&bars, &universe, &mut r.over(logs), &engine, &mut |_, _| {}).unwrap();
            assert_eq!(got.strategy, name);
            assert_eq!(got.equity, want.equity, "{name} (ablation {ablation})");
            assert_eq!(got.fills, want.fills, "{name} (ablation {ablation})");
        }
        let a = out.summary.annualisation;
        let rf = cfg.metrics.risk_free_rate;
        let value = |r: &quorum::run::RunResult| {
            let m = quorum::report::compute(r, &a, rf);
            [m.total_return, m.sharpe, m.total_costs]
        };
        let by_mask: Vec<[f64; 3]> = (0..1u32 << n)
            .map(|m| {
                let mut r = VoteReplay::new("coalition", n, Replay::Coalition(m), cfg.composer, cfg.costs.clone());
                value(&run(&bars, &universe, &mut r.over(logs), &engine, &mut |_, _| {}).unwrap())
            })
            .collect();
        let after = quorum::report::shapley::report("replay", agents, &by_mask);
        let during = out.summary.shapley.as_ref().unwrap();
        assert_eq!(serde_json::to_string(&after).unwrap(), serde_json::to_string(during).unwrap());
    }
}
