//! Paper trading: the backtest's loop, live.
//!
//! `quorum paper --feed replay:FILE --broker local --state DIR` runs the same analysts,
//! memory, composer and [`Engine`] as `quorum backtest`, with three parts swapped: the
//! feed hands out one step of closed bars at a time (a file replayed at `--speed N`× wall
//! time, or as fast as possible), the broker is the durable local broker ([`local`]: the
//! backtest's fill model behind a book of its own), and everything the run decides and does
//! goes to a journal ([`journal`]) **before** it acts.
//!
//! One step:
//! 1. the feed hands out the step's bars (paced by the wall clock);
//! 2. the engine processes them: the broker fills working orders at the bars' opens (each
//!    fill committed to the broker's book first), marks, the graph votes, the composer sets
//!    targets, the engine sizes orders and hands them to [`PaperBroker::submit`], which only
//!    names them (client order id `q<run>-<step>-<symbol>-<attempt>`, `broker::ids`);
//! 3. the step is journaled in one commit: bars, fills, votes, targets, cash, equity,
//!    positions and the order intents;
//! 4. only then are the orders placed at the broker, and its answers journaled;
//! 5. every `checkpoint_every` steps (and at the end) the memory is saved atomically to
//!    `DIR/memory` and the checkpoint journaled. Saving leaves the live store untouched
//!    (`memory::persist`), so a run that checkpoints recalls exactly what the backtest does,
//!    and recomputed steps after a restart do not save again.
//!
//! Restart. The same command on a folder with a journal resumes. It refuses a journal of a
//! newer format or another config; reconciles every order without a final status with the
//! broker's book (found: its status and fills are journaled; not found: it never arrived,
//! and is re-sent under the same id when its step is recomputed); then recomputes every
//! journaled step from the journal's bars ([`feed::ResumeFeed`]: what the run saw, not
//! what the source says now — a difference is journaled as a `correction`) with the same
//! graph, so the analysts' own state (indicator windows, Markov counts, pending
//! outcomes, regimes) and the memory are exactly an uninterrupted run's; each recomputed
//! step is checked against its journal row (a difference is an error naming the step and
//! field), and the broker answers the steps it already saw from its book (it never fills or
//! places anything twice). Then the run carries on with the feed.
//!
//! Why recompute from the first step rather than from the last memory checkpoint: the
//! checkpoint holds the memory, but the analysts' perception state is not in it, and
//! votes depend on both; recomputing is what makes a restarted run equal, byte for byte, to
//! one that never stopped (the crash test checks it). It costs the graph's speed over the
//! journaled bars (see BENCHMARKS.md); the checkpoint is what `--memory-from` warm-starts
//! other runs from, and what `quorum paper status` reports.
//!
//! Stopping. Ctrl-C or SIGTERM stops after the current step: the step is journaled, the
//! memory checkpointed, the run folder `DIR/run` written (the backtest's artifacts for the
//! bars seen: summary, equity, fills, votes, attribution, report). With
//! `--flatten-on-exit` the runner first closes every position: it keeps taking steps (the
//! graph still perceives them), with all targets at zero, until the book is flat or the
//! feed ends. A second Ctrl-C exits at once (the journal is consistent at any instant).
//! SIGKILL at any point loses nothing: the next start resumes as above.

pub mod alpaca;
pub mod feed;
pub mod journal;
pub mod live;
pub mod local;
pub mod notify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use self::alpaca::AlpacaVenue;
use self::feed::ResumeFeed;
use self::journal::{Identity, Journal, JournalError, JournalFill, JournalOrder, OrderUpdate, StepRow};
use self::local::{LocalBroker, LocalBrokerError};
use crate::agents::Registry;
use crate::alpaca::AlpacaError;
use crate::broker::BrokerEvent;
use crate::broker::{Broker, Order, OrderId, client_order_id};
use crate::config::{Config, StrategyName};
use crate::engine::clock::{Clock, WallClock};
use crate::engine::feed::{Feed, ReplayFeed};
use crate::engine::graph::{GraphError, GraphStrategy};
use crate::engine::{Engine, EngineConfig, EngineError, RunError, instruments};
use crate::market::time::format_ts;
use crate::market::{Bars, Ts, load};
use crate::portfolio::Fill;
use crate::run::Staging;
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// Why a paper run stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    /// Config, data, memory or the run folder (as in a backtest).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The journal (its message names `journal.db`).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The local broker.
    #[error(transparent)]
    Broker(#[from] LocalBrokerError),
    /// The analyst graph.
    #[error("analyst graph: {0}")]
    Graph(GraphError),
    /// Alpaca (after its retries); the journal holds what was decided, a restart
    /// reconciles it.
    #[error("alpaca: {0}")]
    Alpaca(AlpacaError),
    /// `--notify-webhook` is not a usable URL.
    #[error("{0}")]
    Notify(String),
    /// The state folder or the feed.
    #[error("{path}: {reason}")]
    State {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

// Not `#[from]`: that would also make the inner error the source, and `{:#}` would print
// its message twice.
impl From<GraphError> for PaperError {
    fn from(e: GraphError) -> Self {
        PaperError::Graph(e)
    }
}

impl From<AlpacaError> for PaperError {
    fn from(e: AlpacaError) -> Self {
        PaperError::Alpaca(e)
    }
}

impl From<std::convert::Infallible> for PaperError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// How a paper run goes, besides the config.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperOptions {
    /// The state folder: journal, broker book, memory checkpoint, run folder.
    pub state: PathBuf,
    /// Replay speed: `Some(60.0)` plays a minute of bars a second; `None` as fast as
    /// possible.
    pub speed: Option<f64>,
    /// On stop, close every position before exiting.
    pub flatten_on_exit: bool,
    /// Save the memory every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Post fills, rejects, errors, outages and daily summaries here ([`notify`]).
    pub notify_webhook: Option<String>,
}

/// Where a paper run's orders go.
#[derive(Debug)]
pub enum Venue {
    /// The local broker: the backtest's fill model with a durable book (`STATE/broker.db`).
    Local,
    /// Alpaca's trading API through this client (paper by default).
    Alpaca(Box<crate::alpaca::Trading>),
}

impl Venue {
    /// The name journaled (`--broker`).
    pub fn name(&self) -> &'static str {
        match self {
            Venue::Local => "local",
            Venue::Alpaca(_) => "alpaca",
        }
    }
}

/// A venue as the runner holds it.
#[derive(Debug)]
enum Venues {
    Local(Box<LocalBroker>),
    Alpaca(Box<AlpacaVenue>),
}

/// What the status line shows, once a step.
#[derive(Debug)]
pub struct PaperStatus<'a> {
    /// The step just done.
    pub step: u64,
    /// Its bars' start.
    pub ts: Ts,
    /// Recomputing journaled steps after a restart (not yet live).
    pub replaying: bool,
    /// Closing positions before exit.
    pub flattening: bool,
    /// Equity at the step's closes.
    pub equity: f64,
    /// Positions by symbol id.
    pub positions: &'a [f64],
    /// The step's composed targets: (symbol id, weight).
    pub targets: &'a [(u32, f64)],
    /// Symbol names by id.
    pub symbols: &'a [String],
    /// How far the wall clock is behind the feed's latest close, ns.
    pub lag_ns: i64,
    /// Bars handed out so far, and the feed's total when known.
    pub bars: (usize, usize),
}

/// What a finished paper run reports.
#[derive(Debug)]
pub struct PaperOutput {
    /// Steps taken (journaled), of which recomputed after a restart.
    pub steps: u64,
    /// Steps recomputed from the journal at start.
    pub replayed: u64,
    /// Orders reconciled with the broker at start.
    pub reconciled: usize,
    /// Why the run ended: `end of feed` or `stopped`.
    pub ended: &'static str,
    /// The run folder written (`DIR/run`), with the backtest's summary.
    pub run: Option<crate::engine::BacktestOutput>,
}

/// The broker the engine sees in a paper run: names each order, holds it until the step is
/// journaled, then places it at the local broker (see the module docs).
#[derive(Debug)]
pub struct PaperBroker {
    venue: Venues,
    journal: Journal,
    run_id: String,
    step: u64,
    pending: Vec<(String, Order)>,
    /// The client ids of this step's broker fills, in the order the engine applies them
    /// (a step may fill several orders of one symbol; cash in lieu is not a broker fill).
    step_coids: Vec<String>,
    submitted: u64,
    /// The current step's bars' start (fills read by a poll are stamped with it).
    step_ts: Ts,
    /// Recomputing a journaled step of an Alpaca run: the fills journaled at it, handed to
    /// the engine by `poll` instead of asking Alpaca.
    replay: Option<Vec<JournalFill>>,
    /// The statuses the last poll read: (client id, status, signed filled).
    statuses: Vec<(String, String, f64)>,
    /// Orders the venue refused or that were not sent, since last taken: (client id,
    /// symbol, quantity, status, reason).
    rejects: Vec<(String, u32, f64, String, String)>,
}

impl Broker for PaperBroker {
    type Error = PaperError;

    fn submit(&mut self, order: Order) -> Result<OrderId, PaperError> {
        let coid = client_order_id(&self.run_id, self.step, order.symbol, 0);
        self.pending.push((coid, order));
        self.submitted += 1;
        Ok(OrderId(self.submitted))
    }

    fn on_open(&mut self, bar: &crate::market::Bar, factor: f64) -> Result<Option<(OrderId, Fill)>, PaperError> {
        let Venues::Local(local) = &mut self.venue else { return Ok(None) };
        let r = local.on_open(bar, factor)?;
        if let Some((id, _)) = &r
            && let Some(o) = local.by_id(*id)
        {
            self.step_coids.push(o.coid.clone());
        }
        Ok(r)
    }

    fn poll(&mut self, events: &mut Vec<BrokerEvent>) -> Result<(), PaperError> {
        // The last step's orders that never reached the broker, as journaled (the same
        // whether this step is live or recomputed): the engine decides them again.
        if let Some(prev) = self.step.checked_sub(1).filter(|_| matches!(self.venue, Venues::Alpaca(_))) {
            for o in self.journal.unplaced_of_step(prev)? {
                events.push(BrokerEvent::Rejected { order: OrderId(0), symbol: o.symbol, reason: o.status });
            }
        }
        let Venues::Alpaca(venue) = &mut self.venue else { return Ok(()) };
        let fills: Vec<(String, Fill)> = match self.replay.take() {
            Some(journaled) => journaled.into_iter().map(|f| (f.coid.unwrap_or_default(), f.fill)).collect(),
            None => {
                let polled = venue.poll(self.step_ts)?;
                self.statuses = polled.statuses;
                polled.fills
            }
        };
        for (coid, fill) in fills {
            self.step_coids.push(coid);
            events.push(BrokerEvent::Filled { order: OrderId(0), fill });
        }
        Ok(())
    }
}

impl PaperBroker {
    /// Sends the step's orders (journaled already) to the venue; returns the journal's
    /// updates. While recomputing journaled steps (`live` false) the local broker answers
    /// from its book (placing only what never reached it), and Alpaca is sent only the
    /// orders of the last journaled step that never reached it (`resend`).
    fn flush(
        &mut self,
        index: u64,
        live: bool,
        resend: &std::collections::BTreeSet<String>,
        open: &mut BTreeMap<String, (String, f64)>,
        stale: Option<&str>,
    ) -> Result<Vec<OrderUpdate>, PaperError> {
        let mut updates = Vec::new();
        for (coid, order) in std::mem::take(&mut self.pending) {
            match &mut self.venue {
                Venues::Local(local) => {
                    let (r, new) = local.place(&coid, order)?;
                    if new && !live {
                        let detail = format!("{coid}: re-sent (it had not reached the broker)");
                        self.journal.event(Some(index), "reconciled", &detail)?;
                    }
                    updates.push((coid.clone(), r.status.as_str().to_string(), r.filled, Some(r.id.0.to_string())));
                    if !r.status.is_final() {
                        open.insert(coid, (r.status.as_str().to_string(), r.filled));
                    }
                }
                Venues::Alpaca(venue) => {
                    if !live && !resend.contains(&coid) {
                        continue;
                    }
                    if let Some(why) = stale {
                        // Decided on bars long closed (catching up after a gap): not sent.
                        let detail = format!("{coid}: stale ({why}); not sent");
                        tracing::warn!(%detail, "order not placed");
                        self.journal.event(Some(index), "stale", &detail)?;
                        self.rejects.push((coid.clone(), order.symbol, order.qty, "stale".into(), why.to_string()));
                        updates.push((coid, "stale".into(), 0.0, None));
                        continue;
                    }
                    let ack = venue.place(&coid, order)?;
                    if let Some(reason) = &ack.reason {
                        let detail = format!("{coid}: {} ({reason})", ack.status);
                        tracing::warn!(%detail, "order not placed");
                        self.journal.event(Some(index), &ack.status, &detail)?;
                        if ack.status != "canceled" {
                            self.rejects.push((
                                coid.clone(),
                                order.symbol,
                                order.qty,
                                ack.status.clone(),
                                reason.clone(),
                            ));
                        }
                    } else if !live {
                        let detail = format!("{coid}: re-sent (it had not reached Alpaca)");
                        self.journal.event(Some(index), "reconciled", &detail)?;
                    }
                    updates.push((coid.clone(), ack.status.clone(), ack.filled, ack.id.clone()));
                    if ack.reason.is_none() {
                        open.insert(coid, (ack.status, ack.filled));
                    }
                }
            }
        }
        Ok(updates)
    }

    /// Orders whose status moved since last journaled (the local book's fills and
    /// replacements, or what the last poll read from Alpaca); drops final ones from `open`.
    fn moved(&mut self, open: &mut BTreeMap<String, (String, f64)>, updates: &mut Vec<OrderUpdate>) {
        let mut now: Vec<(String, String, f64, bool)> = Vec::new();
        match &self.venue {
            Venues::Local(local) => {
                for coid in open.keys() {
                    if let Some(r) = local.lookup(coid) {
                        now.push((coid.clone(), r.status.as_str().to_string(), r.filled, r.status.is_final()));
                    }
                }
            }
            Venues::Alpaca(_) => {
                for (coid, status, filled) in std::mem::take(&mut self.statuses) {
                    let fin = crate::alpaca::model::is_final_status(&status);
                    now.push((coid, status, filled, fin));
                }
            }
        }
        for (coid, status, filled, fin) in now {
            let changed = open.get(&coid).is_none_or(|(s, f)| *s != status || *f != filled);
            if changed && !updates.iter().any(|u| u.0 == coid) {
                updates.push((coid.clone(), status.clone(), filled, None));
            }
            if fin {
                open.remove(&coid);
            } else {
                open.insert(coid, (status, filled));
            }
        }
    }
}

/// The graph as the engine drives it in a paper run: keeps the step's composed targets for
/// the journal, and sets every target to zero while flattening.
struct Recorder<'a> {
    graph: &'a mut GraphStrategy,
    targets: Vec<(u32, f64)>,
    flatten: bool,
    n: usize,
}

impl Strategy for Recorder<'_> {
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
        if self.flatten {
            let _ = targets.drain().count();
            for s in 0..self.n {
                targets.set(s as u32, 0.0);
            }
        }
        self.targets.clear();
        self.targets.extend(targets.iter());
        Ok(())
    }
}

/// A wall clock whose waits end early when `stop` is set (Ctrl-C during a night's gap).
struct StopClock<'a> {
    stop: &'a AtomicBool,
}

impl Clock for StopClock<'_> {
    fn now(&self) -> Ts {
        WallClock.now()
    }

    fn sleep_until(&self, t: Ts) {
        loop {
            let now = self.now();
            if now >= t || self.stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_nanos(((t - now) as u64).min(50_000_000)));
        }
    }
}

/// The journal's JSON of a value (floats round-trip exactly).
fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The step's bars as journaled: `[symbol, open, high, low, close, volume, extra…]` each
/// (extra columns in the file's order; a missing value is `null`).
fn bars_json(bars: &Bars, range: std::ops::Range<usize>) -> String {
    let rows: Vec<(u32, [f64; 5], Vec<f64>)> = range
        .map(|i| {
            let b = bars.bar(i);
            let extra = bars.extra.iter().map(|c| c.values.get(i).copied().unwrap_or(f64::NAN)).collect();
            (b.symbol, [b.open, b.high, b.low, b.close, b.volume], extra)
        })
        .collect();
    json(&rows)
}

/// Holds the state folder's lock for the run's life: one runner per folder.
fn lock_state(dir: &Path) -> Result<std::fs::File, PaperError> {
    let p = dir.join("lock");
    let state = |reason: String| PaperError::State { path: p.clone(), reason };
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| state(format!("cannot open ({e})")))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(state("another `quorum paper` is running on this state folder".into()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(state(format!("cannot lock ({e})"))),
    }
}

/// A new run's id: the config's digest and the wall time it started (unique per state
/// folder; kept in the journal, so a restart reuses it).
fn new_run_id(config: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(config.as_bytes());
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{}", WallClock.now())
}

/// Where a paper run's bars come from.
#[derive(Debug)]
pub enum Source {
    /// The bar file or folder `cfg.data.path`, replayed step by step (`--feed replay:FILE`).
    Replay,
    /// Alpaca's market-data API through this client, polled live (`--feed alpaca`): the
    /// symbols of `data.symbols`, bars of `data.resample` (1m when unset), history from
    /// `data.from`, until `data.to` or until stopped.
    Alpaca(Box<crate::alpaca::Http>),
}

/// A feed a paper run can trade: paced or live, with a lag to show and events to journal.
pub trait PaperFeed: Feed {
    /// How far the clock is past the close of the latest step handed out, ns.
    fn lag(&self) -> i64;
    /// Paces the steps from the next one on (a replay's `--speed`; a live feed has its own).
    fn set_speed(&mut self, _speed: Option<f64>) {}
    /// Bars from the market as it trades (a replay is not: its lag is the replay's pace).
    fn is_live(&self) -> bool {
        false
    }
    /// What the feed noticed since last asked (late bars, outages, reconnections).
    fn take_events(&mut self) -> Vec<live::FeedEvent> {
        Vec::new()
    }
    /// Where the feed posts what the operator must hear at once (outages).
    fn set_notifier(&mut self, _handle: notify::Handle) {}
}

impl<C: Clock> PaperFeed for ReplayFeed<C> {
    fn lag(&self) -> i64 {
        ReplayFeed::lag(self)
    }

    fn set_speed(&mut self, speed: Option<f64>) {
        ReplayFeed::set_speed(self, speed)
    }
}

impl<C: Clock> PaperFeed for live::AlpacaFeed<C> {
    fn lag(&self) -> i64 {
        live::AlpacaFeed::lag(self)
    }

    fn take_events(&mut self) -> Vec<live::FeedEvent> {
        live::AlpacaFeed::take_events(self)
    }

    fn is_live(&self) -> bool {
        true
    }

    fn set_notifier(&mut self, handle: notify::Handle) {
        live::AlpacaFeed::set_notifier(self, handle)
    }
}

/// The wall clock of a paper run from the command line: its waits end early when `stop` is
/// set, so Ctrl-C is honoured during a night's gap.
pub fn stop_clock(stop: &AtomicBool) -> impl Clock + '_ {
    StopClock { stop }
}

/// Runs a paper session as `cfg` and `opts` say, with bars from `source` timed by `clock`
/// ([`stop_clock`] from the command line; a manual clock in tests), until the feed ends or
/// `stop` is set; `status` is called after every step.
#[allow(clippy::too_many_arguments)]
pub fn paper(
    cfg: &Config,
    registry: &Registry,
    opts: &PaperOptions,
    venue: Venue,
    source: Source,
    clock: &dyn Clock,
    stop: &AtomicBool,
    status: &mut dyn FnMut(&PaperStatus<'_>),
) -> Result<PaperOutput, PaperError> {
    cfg.validate().map_err(RunError::from)?;
    if cfg.strategy.name != StrategyName::Graph {
        return Err(RunError::Config(
            crate::error::InvalidValue::new(
                "strategy.name",
                format!("{:?}", cfg.strategy.name),
                "quorum paper trades the analyst graph (strategy.name = \"graph\")",
            )
            .into(),
        )
        .into());
    }
    std::fs::create_dir_all(&opts.state)
        .map_err(|e| PaperError::State { path: opts.state.clone(), reason: format!("cannot create ({e})") })?;
    let _lock = lock_state(&opts.state)?;
    let config = cfg.to_toml();
    let (journal, identity, resumed) = Journal::open(
        &opts.state.join("journal.db"),
        &Identity { config: config.clone(), broker: venue.name().into(), run_id: new_run_id(&config) },
    )?;
    let notifier = match &opts.notify_webhook {
        Some(url) => Some(notify::Notifier::start(url, &identity.run_id).map_err(PaperError::Notify)?),
        None => None,
    };
    let opened = Opened {
        journal,
        identity,
        resumed,
        report: Default::default(),
        trade_from: cfg.warmup_until(),
        graph_bars: Bars::default(),
        notifier: notifier.as_ref(),
        live_from: None,
    };
    let out = open_feed(Session { cfg, registry, opts, clock, stop, status }, venue, source, opened);
    if let (Err(e), Some(n)) = (&out, &notifier) {
        n.send(
            None,
            "",
            notify::Notice {
                kind: "error",
                text: format!("stopped on an error: {e:#}"),
                fields: serde_json::json!({"error": format!("{e:#}")}),
            },
        );
    }
    if let Some(n) = notifier {
        let (sent, failed) = n.finish();
        if failed > 0 {
            tracing::warn!(sent, failed, "some webhook notifications could not be delivered");
        }
    }
    out
}

/// The caller's side of a paper run.
struct Session<'a> {
    cfg: &'a Config,
    registry: &'a Registry,
    opts: &'a PaperOptions,
    clock: &'a dyn Clock,
    stop: &'a AtomicBool,
    status: &'a mut dyn FnMut(&PaperStatus<'_>),
}

/// Opens the feed `source` names (completing `opened` with its report, window and
/// symbols) and runs the session on it.
fn open_feed(s: Session<'_>, venue: Venue, source: Source, mut opened: Opened<'_>) -> Result<PaperOutput, PaperError> {
    let (cfg, opts, clock) = (s.cfg, s.opts, s.clock);
    match source {
        Source::Replay => {
            let (bars, report) = load(&cfg.load_options().map_err(RunError::from)?).map_err(RunError::from)?;
            let interval = report.interval_ns.max(1);
            let speed = if opened.journal.steps()? == 0 { opts.speed } else { None };
            opened.graph_bars = Bars {
                symbols: bars.symbols.clone(),
                ts: bars.ts.first().copied().into_iter().collect(),
                ..Default::default()
            };
            opened.report = report;
            run(s, venue, opened, ReplayFeed::new(bars, interval, speed, clock))
        }
        Source::Alpaca(http) => {
            let (spec, report) = live_spec(cfg)?;
            // The run trades from the moment it first went live; history before warms it up.
            let now = clock.now().div_euclid(spec.interval) * spec.interval;
            // Kept in the journal with the first step written (a start that fails before
            // then does not fix it).
            let kept = opened.journal.meta("live_from")?.and_then(|t| t.parse::<Ts>().ok());
            opened.live_from = kept.is_none().then_some(now);
            let live_from = kept.unwrap_or(now);
            opened.trade_from = Some(opened.trade_from.map_or(live_from, |w| w.max(live_from)));
            let spec = live::LiveSpec { from: cfg.data.from.as_ref().map_or(live_from, |f| f.start()), ..spec };
            opened.graph_bars = Bars { symbols: spec.symbols.clone(), ts: vec![spec.from], ..Default::default() };
            opened.report = report;
            run(s, venue, opened, live::AlpacaFeed::new(*http, spec, clock)?)
        }
    }
}

/// The live feed's symbols, interval and window from the config, and the load report a
/// run folder needs (what a file's load would have said).
fn live_spec(cfg: &Config) -> Result<(live::LiveSpec, crate::market::LoadReport), PaperError> {
    use crate::error::InvalidValue;
    let bad = |key: &str, value: String, why: &str| {
        PaperError::Run(RunError::Config(InvalidValue::new(key, value, why).into()))
    };
    if cfg.data.symbols.is_empty() {
        return Err(bad(
            "data.symbols",
            "[]".into(),
            "--feed alpaca needs the symbols to trade: --symbols SPY,QQQ (crypto as BTC/USD)",
        ));
    }
    let mut symbols = cfg.data.symbols.clone();
    symbols.sort();
    symbols.dedup();
    let interval = cfg.data.resample.as_ref().map_or(crate::market::time::NS_PER_MIN, |t| t.ns());
    let delay = (cfg.alpaca.bar_delay_secs * 1e9) as i64;
    if delay >= interval {
        return Err(bad(
            "alpaca.bar_delay_secs",
            cfg.alpaca.bar_delay_secs.to_string(),
            "must be shorter than the bar interval (a bar is asked for within its successor's interval)",
        ));
    }
    if crate::alpaca::data::timeframe(interval).is_none() {
        return Err(bad(
            "data.resample",
            crate::market::time::format_duration(interval.max(1)),
            "Alpaca's bars come in 1-59 minutes, 1-23 hours or 1 day",
        ));
    }
    let classes: Vec<_> =
        symbols.iter().map(|s| crate::market::session::classify(s, &cfg.data.crypto_quotes)).collect();
    let report = crate::market::LoadReport {
        symbols: symbols.clone(),
        asset_classes: classes.clone(),
        interval: crate::market::time::format_duration(interval),
        interval_ns: interval,
        session: cfg.data.session,
        bars_per_session: crate::market::calendar_bars_per_session(&classes, cfg.data.session, interval),
        ..Default::default()
    };
    let spec = live::LiveSpec {
        symbols,
        classes,
        interval,
        feed: cfg.alpaca.feed.clone(),
        session: cfg.data.session,
        from: 0,
        until: cfg.data.to.as_ref().map(|t| t.end()),
        delay,
    };
    Ok((spec, report))
}

/// What [`paper`] opened before choosing its feed.
struct Opened<'a> {
    journal: Journal,
    identity: Identity,
    resumed: bool,
    report: crate::market::LoadReport,
    trade_from: Option<Ts>,
    /// The symbols and the first bar's time, for the graph's memory checks.
    graph_bars: Bars,
    notifier: Option<&'a notify::Notifier>,
    /// A live run's start, to keep in the journal with the first step written.
    live_from: Option<Ts>,
}

fn run<F: PaperFeed>(s: Session<'_>, venue: Venue, opened: Opened<'_>, inner: F) -> Result<PaperOutput, PaperError>
where
    PaperError: From<F::Error>,
{
    let Session { cfg, registry, opts, clock, stop, status } = s;
    let Opened { mut journal, identity, resumed, report, trade_from, graph_bars, notifier, mut live_from } = opened;
    let universe = Universe {
        symbols: graph_bars.symbols.clone(),
        classes: report.asset_classes.clone(),
        interval: report.interval_ns,
    };
    let journaled = journal.steps()?;
    let mut venue = match venue {
        Venue::Local => Venues::Local(Box::new(LocalBroker::open(
            &opts.state.join("broker.db"),
            &universe.symbols,
            cfg.costs.clone(),
            instruments(&universe, &cfg.portfolio),
        )?)),
        Venue::Alpaca(trading) => {
            Venues::Alpaca(Box::new(AlpacaVenue::new(*trading, &universe, cfg.alpaca.outside_session)))
        }
    };
    // Reconcile: every order without a final status, asked of the broker.
    let mut open: BTreeMap<String, (String, f64)> = BTreeMap::new();
    let mut resend = std::collections::BTreeSet::new();
    let reconciled = reconcile(&mut journal, &mut venue, journaled, &mut open, &mut resend)?;
    if let Venues::Alpaca(v) = &mut venue {
        track_unfilled(&journal, v)?;
        positions_check(&mut journal, v, &universe, journaled)?;
    }
    if resumed {
        let detail = format!("{journaled} steps journaled; recomputing them, then resuming the feed");
        journal.event(Some(journaled), "restart", &detail)?;
        tracing::info!(steps = journaled, reconciled, "resuming a paper run");
    }

    let (profiles, headlines) = crate::engine::graph_inputs(cfg, registry)?;
    let mut graph = crate::engine::build_graph(cfg, registry, &profiles, &headlines, &graph_bars, &universe)?;
    let engine_cfg = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone(), trade_from };
    // A resumed run replays the journaled steps' bars, not the source's.
    let rows = journal.step_bars()?;
    let mut feed = ResumeFeed::new(inner, rows);
    if let Some(h) = notifier.and_then(notify::Notifier::handle) {
        feed.inner_mut().set_notifier(h);
    }
    let broker = PaperBroker {
        venue,
        journal,
        run_id: identity.run_id.clone(),
        step: 0,
        pending: Vec::new(),
        step_coids: Vec::new(),
        submitted: 0,
        step_ts: 0,
        replay: None,
        statuses: Vec::new(),
        rejects: Vec::new(),
    };
    let mut engine = Engine::new(feed.bars(), &universe, &engine_cfg, broker);
    let n = universe.symbols.len();
    let mut rec = Recorder { graph: &mut graph, targets: Vec::new(), flatten: false, n };
    rec.on_start(&universe)?;
    let memory_dir = opts.state.join("memory");
    let mut index: u64 = 0;
    let mut flattening = false;
    let mut last_ts = None;
    let mut saved_at = None;
    // The session day's tally for the daily summary (stocks: New York dates; crypto: UTC).
    let day_class = if universe.classes.contains(&crate::market::session::AssetClass::Equity) {
        crate::market::session::AssetClass::Equity
    } else {
        crate::market::session::AssetClass::Crypto
    };
    let mut ny = crate::market::session::NyClock::new();
    let mut day = notify::Day::default();
    let mut streaks: BTreeMap<u32, u64> = BTreeMap::new();
    let ended = loop {
        let live = index >= journaled;
        if live && stop.load(Ordering::Relaxed) {
            let flat = engine.positions().iter().all(|p| *p == 0.0);
            // A stop asked again while flattening stops there.
            if !opts.flatten_on_exit || flat || flattening {
                break "stopped";
            }
            flattening = true;
            // The request is taken: the feed's waits (the next bars, at the market's pace)
            // must not be cut short, or the closing orders would never be decided.
            stop.store(false, Ordering::Relaxed);
            engine.broker_mut().journal.event(Some(index), "flatten", "stop asked: closing every position")?;
            tracing::info!(
                "stop asked: closing every position before exit (--flatten-on-exit; stop again to leave them)"
            );
        }
        if index == journaled && journaled > 0 {
            feed.inner_mut().set_speed(opts.speed);
            tracing::info!(steps = journaled, "journaled steps recomputed; live from here");
            let fixes = feed.corrections();
            if !fixes.is_empty() {
                let detail = format!(
                    "{} journaled step(s) differ in the source now; the journal's bars were used (first: {})",
                    fixes.len(),
                    fixes[0]
                );
                tracing::warn!(%detail, "corrections not applied");
                engine.broker_mut().journal.event(Some(index), "correction", &detail)?;
            }
        }
        let next = feed.next_step();
        for e in feed.inner_mut().take_events() {
            // Outages and reconnections were posted by the feed as they happened.
            engine.broker_mut().journal.event(Some(index), e.kind(), e.detail())?;
        }
        let Some(range) = next? else {
            // A live feed's wait ends early when the run is stopping.
            break if stop.load(Ordering::Relaxed) { "stopped" } else { "end of feed" };
        };
        let ts = feed.bars().ts[range.start];
        if last_ts.is_some_and(|l| ts <= l) {
            return Err(PaperError::State {
                path: cfg.data.path.clone(),
                reason: format!(
                    "the feed went back in time: a step at {} after one at {}",
                    format_ts(ts),
                    format_ts(last_ts.unwrap_or(ts))
                ),
            });
        }
        last_ts = Some(ts);
        // A new session day: the last one's summary, with the book as it closed it.
        let date = crate::market::session::session_date(&mut ny, day_class, ts).to_string();
        if day.date != date {
            if let Some(n) = notifier.filter(|_| live && day.steps > 0) {
                let summary = day.summary(engine.equity(), &held(&universe, engine.positions()), false);
                n.send(Some(index.saturating_sub(1)), &format_ts(ts), summary);
            }
            day = notify::Day { date, open_equity: engine.equity(), ..Default::default() };
        }
        let journal_row = if live { None } else { engine.broker().journal.step(index)? };
        rec.flatten = journal_row.as_ref().map_or(flattening, |r| r.flatten);
        let b = engine.broker_mut();
        b.step = index;
        b.step_ts = ts;
        b.step_coids.clear();
        if !live && matches!(b.venue, Venues::Alpaca(_)) {
            b.replay = Some(b.journal.broker_fills_of_step(index)?);
        }
        let before = engine.fills().len();
        engine.step::<_, std::convert::Infallible>(feed.bars(), range.clone(), index as usize, &mut rec).map_err(
            |e| match e {
                EngineError::Strategy(e) => PaperError::Graph(e),
                EngineError::Broker(e) => e,
                EngineError::Feed(never) => match never {},
            },
        )?;
        crate::run::fault("step-decided");
        let votes = rec.graph.votes.step(rec.graph.votes.steps.len().saturating_sub(1));
        let row = StepRow {
            step: index,
            ts,
            flatten: rec.flatten,
            bars: bars_json(feed.bars(), range.clone()),
            fills: json(&engine.fills()[before..]),
            votes: json(votes),
            targets: json(&rec.targets),
            cash: engine.cash(),
            equity: engine.equity(),
            positions: json(engine.positions()),
        };
        let fills: Vec<JournalFill> = broker_fills(engine.broker(), index, &engine.fills()[before..]);
        let broker = engine.broker_mut();
        let intents: Vec<JournalOrder> = broker
            .pending
            .iter()
            .map(|(coid, o)| JournalOrder {
                coid: coid.clone(),
                step: index,
                symbol: o.symbol,
                attempt: 0,
                qty: o.qty,
                decided_at: o.decided_at,
                status: "intent".into(),
                filled: 0.0,
                broker_id: None,
            })
            .collect();
        if live {
            if let Some(t) = live_from.take() {
                broker.journal.meta_or_insert("live_from", &t.to_string())?;
            }
            broker.journal.write_step(&row, &fills, &intents)?;
        } else {
            broker.journal.verify(&row)?;
            let added = broker.journal.add_fills(&fills)?;
            if added > 0 {
                let detail = format!("{added} fill(s) the broker made at step {index} were not yet journaled");
                broker.journal.event(Some(index), "reconciled", &detail)?;
            }
        }
        crate::run::fault("journal-step");
        // Act: the step is on disk; place its orders.
        // A live feed catching up after a gap (a restart, an outage): orders decided on
        // bars closed more than two intervals ago are not sent to Alpaca (nor are those a
        // restart would re-send from its last journaled step, if that is as old).
        let since_close = clock.now() - (ts + universe.interval);
        let stale = (feed.inner().is_live() && since_close > 2 * universe.interval.max(1)).then(|| {
            format!("decided on the bars of {}, {:.0} s after their close", format_ts(ts), since_close as f64 / 1e9)
        });
        let broker = engine.broker_mut();
        let mut updates = broker.flush(index, live, &resend, &mut open, stale.as_deref())?;
        crate::run::fault("orders-placed");
        // Orders whose status moved (fills at this step's opens or read by its poll).
        broker.moved(&mut open, &mut updates);
        broker.journal.update_orders(&updates)?;
        let rejects = std::mem::take(&mut broker.rejects);
        // The day's tally, and the operator's messages for live steps.
        day.steps += 1;
        day.fills += fills.len() as u64;
        day.rejects += rejects.len() as u64;
        if let Some(n) = notifier.filter(|_| live) {
            let when = format_ts(ts);
            for f in &fills {
                n.send(Some(index), &when, fill_notice(&universe, f));
            }
            // A symbol refused again and again (its target stands, so it is re-sent each
            // step) is told at the 1st, 10th, 100th … refusal in a row, not every minute.
            for i in &intents {
                if !rejects.iter().any(|r| r.1 == i.symbol) {
                    streaks.remove(&i.symbol);
                }
            }
            for (coid, symbol, qty, status, reason) in rejects {
                let streak = streaks.entry(symbol).or_insert(0);
                *streak += 1;
                if !is_power_of_ten(*streak) {
                    continue;
                }
                let name = universe.symbols.get(symbol as usize).map_or("?", String::as_str);
                let again = if *streak > 1 { format!(" ({streak} in a row)") } else { String::new() };
                let text = format!("order {coid} ({qty:+} {name}) {status}: {reason}{again}");
                let fields = serde_json::json!({"coid": coid, "symbol": name, "qty": qty, "status": status,
                    "reason": reason, "in_a_row": *streak});
                n.send(Some(index), &when, notify::Notice { kind: "reject", text, fields });
            }
        }
        // Saving leaves the live store as it is, so recomputed steps need not save again
        // (and must not: they would put an older checkpoint over a newer one).
        if live && (index + 1).is_multiple_of(opts.checkpoint_every.max(1)) {
            checkpoint(&rec.graph.store, &memory_dir, &mut engine.broker_mut().journal, index, ts)?;
            saved_at = Some(index);
        }
        status(&PaperStatus {
            step: index,
            ts,
            replaying: !live,
            flattening,
            equity: engine.equity(),
            positions: engine.positions(),
            targets: &rec.targets,
            symbols: &universe.symbols,
            lag_ns: feed.inner().lag(),
            bars: (feed.bars().len(), feed.len_hint().unwrap_or(0)),
        });
        index += 1;
        if flattening && engine.positions().iter().all(|p| *p == 0.0) {
            break "stopped";
        }
    };
    if let Some(n) = notifier.filter(|_| day.steps > 0 && index > journaled) {
        n.send(
            index.checked_sub(1),
            &last_ts.map(format_ts).unwrap_or_default(),
            day.summary(engine.equity(), &held(&universe, engine.positions()), true),
        );
    }
    if flattening && engine.positions().iter().any(|p| *p != 0.0) {
        tracing::warn!("the feed ended before every position could be closed; the positions stay open at the broker");
    }
    // The local broker may hold fills made at bars after the last step taken: the run
    // stopped between a fill and its step's journal commit, and the feed no longer has
    // those bars (a replayed file cut short). Their cash and shares would be lost to the
    // journal: refused, naming them.
    if ended == "end of feed"
        && let Venues::Local(local) = &engine.broker().venue
    {
        let orphans: Vec<String> = local
            .fills()
            .iter()
            .filter(|(_, f)| last_ts.is_none_or(|t| f.ts > t))
            .map(|(_, f)| format!("{} of #{} at {}", f.qty, f.symbol, format_ts(f.ts)))
            .collect();
        if !orphans.is_empty() {
            let reason = format!(
                "the local broker filled {} order(s) at bars the feed no longer has ({}): the replayed file was cut short after a stop; replay the whole file",
                orphans.len(),
                orphans.join(", ")
            );
            engine.broker_mut().journal.event(index.checked_sub(1), "orphan", &reason)?;
            return Err(PaperError::State { path: opts.state.join("broker.db"), reason });
        }
    }
    let last = index.saturating_sub(1);
    if let Some(ts) = last_ts
        && saved_at != Some(last)
    {
        checkpoint(&rec.graph.store, &memory_dir, &mut engine.broker_mut().journal, last, ts)?;
    }
    let detail = format!("{ended} after step {last}");
    engine.broker_mut().journal.event(Some(last), "shutdown", &detail)?;
    drop(rec);
    let name = graph.name();
    let live_run = engine.finish(name);
    let run = if last_ts.is_some() {
        Some(write_run_folder(
            cfg,
            registry,
            &profiles,
            &headlines,
            feed.bars(),
            report,
            &universe,
            &engine_cfg,
            live_run,
            graph,
        )?)
    } else {
        None
    };
    Ok(PaperOutput { steps: index, replayed: journaled, reconciled, ended, run })
}

/// Asks the venue about every journaled order without a final status; journals what it
/// says. Local: an order not in the book never arrived and is re-sent when its step is
/// recomputed. Alpaca: one not there is re-sent (`resend`) only if it belongs to the last
/// journaled step (the run stopped between journaling and sending it); an older one is
/// journaled `expired`, never sent late. Returns how many orders were looked at.
fn reconcile(
    journal: &mut Journal,
    venue: &mut Venues,
    journaled: u64,
    open: &mut BTreeMap<String, (String, f64)>,
    resend: &mut std::collections::BTreeSet<String>,
) -> Result<usize, PaperError> {
    let mut updates = Vec::new();
    let orders = journal.open_orders()?;
    for o in &orders {
        let found: Option<(String, f64, String, bool)> = match venue {
            Venues::Local(local) => local
                .lookup(&o.coid)
                .map(|r| (r.status.as_str().to_string(), r.filled, r.id.0.to_string(), r.status.is_final())),
            Venues::Alpaca(v) => v.trading().by_client_id(&o.coid)?.map(|a| {
                let fin = a.is_final();
                (a.status.clone(), a.signed_filled(), a.id.clone(), fin)
            }),
        };
        match found {
            Some((status, filled, id, fin)) => {
                if o.status != status || o.filled != filled {
                    let detail = format!("{}: journal {} → broker {status} (filled {filled})", o.coid, o.status);
                    journal.event(Some(o.step), "reconciled", &detail)?;
                    tracing::info!(%detail, "reconciled");
                }
                updates.push((o.coid.clone(), status.clone(), filled, Some(id)));
                if !fin {
                    open.insert(o.coid.clone(), (status, filled));
                }
            }
            None if matches!(venue, Venues::Local(_)) || o.step + 1 >= journaled => {
                let detail = format!(
                    "{}: not at the broker (it never arrived); re-sent under the same id at step {}",
                    o.coid, o.step
                );
                journal.event(Some(o.step), "reconciled", &detail)?;
                tracing::warn!(%detail, "reconciled");
                resend.insert(o.coid.clone());
                open.insert(o.coid.clone(), (o.status.clone(), o.filled));
            }
            None => {
                let detail = format!(
                    "{}: not at Alpaca (it never arrived); decided at step {}, too old to send now: expired",
                    o.coid, o.step
                );
                journal.event(Some(o.step), "reconciled", &detail)?;
                tracing::warn!(%detail, "reconciled");
                updates.push((o.coid.clone(), "expired".into(), 0.0, None));
            }
        }
    }
    journal.update_orders(&updates)?;
    Ok(orders.len())
}

/// Alpaca orders whose fills are not all in the journal are tracked again, with what the
/// journal applied of them.
fn track_unfilled(journal: &Journal, venue: &mut AlpacaVenue) -> Result<(), PaperError> {
    let fills = journal.fills()?;
    for o in journal.all_orders()? {
        if matches!(o.status.as_str(), "rejected" | "skipped" | "stale" | "canceled" | "expired" | "intent") {
            continue;
        }
        let mine = fills.iter().filter(|f| f.coid.as_deref() == Some(o.coid.as_str()));
        let (applied, value) =
            mine.fold((0.0, 0.0), |(q, v), f| (q + f.fill.qty.abs(), v + f.fill.qty.abs() * f.fill.price));
        if applied + crate::portfolio::QTY_EPS < o.qty.abs() {
            let order = Order { symbol: o.symbol, qty: o.qty, decided_at: o.decided_at };
            venue.track(&o.coid, &order, applied, value, o.broker_id.clone());
        }
    }
    Ok(())
}

/// Alpaca's positions against the journal's (the broker is the truth): every difference is
/// journaled and logged, and shown by `quorum paper status`.
fn positions_check(
    journal: &mut Journal,
    venue: &mut AlpacaVenue,
    universe: &Universe,
    journaled: u64,
) -> Result<(), PaperError> {
    let at_alpaca = venue.trading().positions()?;
    let ours: Vec<f64> = match journal.last_step()? {
        Some(r) => serde_json::from_str(&r.positions).unwrap_or_default(),
        None => vec![0.0; universe.symbols.len()],
    };
    let norm = |s: &str| s.replace('/', "");
    for (i, sym) in universe.symbols.iter().enumerate() {
        let theirs: f64 = at_alpaca.iter().filter(|p| norm(&p.symbol) == norm(sym)).map(|p| p.qty).sum();
        let mine = ours.get(i).copied().unwrap_or(0.0);
        if (theirs - mine).abs() > crate::portfolio::QTY_EPS {
            let detail = format!("{sym}: journal {mine}, Alpaca {theirs} (the book follows quorum's own orders)");
            tracing::warn!(%detail, "position differs");
            journal.event(Some(journaled), "position", &detail)?;
        }
    }
    for p in &at_alpaca {
        if !universe.symbols.iter().any(|s| norm(s) == norm(&p.symbol)) {
            let detail = format!("{}: Alpaca holds {} of a symbol this run does not trade", p.symbol, p.qty);
            journal.event(Some(journaled), "position", &detail)?;
        }
    }
    Ok(())
}

/// 1, 10, 100, …
fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

/// Positions held, by name.
fn held(universe: &Universe, positions: &[f64]) -> Vec<(String, f64)> {
    positions.iter().enumerate().filter(|(_, q)| **q != 0.0).map(|(i, q)| (universe.symbols[i].clone(), *q)).collect()
}

/// The message of one fill.
fn fill_notice(universe: &Universe, f: &JournalFill) -> notify::Notice {
    let x = &f.fill;
    let name = universe.symbols.get(x.symbol as usize).map_or("?", String::as_str);
    let side = if x.qty >= 0.0 { "bought" } else { "sold" };
    let what = if f.coid.is_none() { " (cash in lieu of a split's fraction)" } else { "" };
    notify::Notice {
        kind: "fill",
        text: format!("{side} {} {name} at {} (commission {:.2}){what}", x.qty.abs(), x.price, x.commission),
        fields: serde_json::json!({
            "symbol": name, "qty": x.qty, "price": x.price, "commission": x.commission,
            "slippage": x.slippage, "coid": f.coid, "bar": format_ts(x.ts),
        }),
    }
}

/// The journal's rows of `fills`, each with its order's client id (none for cash in lieu).
fn broker_fills(broker: &PaperBroker, step: u64, fills: &[Fill]) -> Vec<JournalFill> {
    let mut coids = broker.step_coids.iter();
    fills
        .iter()
        .map(|f| JournalFill {
            // Broker fills are always decided before their bar; cash in lieu at its own.
            coid: (f.decided_at != f.ts).then(|| coids.next().cloned()).flatten(),
            step,
            fill: *f,
        })
        .collect()
}

fn checkpoint(
    store: &crate::memory::MemoryStore,
    dir: &Path,
    journal: &mut Journal,
    step: u64,
    ts: Ts,
) -> Result<(), PaperError> {
    // The steps the memory holds are durable in the journal before the memory is.
    journal.make_durable()?;
    store.save(dir).map_err(RunError::from)?;
    crate::run::fault("checkpoint");
    journal.checkpoint(step, ts, store.snapshot().counts().live)?;
    Ok(())
}

/// The run folder of a paper run: the backtest's artifacts over the bars seen.
#[allow(clippy::too_many_arguments)]
fn write_run_folder(
    cfg: &Config,
    registry: &Registry,
    profiles: &[crate::agents::Profile],
    headlines: &[crate::agents::news::Headline],
    bars: &Bars,
    mut report: crate::market::LoadReport,
    universe: &Universe,
    engine: &EngineConfig,
    live: crate::run::RunResult,
    graph: GraphStrategy,
) -> Result<crate::engine::BacktestOutput, PaperError> {
    let staging = Staging::begin(&cfg.output.dir).map_err(RunError::from)?.0;
    report.bars = bars.len();
    if let Some(&t) = bars.ts.last() {
        report.last = format_ts(t);
    }
    let a = crate::engine::annualisation(bars, &report, cfg.metrics.periods_per_year);
    let value = crate::engine::worth(&a, cfg.metrics.risk_free_rate, cfg.warmup_until());
    let ablation = if cfg.graph.ablation {
        Some(crate::engine::ablation_run(cfg, registry, profiles, headlines, bars, universe, engine)?)
    } else {
        None
    };
    let g = crate::engine::graph_results(
        cfg,
        registry,
        profiles,
        headlines,
        bars,
        universe,
        engine,
        &value,
        &mut |_, _, _| {},
        live,
        graph,
        ablation,
        None,
    )?;
    let Ok(benchmark) = crate::engine::benchmark_run(bars, universe, engine);
    let (live, baselines) = (g.live.clone(), g.baselines.clone());
    Ok(crate::engine::write_folder(cfg, staging, bars, report, a, live, baselines, benchmark, Some(g))?)
}

/// What `quorum paper status` prints: the journal's view of a state folder.
pub fn status_report(state: &Path) -> Result<String, PaperError> {
    use std::fmt::Write as _;
    let jp = state.join("journal.db");
    if !jp.is_file() {
        return Err(PaperError::State {
            path: jp,
            reason: "no journal: not a paper state folder (start one with `quorum paper`)".into(),
        });
    }
    let j = Journal::read(&jp)?;
    let mut out = String::new();
    let running = match std::fs::OpenOptions::new().write(true).open(state.join("lock")) {
        Ok(f) => match f.try_lock() {
            Ok(()) => "stopped",
            Err(_) => "running",
        },
        Err(_) => "stopped",
    };
    let _ = writeln!(out, "state     {} ({running})", state.display());
    let _ = writeln!(out, "run id    {}", j.meta("run_id")?.unwrap_or_default());
    let steps = j.steps()?;
    let _ = writeln!(out, "steps     {steps}");
    if let Some(t) = j.meta("live_from")?.and_then(|t| t.parse::<Ts>().ok()) {
        let _ = writeln!(out, "feed      alpaca, live (trading) from {}", format_ts(t));
    }
    if let Some(last) = j.last_step()? {
        let first = j.step(0)?.map(|r| r.ts).unwrap_or(last.ts);
        let _ = writeln!(out, "bars      {} → {}", format_ts(first), format_ts(last.ts));
        let _ = writeln!(out, "equity    {:.2}   cash {:.2}", last.equity, last.cash);
        let _ = writeln!(out, "positions {}", last.positions);
        let _ = writeln!(out, "targets   {}", last.targets);
    }
    let orders = j.all_orders()?;
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &orders {
        *by.entry(o.status.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(out, "orders    {} ({})", orders.len(), counts.join(", "));
    let open = j.open_orders()?;
    for o in &open {
        let _ = writeln!(
            out,
            "  open    {} step {} symbol #{} qty {} status {}",
            o.coid, o.step, o.symbol, o.qty, o.status
        );
    }
    let fills = j.fills()?;
    let _ = writeln!(out, "fills     {} journaled", fills.len());
    let bp = state.join("broker.db");
    if bp.is_file()
        && let Ok(db) = rusqlite::Connection::open_with_flags(&bp, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    {
        let n: i64 = db.query_row("SELECT COUNT(*) FROM fills", [], |r| r.get(0)).unwrap_or(-1);
        let note = if n == fills.len() as i64 { "agrees" } else { "DIFFERS: restart the run to reconcile" };
        let _ = writeln!(out, "broker    {n} fills in the local broker's book ({note})");
    }
    match j.last_checkpoint()? {
        Some((step, ts, items)) => {
            let _ = writeln!(
                out,
                "memory    checkpoint after step {step} ({}), {items} items, {}",
                format_ts(ts),
                state.join("memory").display()
            );
        }
        None => {
            let _ = writeln!(out, "memory    no checkpoint yet");
        }
    }
    let counts: Vec<String> = j.event_counts()?.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if !counts.is_empty() {
        let _ = writeln!(out, "events    {}", counts.join(", "));
    }
    let events = j.events(8)?;
    if !events.is_empty() {
        let _ = writeln!(out, "events (latest {}):", events.len());
        for (step, kind, detail) in events {
            let s = step.map(|s| format!("step {s}")).unwrap_or_default();
            let _ = writeln!(out, "  {kind:<10} {s:<10} {detail}");
        }
    }
    if state.join("run").join("summary.json").is_file() {
        let _ = writeln!(out, "run folder {}", state.join("run").display());
    }
    Ok(out)
}
