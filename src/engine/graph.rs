//! The analyst graph as a [`Strategy`]: five (or however many profiles are enabled) analyst
//! actors on their own actix arbiters (threads), a composer actor, one shared memory.
//!
//! One step (all bars starting at t, closed):
//! 1. the memory publishes everything written during the previous step (`publish(t)`);
//! 2. features and the market-state vector are computed once per bar;
//! 3. votes whose horizon has passed are resolved at this step's close;
//! 4. every analyst gets the step (`Perceive`: its resolved outcomes — written as outcome
//!    memories, the memories those votes used reinforced — then the bars and the memory
//!    snapshot of the step) and answers with votes; the engine waits for all of them and
//!    takes them in roster order;
//! 5. the composer weighs the votes by remembered win rates and sets targets.
//!
//! Determinism: each actor handles its messages in order; memory writes are staged and
//! applied at the next publish in a fixed order (event time, agent, the agent's own call
//! order); votes are gathered in roster order. Thread scheduling cannot change a result.
//!
//! Learning is sampled on non-overlapping horizons: for each (analyst, symbol) one vote
//! with |direction| ≥ `min_vote` is held until its horizon has passed, judged, and only
//! then is the next one taken. Judging every bar's vote would count the same move up to
//! `horizon` times and flood the memory with correlated outcomes.
//! Outcome = sign(direction) × log return over the horizon; reward for the memories used =
//! tanh(outcome / (σ·√horizon)).

use std::sync::Arc;
use std::sync::mpsc;

use actix::{Actor, Addr, Arbiter, System};
use futures::executor::block_on;
use futures::future::join_all;

use crate::agents::actor::{AnalystActor, Perceive, StepBar};
use crate::agents::news::Headline;
use crate::agents::{Analyst, Resolution, Vote};
use crate::composer::actor::{Compose, ComposerActor};
use crate::composer::{AgentWeight, Composer, ComposerConfig};
use crate::features::FeatureBank;
use crate::market::{SymbolId, Ts};
use crate::memory::MemoryStore;
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// Votes of a run, step by step.
#[derive(Debug, Clone, Default)]
pub struct VoteLog {
    /// (step timestamp, start index into `votes`) per step.
    pub steps: Vec<(Ts, usize)>,
    pub votes: Vec<Vote>,
}

impl VoteLog {
    /// The votes of step `k`.
    pub fn step(&self, k: usize) -> &[Vote] {
        let Some(&(_, a)) = self.steps.get(k) else { return &[] };
        let b = self.steps.get(k + 1).map_or(self.votes.len(), |x| x.1);
        &self.votes[a..b]
    }
}

/// Composer weights of a run, step by step (memory-based, whatever the live mode).
#[derive(Debug, Clone, Default)]
pub struct WeightLog {
    pub ts: Vec<Ts>,
    /// `agents` entries per step.
    pub weights: Vec<AgentWeight>,
    pub agents: usize,
}

impl WeightLog {
    /// The weights of step `k`.
    pub fn step(&self, k: usize) -> &[AgentWeight] {
        let a = k * self.agents;
        self.weights.get(a..a + self.agents).unwrap_or(&[])
    }
}

#[derive(Debug, Clone)]
struct OpenVote {
    vote_ts: Ts,
    close: f64,
    direction: f64,
    bars_left: usize,
    sigma: f64,
    rationale: String,
    state: Vec<f32>,
    memory_ids: Vec<u64>,
}

/// The running actor system: analyst actors on their arbiters, the composer.
struct Actors {
    analysts: Vec<Addr<AnalystActor>>,
    composer: Addr<ComposerActor>,
    arbiters: Vec<Arbiter>,
    system: System,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Actors {
    fn start(analysts: Vec<Box<dyn Analyst>>, composer: Composer, store: Arc<MemoryStore>) -> Actors {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("quorum-actors".into())
            .spawn(move || {
                let sys = System::new();
                sys.block_on(async move {
                    let mut arbiters = Vec::new();
                    let mut addrs = Vec::new();
                    for (index, analyst) in analysts.into_iter().enumerate() {
                        let arb = Arbiter::new();
                        let store = store.clone();
                        addrs.push(AnalystActor::start_in_arbiter(&arb.handle(), move |_| AnalystActor {
                            analyst,
                            index,
                            store,
                        }));
                        arbiters.push(arb);
                    }
                    let composer = ComposerActor(composer).start();
                    let _ = tx.send((addrs, composer, arbiters, System::current()));
                });
                sys.run().ok();
            })
            .expect("spawn the actor thread");
        let (analysts, composer, arbiters, system) = rx.recv().expect("actor system started");
        Actors { analysts, composer, arbiters, system, thread: Some(thread) }
    }
}

impl Drop for Actors {
    fn drop(&mut self) {
        for a in &self.arbiters {
            a.stop();
        }
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The analyst graph, pluggable into the engine as a strategy.
pub struct GraphStrategy {
    actors: Actors,
    pub store: Arc<MemoryStore>,
    pub agent_names: Vec<String>,
    horizons: Vec<usize>,
    min_vote: f64,
    features: Vec<FeatureBank>,
    symbols: Vec<Arc<str>>,
    interval: i64,
    open: Vec<Vec<Option<OpenVote>>>,
    news: Vec<Headline>,
    news_next: usize,
    pub votes: VoteLog,
    pub weights: WeightLog,
    /// First error met during the run (the run stops voting after it).
    pub error: Option<String>,
    name: String,
}

impl GraphStrategy {
    /// A graph over `analysts` sharing `store`.
    pub fn new(
        analysts: Vec<Box<dyn Analyst>>,
        composer: ComposerConfig,
        store: Arc<MemoryStore>,
        news: Vec<Headline>,
        min_vote: f64,
    ) -> Self {
        let agent_names: Vec<String> = analysts.iter().map(|a| a.name().to_string()).collect();
        let horizons: Vec<usize> = analysts.iter().map(|a| a.horizon()).collect();
        let name = match composer.mode {
            crate::composer::ComposerMode::Composed => "composed".to_string(),
            crate::composer::ComposerMode::Equal => "equal-weight".to_string(),
        };
        let comp = Composer::new(composer, agent_names.clone(), 0);
        let n = agent_names.len();
        GraphStrategy {
            actors: Actors::start(analysts, comp, store.clone()),
            store,
            agent_names,
            horizons,
            min_vote,
            features: Vec::new(),
            symbols: Vec::new(),
            interval: 0,
            open: vec![Vec::new(); n],
            news,
            news_next: 0,
            votes: VoteLog::default(),
            weights: WeightLog { agents: n, ..Default::default() },
            error: None,
            name,
        }
    }

    fn resolutions(&mut self, bars: &[StepBar], t: Ts) -> Vec<Vec<Resolution>> {
        let mut out = vec![Vec::new(); self.agent_names.len()];
        for (a, opens) in self.open.iter_mut().enumerate() {
            for b in bars {
                let Some(slot) = opens.get_mut(b.symbol as usize) else { continue };
                let Some(ov) = slot.as_mut() else { continue };
                ov.bars_left = ov.bars_left.saturating_sub(1);
                if ov.bars_left > 0 {
                    continue;
                }
                let ov = slot.take().expect("open vote");
                let market_return = (b.features.bar.close / ov.close).ln();
                let outcome = ov.direction.signum() * market_return;
                let h = self.horizons[a];
                let scale = ov.sigma * (h as f64).sqrt();
                out[a].push(Resolution {
                    symbol: b.symbol,
                    symbol_name: b.symbol_name.to_string(),
                    vote_ts: ov.vote_ts,
                    ts: t,
                    direction: ov.direction,
                    market_return,
                    outcome,
                    reward: if scale > 0.0 { (outcome / scale).tanh() } else { 0.0 },
                    rationale: ov.rationale,
                    horizon: h,
                    state: ov.state,
                    memory_ids: ov.memory_ids,
                });
            }
        }
        out
    }

    fn step_bars(&mut self, step: &Step<'_>) -> Vec<StepBar> {
        let gamma = step.extra("net_gamma");
        let flow = step.extra("dealer_flow");
        let close_time = step.ts + self.interval;
        // Headlines published up to this step's close.
        let from = self.news_next;
        while self.news_next < self.news.len() && self.news[self.news_next].ts <= close_time {
            self.news_next += 1;
        }
        let fresh = &self.news[from..self.news_next];
        step.bars()
            .enumerate()
            .map(|(k, bar)| {
                let s = bar.symbol as usize;
                let name = self.symbols[s].clone();
                let lower = name.to_ascii_lowercase();
                StepBar {
                    symbol: bar.symbol,
                    features: self.features[s].update(&bar),
                    net_gamma: gamma.map_or(f64::NAN, |g| g[k]),
                    dealer_flow: flow.map_or(f64::NAN, |g| g[k]),
                    news: fresh.iter().filter(|h| h.tickers.contains(&lower)).cloned().collect(),
                    symbol_name: name,
                }
            })
            .collect()
    }

    fn step(&mut self, step: &Step<'_>, targets: &mut Targets) -> Result<(), String> {
        let t = step.ts;
        self.store.publish(t).map_err(|e| format!("memory publish at step {t}: {e}"))?;
        let snapshot = self.store.snapshot();
        let bars = self.step_bars(step);
        let outcomes = self.resolutions(&bars, t);
        let bars = Arc::new(bars);
        let mut pending = Vec::with_capacity(self.actors.analysts.len());
        for ((addr, outcomes), _) in self.actors.analysts.iter().zip(outcomes).zip(0..) {
            pending.push(addr.send(Perceive { ts: t, bars: bars.clone(), snapshot: snapshot.clone(), outcomes }));
        }
        let mut votes: Vec<Vote> = Vec::new();
        for r in block_on(join_all(pending)) {
            votes.extend(r.map_err(|e| format!("analyst actor: {e}"))?);
        }
        // Open evaluations for new votes.
        for v in &votes {
            let opens = &mut self.open[v.agent];
            if opens.len() <= v.symbol as usize {
                opens.resize(v.symbol as usize + 1, None);
            }
            if opens[v.symbol as usize].is_none() && v.direction.abs() >= self.min_vote {
                let b = bars.iter().find(|b| b.symbol == v.symbol).expect("vote on a bar of the step");
                opens[v.symbol as usize] = Some(OpenVote {
                    vote_ts: t,
                    close: b.features.bar.close,
                    direction: v.direction,
                    bars_left: self.horizons[v.agent],
                    sigma: b.features.sigma,
                    rationale: v.rationale.clone(),
                    state: b.features.state.to_vec(),
                    memory_ids: v.memory_ids.clone(),
                });
            }
        }
        let votes = Arc::new(votes);
        let composed = block_on(self.actors.composer.send(Compose { ts: t, votes: votes.clone(), snapshot }))
            .map_err(|e| format!("composer actor: {e}"))?;
        for (s, w) in composed.targets {
            targets.set(s, w);
        }
        self.votes.steps.push((t, self.votes.votes.len()));
        self.votes.votes.extend(votes.iter().cloned());
        self.weights.ts.push(t);
        self.weights.weights.extend(composed.weights);
        Ok(())
    }
}

impl Strategy for GraphStrategy {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn on_start(&mut self, universe: &Universe) {
        self.symbols = universe.symbols.iter().map(|s| Arc::from(s.as_str())).collect();
        self.features = (0..universe.symbols.len()).map(|_| FeatureBank::new()).collect();
        self.interval = universe.interval;
        for o in &mut self.open {
            *o = vec![None; universe.symbols.len()];
        }
        // The composer needs the symbol count for its per-symbol budget.
        let comp = Composer::new(
            block_on(self.actors.composer.send(GetConfig)).unwrap_or_default(),
            self.agent_names.clone(),
            universe.symbols.len(),
        );
        let _ = block_on(self.actors.composer.send(Replace(comp)));
    }

    fn on_step(&mut self, step: &Step<'_>, _portfolio: &PortfolioView<'_>, targets: &mut Targets) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.step(step, targets) {
            self.error = Some(e);
        }
    }
}

/// Asks the composer actor for its configuration.
#[derive(actix::Message)]
#[rtype(result = "ComposerConfig")]
struct GetConfig;

impl actix::Handler<GetConfig> for ComposerActor {
    type Result = actix::MessageResult<GetConfig>;
    fn handle(&mut self, _: GetConfig, _: &mut actix::Context<Self>) -> Self::Result {
        actix::MessageResult(self.0.cfg)
    }
}

/// Replaces the composer (at the start of a run, once the universe is known).
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Replace(Composer);

impl actix::Handler<Replace> for ComposerActor {
    type Result = ();
    fn handle(&mut self, msg: Replace, _: &mut actix::Context<Self>) {
        self.0 = msg.0;
    }
}

/// Replays a recorded vote stream through fixed or recorded weights: the baselines
/// (equal weight, one analyst alone, composed) on exactly the votes of the graph run.
pub struct VoteReplay {
    name: String,
    votes: Arc<VoteLog>,
    weights: Replay,
    composer: Option<Composer>,
    cfg: ComposerConfig,
    n_agents: usize,
}

/// Where replay weights come from.
pub enum Replay {
    /// The same weights every step.
    Fixed(Vec<f64>),
    /// The weights recorded at each step.
    Logged(Arc<WeightLog>),
}

impl VoteReplay {
    /// A replay named `name`.
    pub fn new(name: &str, votes: Arc<VoteLog>, weights: Replay, cfg: ComposerConfig, n_agents: usize) -> Self {
        VoteReplay { name: name.into(), votes, weights, composer: None, cfg, n_agents }
    }
}

impl Strategy for VoteReplay {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn on_start(&mut self, universe: &Universe) {
        self.composer = Some(Composer::new(self.cfg, vec![String::new(); self.n_agents], universe.symbols.len()));
    }

    fn on_step(&mut self, step: &Step<'_>, _portfolio: &PortfolioView<'_>, targets: &mut Targets) {
        let votes = self.votes.step(step.index);
        let w: Vec<f64> = match &self.weights {
            Replay::Fixed(w) => w.clone(),
            Replay::Logged(log) => log.step(step.index).iter().map(|x| x.weight).collect(),
        };
        if let Some(c) = &mut self.composer {
            for (s, x) in c.targets(votes, &w) {
                targets.set(s, x);
            }
        }
    }
}

/// Symbol ids of a vote list (sorted, unique), for tests.
pub fn voted_symbols(votes: &[Vote]) -> Vec<SymbolId> {
    let mut s: Vec<SymbolId> = votes.iter().map(|v| v.symbol).collect();
    s.sort_unstable();
    s.dedup();
    s
}
