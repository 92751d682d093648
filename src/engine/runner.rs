//! The backtest runner: config in, run folder out.
//!
//! Loads bars; runs the configured strategy — by default the analyst graph — and the
//! baselines on the same bars with the same costs; computes metrics (after the warm-up, if
//! any); writes the artifacts. For the graph the baselines are computed on exactly the
//! votes the graph produced (the analysts do not depend on the composer): the composed
//! weights, equal weights, each analyst alone, and buy-and-hold. The CLI is a thin shell
//! around [`backtest`].
//!
//! Where the time goes (issue 16, the hourly 5-symbol set on 2 cores): the live graph is
//! the longest thread; the memory ablation runs beside it and ends first. The replays
//! (baselines and the 2ⁿ Shapley coalitions, ~1.4 CPU-seconds there) used to start after
//! the graph, leaving a core idle for the graph's last ~0.9 s. They now follow the live
//! graph ([`Follower`]): the graph hands its logs over every [`FOLLOW_STEPS`] steps and
//! the follower steps every replay through them once the ablation has freed a core, so
//! that when it stops (the graph and the ablation done) most of the replays can be done
//! (38,912 of 40,842 steps in one run; none when the ablation outlasts the graph, both
//! cores being busy then); two workers finish the rest beside the attribution. A replay reads step k of the
//! logs only at step k, so its run does not depend on when the pieces came.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use crate::agents::Registry;
use crate::agents::news::Headline;
use crate::agents::news::{self, NewsError};
use crate::agents::{Profile, ProfileError, load_profiles};
use crate::broker::SimBroker;
use crate::composer::ComposerMode;
use crate::config::{Config, ConfigError, ShapleyMode, StrategyName};
use crate::engine::graph::{AnalystCalibration, GraphError, GraphStrategy, Replay, ReplayLogs, VoteReplay};
use crate::engine::{Engine, EngineConfig, EngineError, instruments, run};
use crate::error::panic_message;
use crate::market::session::{CRYPTO_DAYS_PER_YEAR, EQUITY_DAYS_PER_YEAR, NyClock, session_day};
use crate::market::time::format_ts;
use crate::market::{AssetClass, Bars, DataError, LoadReport, Ts, load};
use crate::memory::{MemoryError, MemoryStore};
use crate::report::shapley::ShapleyReport;
use crate::report::{Annualisation, RunArtifacts, RunSummary, StrategyReport, compute, write_run};
use crate::report::{GraphArtifacts, ReportError};
use crate::run::{FolderError, RunResult, Staging, VoteLog, WeightLog, check_memory_dir};
use crate::strategy::{BuyAndHold, PortfolioView, SmaCross, Step, Strategy, Targets, Universe};

/// Errors of a backtest run, by area.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad or missing data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Artifacts could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The run folder could not be staged or swapped in, or a checkpoint's run is unfinished.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// An analyst profile is bad.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The news file is bad.
    #[error(transparent)]
    News(#[from] NewsError),
    /// The memory failed or its checkpoint is bad.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The analyst graph failed to start or during the run.
    #[error("analyst graph: {0}")]
    Graph(#[from] GraphError),
    /// `--memory-from` holds memories published at or after the run's first bar: trading
    /// with them would see the future.
    #[error(
        "{dir}: the memory was published up to {memory_until}, at or after the first bar {first_bar}; a checkpoint can only warm a strictly later period"
    )]
    MemoryAfterData {
        /// The checkpoint folder (`graph.memory_from`).
        dir: PathBuf,
        /// The checkpoint's last publish time, RFC 3339.
        memory_until: String,
        /// The run's first bar start, RFC 3339.
        first_bar: String,
    },
    /// The warm-up ends after the last bar: nothing would be reported.
    #[error("graph.warmup_until {warmup} is after the last bar {last_bar}: nothing would be reported")]
    WarmupAfterData {
        /// `graph.warmup_until`, RFC 3339.
        warmup: String,
        /// The last bar's start, RFC 3339.
        last_bar: String,
    },
    /// A full-mode Shapley coalition failed (the live run had succeeded).
    #[error("full-mode Shapley, the coalition of {members}: {source}")]
    Coalition {
        /// The coalition's analysts, e.g. `hedge+markov`.
        members: String,
        /// What failed.
        source: Box<RunError>,
    },
    /// A run thread panicked (a bug); the message names the run.
    #[error("the {what} run stopped with a panic: {message}")]
    Panicked {
        /// Which run, e.g. `buy-and-hold`, `equal-weight` or `votes:<analyst>`.
        what: String,
        /// The panic message.
        message: String,
    },
}

/// What a backtest returns to its caller.
#[derive(Debug)]
pub struct BacktestOutput {
    /// The content of the run's `summary.json`.
    pub summary: RunSummary,
    /// The strategy under test.
    pub run: RunResult,
    /// Graph baselines (composed/equal-weight, each analyst alone), empty otherwise.
    pub baselines: Vec<RunResult>,
    /// Equal-weight buy-and-hold of the same symbols, with the same costs.
    pub benchmark: RunResult,
    /// The run folder the artifacts were written to (`output.dir`).
    pub out_dir: PathBuf,
    /// The graph's votes and weights (graph runs only).
    pub votes: Option<Arc<VoteLog>>,
    /// The composer's memory-based weights per step (graph runs only).
    pub weights: Option<Arc<WeightLog>>,
}

/// The annualisation for loaded bars: periods per year = steps / years, with years the
/// calendar span the data covers, so sparse bars count as the time they span:
///
/// - crypto (24/7): years = (last bar start + interval − first bar start) / 365 days;
/// - equities: years = sessions / 252, sessions = the session dates with bars, plus the
///   weekdays of every gap of 3 or more weekdays without bars (a missing month is time that
///   passed; a lone missing weekday is a holiday and is not counted).
///
/// Bars exist only for minutes with trades, so a sparse 1-minute file (~241 bars a session)
/// must not be annualised as if it had the calendar's 390: that counted a year of such data
/// as 0.57 years. On complete data this is the calendar's figure (98,280 at 1m equities,
/// 525,600 at 1m crypto).
pub(crate) fn annualisation(bars: &Bars, report: &LoadReport, override_ppy: Option<f64>) -> Annualisation {
    if let Some(n) = override_ppy {
        return Annualisation::fixed(n);
    }
    let crypto = report.asset_classes.contains(&AssetClass::Crypto);
    let days = if crypto { CRYPTO_DAYS_PER_YEAR } else { EQUITY_DAYS_PER_YEAR };
    let mut clock = NyClock::new();
    let mut dates = BTreeSet::new();
    let mut steps = 0usize;
    for r in bars.steps() {
        steps += 1;
        dates.insert(session_day(&mut clock, AssetClass::Equity, bars.ts[r.start]));
    }
    let sessions = if crypto {
        let (first, last) = (bars.ts.first().copied().unwrap_or(0), bars.ts.last().copied().unwrap_or(0));
        (last + report.interval_ns.max(0) - first) as f64 / crate::market::time::NS_PER_DAY as f64
    } else {
        let dates: Vec<i64> = dates.into_iter().collect();
        let weekday = |d: i64| (d + 3).rem_euclid(7) < 5; // 1970-01-01 was a Thursday
        let gaps: usize = dates
            .windows(2)
            .map(|w| (w[0] + 1..w[1]).filter(|&d| weekday(d)).count())
            .filter(|&missing| missing >= 3)
            .sum();
        (dates.len() + gaps) as f64
    };
    Annualisation::new(days, steps as f64 / sessions.max(1e-9))
}

/// The non-graph strategy a config names.
pub(super) fn make_strategy(cfg: &Config) -> Box<dyn Strategy<Error = Infallible> + Send> {
    match cfg.strategy.name {
        StrategyName::SmaCross => Box::new(SmaCross::new(cfg.strategy.sma_cross)),
        StrategyName::BuyAndHold | StrategyName::Graph => Box::new(BuyAndHold::new()),
    }
}

/// The part of a run from `t` on (for metrics after a warm-up); the equity at the first
/// step at or after `t` becomes the starting capital.
pub(crate) fn since(r: &RunResult, t: Ts) -> RunResult {
    let i = r.equity.ts.partition_point(|&x| x < t);
    let e = &r.equity;
    let mut out = r.clone();
    out.initial_cash = e.equity.get(i).copied().unwrap_or(r.initial_cash);
    out.equity.ts = e.ts[i..].to_vec();
    out.equity.equity = e.equity[i..].to_vec();
    out.equity.cash = e.cash[i..].to_vec();
    out.equity.gross = e.gross[i..].to_vec();
    out.equity.net = e.net[i..].to_vec();
    out.fills.retain(|f| f.ts >= t);
    out.trades.retain(|tr| tr.entry_ts >= t);
    out
}

/// The run of a thread that cannot fail, or [`RunError::Panicked`] naming it.
fn joined(
    what: String,
    h: std::thread::ScopedJoinHandle<'_, Result<RunResult, Infallible>>,
) -> Result<RunResult, RunError> {
    match h.join() {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(never)) => match never {},
        Err(p) => Err(RunError::Panicked { what, message: panic_message(p) }),
    }
}

pub(crate) struct GraphRun {
    pub(crate) live: RunResult,
    pub(crate) baselines: Vec<RunResult>,
    votes: Arc<VoteLog>,
    weights: Arc<WeightLog>,
    agents: Vec<String>,
    store: Arc<MemoryStore>,
    calibration: Vec<AnalystCalibration>,
    attribution: crate::report::attribution::PnlAttribution,
    breakdown: Vec<crate::report::breakdown::BreakdownRow>,
    shapley: Option<ShapleyReport>,
    shapley_full: Option<ShapleyReport>,
}

/// What a backtest reports while it runs: `(phase, done, total)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The bar loop of the strategy under test: bars done of all.
    Bars,
    /// Full-mode Shapley: coalitions whose whole graph has run, of all.
    Coalitions,
}

/// Exact Shapley values in every graph run up to this many analysts (2^8 = 256 replays).
const SHAPLEY_MAX_ANALYSTS: usize = 8;

/// A coalition's worth: total return, Sharpe, total costs (over the measured steps).
pub type Worth<'a> = dyn Fn(&RunResult) -> [f64; 3] + Sync + 'a;

/// The memory a graph starts from: empty, or `graph.memory_from` (published strictly
/// before the first bar).
fn open_store(cfg: &Config, bars: &Bars) -> Result<Arc<MemoryStore>, RunError> {
    let Some(dir) = &cfg.graph.memory_from else {
        return Ok(Arc::new(MemoryStore::new(cfg.memory.clone())?));
    };
    check_memory_dir(dir)?;
    let s = MemoryStore::load(dir)?;
    let (now, first) = (s.snapshot().now(), bars.ts.first().copied().unwrap_or(i64::MAX));
    // Strictly before: a checkpoint published at the first bar could hold what was
    // written while that bar was processed.
    if now >= first {
        return Err(RunError::MemoryAfterData {
            dir: dir.clone(),
            memory_until: format_ts(now),
            first_bar: format_ts(first),
        });
    }
    Ok(Arc::new(s))
}

/// A graph of the analysts of `profiles` over its own memory, ready to run.
pub(crate) fn build_graph(
    cfg: &Config,
    registry: &Registry,
    profiles: &[Profile],
    headlines: &[Headline],
    bars: &Bars,
    universe: &Universe,
) -> Result<GraphStrategy, RunError> {
    let analysts = profiles.iter().map(|p| registry.build(p)).collect::<Result<Vec<_>, _>>()?;
    let store = open_store(cfg, bars)?;
    Ok(GraphStrategy::placed(
        analysts,
        cfg.composer,
        store,
        headlines.to_vec(),
        cfg.graph.min_vote,
        cfg.costs.clone(),
        universe,
        cfg.graph.actors,
    )?)
}

/// A cap at or below 1/n leaves every weight at exactly 1/n: the composer could never
/// weigh by evidence. Refused, naming the cap and the roster size.
fn check_cap(cfg: &Config, analysts: usize) -> Result<(), RunError> {
    let n = analysts.max(1) as f64;
    if cfg.composer.mode == ComposerMode::Composed && n > 1.0 && cfg.composer.cap <= 1.0 / n + 1e-12 {
        return Err(RunError::Config(
            crate::error::InvalidValue::new(
                "composer.cap",
                cfg.composer.cap,
                format!(
                    "must be above 1/{n} = {:.4} with {n} analysts (at or below it every weight is 1/{n})",
                    1.0 / n
                ),
            )
            .into(),
        ));
    }
    Ok(())
}

/// Runs `jobs` on two workers (the machine's cores), each taking the next job not yet
/// taken (jobs of unequal cost, such as replays of 1 to 5 analysts, then end together),
/// and returns the results in job order; `done` is called after each job on the worker.
/// The first failure stops both workers (no new job starts) and is returned.
fn on_two_workers<T: Send>(
    what: &str,
    jobs: usize,
    job: &(dyn Fn(usize) -> Result<T, RunError> + Sync),
    done: &(dyn Fn() + Sync),
) -> Result<Vec<T>, RunError> {
    let failed = std::sync::atomic::AtomicBool::new(false);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2usize)
            .map(|_| {
                let (failed, next) = (&failed, &next);
                s.spawn(move || -> Result<Vec<(usize, T)>, RunError> {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= jobs || failed.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let r = job(k);
                        done();
                        match r {
                            Ok(r) => out.push((k, r)),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|p| RunError::Panicked { what: what.into(), message: panic_message(p) })?)
            .collect::<Result<Vec<_>, RunError>>()
    })?;
    let mut all: Vec<(usize, T)> = results.into_iter().flatten().collect();
    all.sort_by_key(|(k, _)| *k);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// The analysts' profiles and the headlines of a graph run, checked against the config.
pub(crate) fn graph_inputs(cfg: &Config, registry: &Registry) -> Result<(Vec<Profile>, Vec<Headline>), RunError> {
    let profiles = load_profiles(&cfg.graph.agents_dir, cfg.graph.only.as_deref(), registry)?;
    check_cap(cfg, profiles.len())?;
    // Full mode re-runs the whole graph 2^n − 1 times: refused before anything runs.
    if cfg.graph.shapley == ShapleyMode::Full && profiles.len() > SHAPLEY_MAX_ANALYSTS {
        return Err(RunError::Config(
            crate::error::InvalidValue::new(
                "graph.shapley",
                "full",
                format!(
                    "needs 2^n − 1 whole-graph runs; {} analysts is above the limit of {SHAPLEY_MAX_ANALYSTS}",
                    profiles.len()
                ),
            )
            .into(),
        ));
    }
    let headlines = match &cfg.graph.news {
        Some(p) => news::load(p)?,
        None => Vec::new(),
    };
    Ok((profiles, headlines))
}

/// The memory ablation `no-recall`: the same analysts without recall, with their own
/// memory (written as usual, so the composer's win rates exist).
pub(crate) fn ablation_run(
    cfg: &Config,
    registry: &Registry,
    profiles: &[Profile],
    headlines: &[Headline],
    bars: &Bars,
    universe: &Universe,
    engine: &EngineConfig,
) -> Result<RunResult, RunError> {
    let _span = tracing::info_span!("no-recall").entered();
    let mut g =
        build_graph(cfg, registry, profiles, headlines, bars, universe)?.without_recall("no-recall").without_logs();
    Ok(run(bars, universe, &mut g, engine, &mut |_, _| {})?)
}

fn run_graph(
    cfg: &Config,
    registry: &Registry,
    bars: &Bars,
    universe: &Universe,
    engine: &EngineConfig,
    value: &Worth<'_>,
    progress: &mut dyn FnMut(Phase, usize, usize),
) -> Result<GraphRun, RunError> {
    let (profiles, headlines) = graph_inputs(cfg, registry)?;
    let mut graph = build_graph(cfg, registry, &profiles, &headlines, bars, universe)?;
    let replays = replays(cfg, &graph.agent_names);
    let ranges = step_ranges(bars);
    let started = std::time::Instant::now();
    // Beside the live graph: the memory ablation, and the replays following the live
    // graph's logs (`Follower`), which the live graph hands over every `FOLLOW_STEPS` steps;
    // `free`: a core is free for the follower; `stop`: the follower is to stop stepping.
    use std::sync::atomic::{AtomicBool, Ordering};
    let (tx, rx) = std::sync::mpsc::channel::<Piece>();
    let (back, spares) = std::sync::mpsc::channel::<Piece>();
    let (free, stop) = (AtomicBool::new(!cfg.graph.ablation), AtomicBool::new(false));
    let (live, ablation, followed) = std::thread::scope(|s| {
        let ablation = cfg.graph.ablation.then(|| {
            s.spawn(|| {
                // Frees the follower however the ablation ends, a panic included.
                struct Freed<'a>(&'a AtomicBool);
                impl Drop for Freed<'_> {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::Release);
                    }
                }
                let _freed = Freed(&free);
                ablation_run(cfg, registry, &profiles, &headlines, bars, universe, engine)
            })
        });
        let (free, stop, ranges) = (&free, &stop, &ranges);
        let follower = s.spawn(move || {
            let _span = tracing::info_span!("follow", replays = replays.len()).entered();
            let mut f = Follower::new(cfg, bars, universe, engine, ranges, replays);
            f.follow(&rx, &back, free, stop);
            f
        });
        let live = {
            let _span = tracing::info_span!("graph").entered();
            let mut tee = Tee { graph: &mut graph, tx: &tx, spares: &spares };
            run(bars, universe, &mut tee, engine, &mut |d, t| progress(Phase::Bars, d, t))
        };
        // The last steps go over, and the live graph's core is free: the follower steps on
        // while the ablation (if it is still running) ends, then stops at its next look
        // and leaves the rest to the two workers of `graph_results`. A failed live graph
        // stops it at once: its replays are of no use.
        let _ = tx.send(graph.take_logs(Piece::default()));
        if live.is_err() {
            stop.store(true, Ordering::Release);
        }
        free.store(true, Ordering::Release);
        drop(tx);
        let panicked =
            |what: &'static str| move |p| RunError::Panicked { what: what.into(), message: panic_message(p) };
        let ablation = ablation.map(|h| h.join().map_err(panicked("no-recall")));
        stop.store(true, Ordering::Release);
        (live, ablation, follower.join().map_err(panicked("vote replays")))
    });
    drop(spares);
    let live = live?;
    let ablation = ablation.transpose()?.transpose()?;
    let followed = followed?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        bars = bars.len(),
        seconds = secs,
        bars_per_second = (bars.len() as f64 / secs.max(1e-9)).round(),
        fills = live.fills.len(),
        followed_steps = followed.next,
        "graph run done"
    );
    graph_results(
        cfg,
        registry,
        &profiles,
        &headlines,
        bars,
        universe,
        engine,
        value,
        progress,
        live,
        graph,
        ablation,
        Some(followed),
    )
}

/// Steps between two hand-overs of the live graph's logs to its [`Follower`], and the most
/// steps the follower's replays go on by before it takes the hand-overs waiting.
const FOLLOW_STEPS: usize = 256;

/// A piece of a run's vote and weight logs.
type Piece = (VoteLog, WeightLog);

/// The live graph, handing its vote and weight logs to the follower every
/// [`FOLLOW_STEPS`] steps (the graph keeps none of them: the follower's logs are the run's).
/// The follower moves each piece's entries into its logs and gives the emptied piece back
/// (`spares`), for the graph to write the next steps into: the hand-overs allocate nothing
/// once the pieces have their size.
struct Tee<'a> {
    graph: &'a mut GraphStrategy,
    tx: &'a std::sync::mpsc::Sender<Piece>,
    spares: &'a std::sync::mpsc::Receiver<Piece>,
}

impl Strategy for Tee<'_> {
    type Error = GraphError;

    fn name(&self) -> String {
        self.graph.name()
    }

    fn on_start(&mut self, universe: &Universe) -> Result<(), GraphError> {
        self.graph.on_start(universe)
    }

    fn expect_bars(&mut self, bars: usize) {
        self.graph.expect_bars(bars)
    }

    fn on_step(&mut self, step: &Step<'_>, view: &PortfolioView<'_>, targets: &mut Targets) -> Result<(), GraphError> {
        self.graph.on_step(step, view, targets)?;
        if (step.index + 1).is_multiple_of(FOLLOW_STEPS) {
            // A closed channel means the follower panicked; its join says so.
            let spare = self.spares.try_recv().unwrap_or_default();
            let _ = self.tx.send(self.graph.take_logs(spare));
        }
        Ok(())
    }
}

/// The replays of a graph run, in the order of its results: the other weighting (equal
/// weights beside a composed run, the composed weights beside an equal-weight one), each
/// analyst alone, then, when Shapley values are on, the 2ⁿ coalitions by mask.
struct Replays {
    replays: Vec<VoteReplay>,
    /// How many of them are baselines (the rest are coalitions).
    baselines: usize,
    /// Number of analysts.
    agents: usize,
}

impl Replays {
    fn len(&self) -> usize {
        self.replays.len()
    }
}

fn replays(cfg: &Config, agents: &[String]) -> Replays {
    let n = agents.len();
    let replay = |name: &str, w: Replay| VoteReplay::new(name, n, w, cfg.composer, cfg.costs.clone());
    let mut replays = vec![match cfg.composer.mode {
        ComposerMode::Composed => replay("equal-weight", Replay::Fixed(vec![1.0 / n as f64; n])),
        ComposerMode::Equal => replay("composed", Replay::Logged),
    }];
    for (i, a) in agents.iter().enumerate() {
        let mut w = vec![0.0; n];
        w[i] = 1.0;
        replays.push(replay(&format!("votes:{a}"), Replay::Fixed(w)));
    }
    let baselines = replays.len();
    if cfg.graph.shapley != ShapleyMode::Off && n > SHAPLEY_MAX_ANALYSTS {
        tracing::warn!(
            analysts = n,
            "Shapley values skipped: exact values need 2^{n} coalitions; at most {SHAPLEY_MAX_ANALYSTS} analysts"
        );
    }
    if cfg.graph.shapley != ShapleyMode::Off && n <= SHAPLEY_MAX_ANALYSTS {
        replays.extend((0..1u32 << n).map(|m| replay("coalition", Replay::Coalition(m))));
    }
    Replays { replays, baselines, agents: n }
}

/// The row ranges of every step of `bars`, as the historical feed hands them out.
fn step_ranges(bars: &Bars) -> Vec<std::ops::Range<usize>> {
    use crate::engine::feed::Feed;
    let mut feed = crate::engine::feed::HistoricalFeed::new(bars);
    let mut out = Vec::new();
    while let Ok(Some(r)) = feed.next_step() {
        out.push(r);
    }
    out
}

/// A vote replay under way: the engine of [`run`], stepped as far as the logs go.
struct Lane {
    replay: VoteReplay,
    engine: Engine<SimBroker>,
    /// Steps done.
    next: usize,
}

impl Lane {
    fn new(bars: &Bars, universe: &Universe, cfg: &EngineConfig, mut replay: VoteReplay) -> Lane {
        let broker = SimBroker::new(cfg.costs.clone(), instruments(universe, &cfg.portfolio));
        let engine = Engine::new(bars, universe, cfg, broker);
        let (votes, evidence) = (VoteLog::default(), WeightLog::default());
        let Ok(()) = replay.over(ReplayLogs { votes: &votes, evidence: &evidence, trading: &[] }).on_start(universe);
        Lane { replay, engine, next: 0 }
    }

    /// Steps `next..to` (`ranges`: every step's rows of `bars`), reading `logs`.
    fn advance(&mut self, bars: &Bars, ranges: &[std::ops::Range<usize>], logs: ReplayLogs<'_>, to: usize) {
        let mut strategy = self.replay.over(logs);
        for (k, r) in ranges.iter().enumerate().take(to).skip(self.next) {
            match self.engine.step::<_, Infallible>(bars, r.clone(), k, &mut strategy) {
                Ok(()) => {}
                Err(EngineError::Strategy(never) | EngineError::Broker(never) | EngineError::Feed(never)) => {
                    match never {}
                }
            }
        }
        self.next = self.next.max(to.min(ranges.len()));
    }

    fn finish(self) -> RunResult {
        let name = self.replay.name().to_string();
        self.engine.finish(name)
    }
}

/// The replays of a live graph run, following its logs on a thread of their own: it takes
/// the pieces of the logs the live graph hands over and steps every replay through them, so
/// that most of the replay work is done when the live graph ends. Each replay reads step k
/// only at step k, so following gives the runs a replay of the finished logs gives, bit
/// for bit.
///
/// The follower takes every hand-over as soon as it comes (a backlog of pieces would hold
/// those votes twice, in the pieces and in the run's log, whose capacity the first piece
/// brings), but steps its replays only once `free` says a core is free (the ablation or the
/// live graph is done): so two threads, not three, share the two cores while the live graph,
/// whose speed sets the run's, is running.
///
/// Memory: every replay lives through the run, 2ⁿ + n + 1 engines whose equity curves
/// hold 5 × 8 bytes a step (~62 MiB for the hourly set's 40,842 steps and 5 analysts;
/// replayed after the run, two coalitions at a time held ~3 MiB). It grows with 2ⁿ ×
/// steps: a long minute history with 8 analysts would hold 265 curves.
pub(crate) struct Follower<'a> {
    cfg: &'a Config,
    bars: &'a Bars,
    ranges: &'a [std::ops::Range<usize>],
    votes: VoteLog,
    weights: WeightLog,
    trading: Vec<Vec<f64>>,
    lanes: Vec<Lane>,
    baselines: usize,
    /// Steps every lane has done.
    next: usize,
}

impl<'a> Follower<'a> {
    fn new(
        cfg: &'a Config,
        bars: &'a Bars,
        universe: &Universe,
        engine: &EngineConfig,
        ranges: &'a [std::ops::Range<usize>],
        replays: Replays,
    ) -> Self {
        let n = replays.agents;
        Follower {
            cfg,
            bars,
            ranges,
            votes: VoteLog::default(),
            weights: WeightLog::new(n),
            trading: Vec::with_capacity(ranges.len()),
            lanes: replays.replays.into_iter().map(|r| Lane::new(bars, universe, engine, r)).collect(),
            baselines: replays.baselines,
            next: 0,
        }
    }

    /// Takes the pieces of `rx` until it closes, each piece's buffers given back to `back`,
    /// and steps the replays (at most [`FOLLOW_STEPS`] between two looks at `rx`) while
    /// `free` and not `stop`.
    fn follow(
        &mut self,
        rx: &std::sync::mpsc::Receiver<Piece>,
        back: &std::sync::mpsc::Sender<Piece>,
        free: &std::sync::atomic::AtomicBool,
        stop: &std::sync::atomic::AtomicBool,
    ) {
        use std::sync::atomic::Ordering;
        loop {
            let stepping = free.load(Ordering::Acquire) && !stop.load(Ordering::Acquire);
            // Nothing to step: wait for the next piece (or the end).
            if !stepping || self.next >= self.weights.ts.len() {
                match rx.recv() {
                    Ok(piece) => self.append(piece, back),
                    Err(_) => return,
                }
            }
            while let Ok(piece) = rx.try_recv() {
                self.append(piece, back);
            }
            if stepping {
                self.advance((self.next + FOLLOW_STEPS).min(self.weights.ts.len()));
            }
        }
    }

    /// Appends the next steps of the logs from `piece`, then gives its buffers back.
    fn append(&mut self, mut piece: Piece, back: &std::sync::mpsc::Sender<Piece>) {
        let from = self.weights.ts.len();
        self.votes.append(&mut piece.0);
        self.weights.append(&mut piece.1);
        for k in from..self.weights.ts.len() {
            self.trading.push(self.cfg.composer.trading_weights(self.weights.step(k)));
        }
        // The graph may be done: then nobody takes it back.
        let _ = back.send(piece);
    }

    /// Steps every replay to step `to` of the logs taken so far.
    fn advance(&mut self, to: usize) {
        let logs = ReplayLogs { votes: &self.votes, evidence: &self.weights, trading: &self.trading };
        for lane in &mut self.lanes {
            lane.advance(self.bars, self.ranges, logs, to);
        }
        self.next = self.next.max(to);
    }
}

/// What the replays give: the baselines' runs, and with Shapley values every coalition's
/// worth by mask.
struct Replayed {
    baselines: Vec<RunResult>,
    by_mask: Option<Vec<[f64; 3]>>,
}

/// Runs every replay of `lanes` to the end of `logs` on two workers (`lanes[k]` makes the
/// k-th: a lane part-run by a follower, or a new one), the first `baselines` kept whole,
/// the rest (coalitions) as their worth.
#[allow(clippy::too_many_arguments)]
fn finish_lanes(
    lanes: usize,
    make: &(dyn Fn(usize) -> Lane + Sync),
    baselines: usize,
    bars: &Bars,
    ranges: &[std::ops::Range<usize>],
    logs: ReplayLogs<'_>,
    value: &Worth<'_>,
) -> Result<Replayed, RunError> {
    enum Out {
        Run(RunResult),
        Worth([f64; 3]),
    }
    debug_assert_eq!(logs.evidence.ts.len(), ranges.len(), "the logs cover every step");
    let job = |k: usize| -> Result<Out, RunError> {
        let mut lane = make(k);
        lane.advance(bars, ranges, logs, ranges.len());
        let r = lane.finish();
        Ok(if k < baselines { Out::Run(r) } else { Out::Worth(value(&r)) })
    };
    let mut out = Replayed { baselines: Vec::new(), by_mask: None };
    for o in on_two_workers("vote replays", lanes, &job, &|| {})? {
        match o {
            Out::Run(r) => out.baselines.push(r),
            Out::Worth(w) => out.by_mask.get_or_insert_with(Vec::new).push(w),
        }
    }
    Ok(out)
}

/// Everything a run folder shows of a graph run, from its live run, the graph that made it,
/// the ablation run and the replays' follower if one ran (else the replays run here over
/// the graph's logs): the baselines on the graph's votes, attribution, breakdown, Shapley
/// values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn graph_results(
    cfg: &Config,
    registry: &Registry,
    profiles: &[Profile],
    headlines: &[Headline],
    bars: &Bars,
    universe: &Universe,
    engine: &EngineConfig,
    value: &Worth<'_>,
    progress: &mut dyn FnMut(Phase, usize, usize),
    live: RunResult,
    mut graph: GraphStrategy,
    ablation: Option<RunResult>,
    followed: Option<Follower<'_>>,
) -> Result<GraphRun, RunError> {
    let store = graph.store.clone();
    let agents = graph.agent_names.clone();
    let calibration = graph.calibration.report(&agents);
    let regimes = std::mem::take(&mut graph.regimes);
    let judged = std::mem::take(&mut graph.judged);
    let n = agents.len();
    // The replays: those a follower has part-run (over its step ranges), or new ones over
    // the graph's own logs.
    enum Lanes {
        Followed(Vec<std::sync::Mutex<Option<Lane>>>),
        New(Vec<std::sync::Mutex<Option<VoteReplay>>>),
    }
    let (votes, weights, trading, lanes, replay_baselines, ranges) = match followed {
        Some(f) => {
            let Follower { votes, weights, trading, lanes, baselines, ranges, .. } = f;
            let lanes = Lanes::Followed(lanes.into_iter().map(|l| Some(l).into()).collect());
            (votes, weights, trading, lanes, baselines, std::borrow::Cow::Borrowed(ranges))
        }
        None => {
            let (votes, weights) = graph.take_logs(Piece::default());
            let trading = trading_weights(cfg, &weights);
            let Replays { replays, baselines, .. } = replays(cfg, &agents);
            let lanes = Lanes::New(replays.into_iter().map(|r| Some(r).into()).collect());
            (votes, weights, trading, lanes, baselines, std::borrow::Cow::Owned(step_ranges(bars)))
        }
    };
    drop(graph);
    fn take<T>(m: &std::sync::Mutex<Option<T>>) -> T {
        m.lock().ok().and_then(|mut x| x.take()).expect("each replay runs once")
    }
    let make = |k: usize| match &lanes {
        Lanes::Followed(l) => take(&l[k]),
        Lanes::New(r) => Lane::new(bars, universe, engine, take(&r[k])),
    };
    let count = match &lanes {
        Lanes::Followed(l) => l.len(),
        Lanes::New(r) => r.len(),
    };
    let logs = ReplayLogs { votes: &votes, evidence: &weights, trading: &trading };
    // The attribution and the breakdown, on a thread beside the replays' two workers.
    let span = tracing::Span::current();
    let (replayed, side) = std::thread::scope(|s| {
        let side = s.spawn(|| {
            let _in = span.enter();
            let _span = tracing::info_span!("attribution").entered();
            let mut attribution = crate::report::attribution::attribute(bars, &live, &votes, &trading, &agents);
            let horizons: Vec<Vec<usize>> = calibration
                .iter()
                .map(|c| {
                    let mut h = crate::report::attribution::HORIZONS.to_vec();
                    h.push(c.horizon);
                    h.sort_unstable();
                    h.dedup();
                    h
                })
                .collect();
            let by_horizon =
                crate::report::attribution::hit_rates_by_horizon(bars, &votes, n, cfg.graph.min_vote, &horizons);
            for (a, h) in attribution.agents.iter_mut().zip(by_horizon) {
                a.hit_rate_by_horizon = h;
            }
            let breakdown = crate::report::breakdown::breakdown(
                bars,
                &universe.classes,
                &live,
                &votes,
                &trading,
                &agents,
                &regimes,
                &judged,
            );
            (attribution, breakdown)
        });
        let replayed = {
            let _span = tracing::info_span!("replays", replays = count).entered();
            finish_lanes(count, &make, replay_baselines, bars, &ranges, logs, value)
        };
        let side =
            side.join().map_err(|p| RunError::Panicked { what: "attribution".into(), message: panic_message(p) });
        (replayed, side)
    });
    let Replayed { mut baselines, by_mask } = replayed?;
    let (attribution, breakdown) = side?;
    drop(trading);
    let (votes, weights) = (Arc::new(votes), Arc::new(weights));
    if let Some(a) = ablation {
        baselines.insert(1.min(baselines.len()), a);
    }
    let shapley = by_mask.as_ref().map(|m| crate::report::shapley::report("replay", &agents, m));
    let mut shapley_full = None;
    if let Some(by_mask) = &by_mask
        && cfg.graph.shapley == ShapleyMode::Full
    {
        let _span = tracing::info_span!("shapley full").entered();
        shapley_full = Some(shapley_full_graph(
            cfg, registry, profiles, headlines, bars, universe, engine, value, by_mask[0], progress,
        )?);
    }
    Ok(GraphRun {
        live,
        baselines,
        votes,
        weights,
        agents,
        store,
        calibration,
        attribution,
        breakdown,
        shapley,
        shapley_full,
    })
}

/// The weights the live composer traded with, step by step (its own rule over the logged
/// evidence weights).
pub fn trading_weights(cfg: &Config, weights: &WeightLog) -> Vec<Vec<f64>> {
    (0..weights.ts.len()).map(|k| cfg.composer.trading_weights(weights.step(k))).collect()
}

/// Replay-mode Shapley values (`report::shapley`): each of the 2ⁿ coalitions re-runs the
/// composer and the portfolio over the logged `votes`, the weights of analysts outside it
/// at 0 (`trading`: [`trading_weights`] of `weights`), on two workers. Returns the report
/// and every coalition's worth by mask.
#[allow(clippy::too_many_arguments)]
pub fn shapley_replay(
    cfg: &Config,
    bars: &Bars,
    universe: &Universe,
    engine: &EngineConfig,
    votes: &Arc<VoteLog>,
    weights: &Arc<WeightLog>,
    trading: &Arc<Vec<Vec<f64>>>,
    agents: &[String],
    value: &Worth<'_>,
) -> Result<(ShapleyReport, Vec<[f64; 3]>), RunError> {
    let n = agents.len();
    let make = |m: usize| {
        let r = VoteReplay::new("coalition", n, Replay::Coalition(m as u32), cfg.composer, cfg.costs.clone());
        Lane::new(bars, universe, engine, r)
    };
    let ranges = step_ranges(bars);
    let logs = ReplayLogs { votes, evidence: weights, trading };
    let by_mask = finish_lanes(1 << n, &make, 0, bars, &ranges, logs, value)?.by_mask.unwrap_or_default();
    Ok((crate::report::shapley::report("replay", agents, &by_mask), by_mask))
}

/// Full-mode Shapley: every non-empty coalition re-runs the whole graph with only its
/// analysts and its own memory (the analysts share one memory, so a coalition's recalls
/// depend on its members' writes). v(∅) is the empty book, `empty` (no votes, no trades).
#[allow(clippy::too_many_arguments)]
fn shapley_full_graph(
    cfg: &Config,
    registry: &Registry,
    profiles: &[Profile],
    headlines: &[Headline],
    bars: &Bars,
    universe: &Universe,
    engine: &EngineConfig,
    value: &Worth<'_>,
    empty: [f64; 3],
    progress: &mut dyn FnMut(Phase, usize, usize),
) -> Result<ShapleyReport, RunError> {
    let n = profiles.len();
    let total = (1usize << n) - 1;
    let job = |k: usize| -> Result<[f64; 3], RunError> {
        let mask = k + 1;
        let members: Vec<Profile> =
            profiles.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, p)| p.clone()).collect();
        let names = || members.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join("+");
        let wrap = |e: RunError| RunError::Coalition { members: names(), source: Box::new(e) };
        let mut g = build_graph(cfg, registry, &members, headlines, bars, universe).map_err(wrap)?.without_logs();
        let r = run(bars, universe, &mut g, engine, &mut |_, _| {}).map_err(|e| wrap(e.into()))?;
        Ok(value(&r))
    };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    progress(Phase::Coalitions, 0, total);
    let values = std::thread::scope(|s| {
        // The workers' thread owns the sender: when it ends (done, failed or panicked) the
        // channel closes and the progress loop below ends with it.
        let worker = s.spawn(move || {
            let tx = std::sync::Mutex::new(tx);
            let done = || {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send(());
                }
            };
            on_two_workers("full-mode Shapley coalitions", total, &job, &done)
        });
        // Progress on this thread: one tick per finished coalition.
        let mut k = 0;
        while rx.recv().is_ok() {
            k += 1;
            progress(Phase::Coalitions, k, total);
        }
        worker.join().map_err(|p| RunError::Panicked { what: "full-mode Shapley".into(), message: panic_message(p) })?
    })?;
    let agents: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
    let by_mask: Vec<[f64; 3]> = std::iter::once(empty).chain(values).collect();
    Ok(crate::report::shapley::report("full", &agents, &by_mask))
}

/// The part of a run the metrics cover: from `trade_from` on, or the whole run, borrowed
/// rather than copied (the Shapley coalitions alone are 2^n runs).
fn measured(r: &RunResult, trade_from: Option<Ts>) -> std::borrow::Cow<'_, RunResult> {
    match trade_from {
        Some(t) => std::borrow::Cow::Owned(since(r, t)),
        None => std::borrow::Cow::Borrowed(r),
    }
}

/// Runs a whole backtest as `cfg` says and writes its run folder.
pub fn backtest(cfg: &Config, progress: &mut dyn FnMut(Phase, usize, usize)) -> Result<BacktestOutput, RunError> {
    backtest_with(cfg, &Registry::default(), progress)
}

/// [`backtest`] with the analyst kinds of `registry` (the shipped five, plus any kinds a
/// program registers; profiles in `graph.agents_dir` name them).
pub fn backtest_with(
    cfg: &Config,
    registry: &Registry,
    progress: &mut dyn FnMut(Phase, usize, usize),
) -> Result<BacktestOutput, RunError> {
    cfg.validate()?;
    // The run folder first: a refused --out or a busy folder costs nothing.
    let (staging, _recovered) = Staging::begin(&cfg.output.dir)?;
    let (bars, report) = load(&cfg.load_options()?)?;
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let trade_from = cfg.warmup_until();
    if let Some(t) = trade_from
        && bars.ts.last().is_none_or(|&l| l < t)
    {
        return Err(RunError::WarmupAfterData { warmup: format_ts(t), last_bar: report.last.clone() });
    }
    let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from };
    let a = annualisation(&bars, &report, cfg.metrics.periods_per_year);
    let value = worth(&a, cfg.metrics.risk_free_rate, trade_from);
    let (benchmark, main) = std::thread::scope(|s| {
        let bench = s.spawn(|| benchmark_run(&bars, &universe, &engine));
        let main = match cfg.strategy.name {
            StrategyName::Graph => run_graph(cfg, registry, &bars, &universe, &engine, &value, progress)
                .map(|g| (g.live.clone(), g.baselines.clone(), Some(g))),
            _ => {
                let mut st = make_strategy(cfg);
                let Ok(r) = run(&bars, &universe, &mut st, &engine, &mut |d, t| progress(Phase::Bars, d, t));
                Ok((r, Vec::new(), None))
            }
        };
        (joined("buy-and-hold".into(), bench), main)
    });
    let (live, baselines, graph) = main?;
    let benchmark = benchmark?;
    write_folder(cfg, staging, &bars, report, a, live, baselines, benchmark, graph)
}

/// The benchmark: equal-weight buy-and-hold of the same symbols with the same costs, held
/// overnight whatever `portfolio.flatten_at_close` says.
pub(crate) fn benchmark_run(bars: &Bars, universe: &Universe, engine: &EngineConfig) -> Result<RunResult, Infallible> {
    let mut bench_engine = engine.clone();
    bench_engine.portfolio.flatten_at_close = false;
    run(bars, universe, &mut BuyAndHold::new(), &bench_engine, &mut |_, _| {})
}

/// The value of a coalition for Shapley values: total return, Sharpe, total costs of the
/// measured part of a run.
pub(crate) fn worth(a: &Annualisation, rf: f64, trade_from: Option<Ts>) -> impl Fn(&RunResult) -> [f64; 3] + Sync + '_ {
    move |r: &RunResult| {
        let m = compute(&measured(r, trade_from), a, rf);
        [m.total_return, m.sharpe, m.total_costs]
    }
}

/// Metrics, the summary and every artifact of a finished run, written into `staging`, which
/// is then swapped in as `cfg.output.dir`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_folder(
    cfg: &Config,
    staging: Staging,
    bars: &Bars,
    report: LoadReport,
    a: Annualisation,
    live: RunResult,
    baselines: Vec<RunResult>,
    benchmark: RunResult,
    graph: Option<GraphRun>,
) -> Result<BacktestOutput, RunError> {
    let trade_from = cfg.warmup_until();
    let rf = cfg.metrics.risk_free_rate;
    let mut strategies =
        vec![StrategyReport { name: live.strategy.clone(), metrics: compute(&measured(&live, trade_from), &a, rf) }];
    for b in &baselines {
        strategies
            .push(StrategyReport { name: b.strategy.clone(), metrics: compute(&measured(b, trade_from), &a, rf) });
    }
    // `--strategy buy-and-hold` is itself under test: its benchmark column says what it is.
    let bench_name = if live.strategy == "buy-and-hold" { "benchmark" } else { "buy-and-hold" };
    strategies
        .push(StrategyReport { name: bench_name.into(), metrics: compute(&measured(&benchmark, trade_from), &a, rf) });
    let out_dir = cfg.output.dir.clone();
    let summary = RunSummary {
        quorum_version: env!("CARGO_PKG_VERSION").to_string(),
        data: report,
        annualisation: a,
        risk_free_rate: rf,
        warmup_until: trade_from.map(format_ts),
        analysts: graph.as_ref().map(|g| g.agents.clone()).unwrap_or_default(),
        strategies,
        learning: graph.as_ref().map(|g| g.calibration.clone()).unwrap_or_default(),
        attribution: graph.as_ref().map(|g| g.attribution.clone()),
        shapley: graph.as_ref().and_then(|g| g.shapley.clone()),
        shapley_full: graph.as_ref().and_then(|g| g.shapley_full.clone()),
    };
    let extra = graph.as_ref().map(|g| GraphArtifacts {
        votes: &g.votes,
        weights: &g.weights,
        agents: &g.agents,
        breakdown: &g.breakdown,
    });
    let config_toml = cfg.to_toml();
    let artifacts = RunArtifacts {
        summary: &summary,
        run: &live,
        baselines: &baselines,
        benchmark: &benchmark,
        symbols: &bars.symbols,
        bars,
        config_toml: &config_toml,
        graph: extra,
    };
    let _span = tracing::info_span!("write", dir = %out_dir.display()).entered();
    // The page reads every file but the votes and the memory checkpoint, so it renders
    // while they are written (on this thread, whose allocator heap the tables just freed:
    // on a fresh thread it raised the hourly run's peak RSS by ~25 MiB).
    let page = || match cfg.output.report {
        true => crate::report::html::write_report(staging.path()).map(|_| ()).map_err(ReportError::from),
        false => Ok(()),
    };
    std::thread::scope(|s| -> Result<(), RunError> {
        let (span, memory) = (tracing::Span::current(), staging.path().join("memory"));
        let saved = graph.as_ref().map(|g| {
            s.spawn(move || {
                let _in = span.enter();
                g.store.save(&memory).map(|_| crate::run::fault("memory"))
            })
        });
        let written = write_run(staging.path(), &artifacts, page);
        if let Some(h) = saved {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        }
        written?;
        Ok(())
    })?;
    tracing::info!(tmp = %staging.path().display(), page = cfg.output.report, "artifacts written");
    staging.commit()?;
    tracing::info!(dir = %out_dir.display(), "run folder swapped in");
    Ok(BacktestOutput {
        summary,
        run: live,
        baselines,
        benchmark,
        out_dir,
        votes: graph.as_ref().map(|g| g.votes.clone()),
        weights: graph.as_ref().map(|g| g.weights.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up logs over the shipped sample's steps: every analyst votes on every bar, the
    /// weights drift with the step, so that the replays trade and their coalitions differ.
    fn made_up_logs(bars: &Bars, ranges: &[std::ops::Range<usize>], n: usize) -> (VoteLog, WeightLog) {
        let (mut votes, mut weights) = (VoteLog::default(), WeightLog::new(n));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for r in ranges {
            let t = bars.ts[r.start];
            let step: Vec<crate::agents::Vote> = r
                .clone()
                .flat_map(|row| (0..n).map(move |a| (row, a)))
                .map(|(row, a)| crate::agents::Vote::new(t, bars.sym[row], a, 2.0 * next() - 1.0, next()))
                .collect();
            votes.push_step(t, &step);
            let w: Vec<f64> = (0..n).map(|_| 0.1 + next()).collect();
            let sum: f64 = w.iter().sum();
            weights.push_step(
                t,
                w.iter()
                    .enumerate()
                    .map(|(a, w)| crate::composer::AgentWeight {
                        agent: a,
                        weight: w / sum,
                        win_rate: 0.5 + 0.1 * (next() - 0.5),
                        wins: 3.0,
                        losses: 3.0,
                        edge: 0.0,
                        mean_outcome: 0.001 * (next() - 0.5),
                    })
                    .collect(),
            );
        }
        (votes, weights)
    }

    /// A follower's replays, whether it stepped them all, none, or part of the way before
    /// the workers finished them, and whatever the pieces' sizes (empty ones included),
    /// are the replays of the finished logs: the same baseline runs and coalition worths.
    #[test]
    fn test_follower_pieces_and_stops_give_the_finished_logs_replays() {
        let mut cfg = Config::default();
        cfg.data.path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bars");
        cfg.data.symbols = vec!["SPY".into(), "IBM".into()];
        cfg.data.to = Some("2013-10-09".parse().unwrap());
        let (bars, report) = crate::market::load(&cfg.load_options().unwrap()).unwrap();
        let universe = Universe {
            symbols: bars.symbols.clone(),
            classes: report.asset_classes.clone(),
            interval: report.interval_ns,
        };
        let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from: None };
        let ranges = step_ranges(&bars);
        assert!(ranges.len() > 700, "{} steps", ranges.len());
        let agents: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (votes, weights) = made_up_logs(&bars, &ranges, agents.len());
        let trading = trading_weights(&cfg, &weights);
        let logs = ReplayLogs { votes: &votes, evidence: &weights, trading: &trading };
        let value = |r: &RunResult| [r.equity.equity.last().copied().unwrap_or(0.0), r.fills.len() as f64, 0.0];
        let outcome = |r: Replayed| {
            let runs: Vec<_> =
                r.baselines.iter().map(|b| (b.strategy.clone(), b.equity.clone(), b.fills.clone())).collect();
            (runs, r.by_mask.unwrap_or_default())
        };
        // The finished logs, replayed from the first step.
        let fresh = replays(&cfg, &agents);
        let (count, baselines) = (fresh.len(), fresh.baselines);
        let fresh: Vec<std::sync::Mutex<Option<VoteReplay>>> =
            fresh.replays.into_iter().map(|r| Some(r).into()).collect();
        let make = |k: usize| Lane::new(&bars, &universe, &engine, fresh[k].lock().unwrap().take().unwrap());
        let want = outcome(finish_lanes(count, &make, baselines, &bars, &ranges, logs, &value).unwrap());
        assert!(want.0.iter().all(|(_, _, fills)| !fills.is_empty()), "every baseline traded");
        assert_eq!(want.1.len(), 8);
        // The same logs in pieces of 0, 1, 255, 700 steps and the rest.
        let pieces = || {
            let mut out = Vec::new();
            let mut from = 0;
            for len in [0, 1, 255, 0, 700, ranges.len()] {
                let to = (from + len).min(ranges.len());
                let (mut v, mut w) = (VoteLog::default(), WeightLog::new(agents.len()));
                for k in from..to {
                    v.push_step(votes.steps[k].0, votes.step(k));
                    w.push_step(weights.ts[k], weights.step(k).to_vec());
                }
                out.push((v, w));
                from = to;
            }
            out
        };
        for (free, stop, part) in [(true, false, None), (false, true, None), (true, true, Some(300))] {
            let mut f = Follower::new(&cfg, &bars, &universe, &engine, &ranges, replays(&cfg, &agents));
            let (tx, rx) = std::sync::mpsc::channel();
            let (back, _spares) = std::sync::mpsc::channel();
            for p in pieces() {
                tx.send(p).unwrap();
            }
            drop(tx);
            let (free_flag, stop_flag) =
                (std::sync::atomic::AtomicBool::new(free), std::sync::atomic::AtomicBool::new(stop));
            f.follow(&rx, &back, &free_flag, &stop_flag);
            if let Some(to) = part {
                f.advance(to);
            }
            let expect = if stop { part.unwrap_or(0) } else { ranges.len() };
            assert_eq!(f.next, expect, "free {free}, stop {stop}");
            assert!(f.lanes.iter().all(|l| l.next == expect));
            assert_eq!((f.votes.len(), f.weights.ts.len()), (ranges.len(), ranges.len()));
            let Follower { votes: fv, weights: fw, trading: ft, lanes, baselines, .. } = f;
            assert_eq!(ft, trading);
            let lanes: Vec<std::sync::Mutex<Option<Lane>>> = lanes.into_iter().map(|l| Some(l).into()).collect();
            let make = |k: usize| lanes[k].lock().unwrap().take().unwrap();
            let logs = ReplayLogs { votes: &fv, evidence: &fw, trading: &ft };
            let got = outcome(finish_lanes(count, &make, baselines, &bars, &ranges, logs, &value).unwrap());
            assert!(got == want, "free {free}, stop {stop}, part {part:?}");
        }
    }

    /// Results come back in job order whatever the worker; the first failure is returned,
    /// stops both workers from starting new jobs, and `done` still ticks for it.
    #[test]
    fn test_two_workers_order_and_first_failure() {
        let ticks = std::sync::atomic::AtomicUsize::new(0);
        let done = || {
            ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let squares = on_two_workers("squares", 7, &|k| Ok(k * k), &done).unwrap();
        assert_eq!(squares, vec![0, 1, 4, 9, 16, 25, 36]);
        assert_eq!(ticks.load(std::sync::atomic::Ordering::Relaxed), 7);
        let started = std::sync::atomic::AtomicUsize::new(0);
        let job = |k: usize| -> Result<usize, RunError> {
            started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if k == 0 {
                return Err(RunError::Panicked { what: "job 0".into(), message: "failed".into() });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(k)
        };
        let e = on_two_workers("jobs", 100, &job, &|| {}).unwrap_err();
        assert!(e.to_string().contains("job 0"), "{e}");
        assert!(started.load(std::sync::atomic::Ordering::Relaxed) < 10, "the other worker stopped early");
    }
}
