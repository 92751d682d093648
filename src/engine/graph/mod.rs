//! The analyst graph as a [`Strategy`]: five (or however many profiles are enabled) analyst
//! actors on their own actix arbiters (threads), a composer actor, one shared memory.
//!
//! One step (all bars starting at t, closed):
//! 1. the memory publishes everything written during the previous step (`publish(t)`);
//! 2. features and the market-state vector are computed once per bar, and the step's
//!    headlines are routed to their symbols (`news`);
//! 3. votes whose horizon has passed are resolved at this step's close and recorded
//!    (`learning`: outcome memories written, the memories those votes used reinforced);
//! 4. every analyst gets the step (`Perceive`: the bars and the memory snapshot of the
//!    step) and answers with votes; the engine waits for all of them and takes them in
//!    roster order;
//! 5. the composer weighs the votes by remembered win rates and sets targets.
//!
//! Determinism: each actor handles its messages in order; memory writes are staged and
//! applied at the next publish in a fixed order (event time, agent, the agent's own call
//! order: its outcomes, staged by the engine before its `Perceive` is sent, then its own
//! writes); votes are gathered in roster order. Thread scheduling cannot change a result.
//!
//! Files: `actors` (the actor system's lifecycle), `learning` (the learning loop), `news`
//! (headline routing), `replay` (the baselines on the logged votes); the vote and weight
//! logs are shared run types (`crate::run`).

mod actors;
mod error;
mod learning;
mod news;
mod replay;

pub use error::GraphError;
pub use learning::{AnalystCalibration, Calibration, MemoryUsed, StanceLine};
pub use replay::{Replay, ReplayLogs, Replaying, VoteReplay};

use std::sync::Arc;

use futures::future::join_all;

use self::actors::Actors;
use self::learning::Learning;
use self::news::NewsRouter;
use crate::agents::actor::{Perceive, StepBar};
use crate::agents::kinds::markov::RegimeTracker;
use crate::agents::news::Headline;
use crate::agents::{Analyst, Vote};
use crate::composer::actor::{Compose, OwnedBook};
use crate::composer::{AgentWeight, Composer, ComposerConfig, ComposerMode};
use crate::config::ActorPlacement;
use crate::features::FeatureBank;
use crate::market::Ts;
use crate::market::session::AssetClass;
use crate::market::time::format_ts;
use crate::memory::MemoryStore;
use crate::portfolio::CostConfig;
use crate::report::breakdown::Judged;
use crate::run::{VoteLog, WeightLog};
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// The analyst graph, pluggable into the engine as a strategy.
pub struct GraphStrategy {
    actors: Actors,
    /// The shared memory every analyst writes to and recalls from.
    pub store: Arc<MemoryStore>,
    /// Analyst names in roster order (the index of a vote's `agent`).
    pub agent_names: Vec<String>,
    learning: Learning,
    features: Vec<FeatureBank>,
    /// The run's symbols, classes and interval (checked at `on_start`).
    universe: Universe,
    symbols: Vec<Arc<str>>,
    /// The data's extra column names, read at the first step.
    extra_names: Option<Arc<[String]>>,
    news: NewsRouter,
    /// Every vote of the run, step by step.
    pub votes: VoteLog,
    /// The composer's memory-based analyst weights, step by step.
    pub weights: WeightLog,
    /// The last step's weights when [`GraphStrategy::take_logs`] has just emptied the log
    /// (the trace of weight changes compares with them).
    taken_last: Vec<AgentWeight>,
    /// Does the evidence predict outcomes? Per analyst, filled as votes resolve.
    pub calibration: Calibration,
    costs: CostConfig,
    name: String,
    /// Does the analysts' recall run? Off for the memory ablation (`no-recall`).
    recall: bool,
    /// Keep the vote, weight, regime and judged logs (off for runs whose only result is
    /// their book: the ablation, full-mode Shapley coalitions).
    logs: bool,
    regime: RegimeTracker,
    /// The Markov regime of every bar, in the bars' row order (`u8::MAX` warming up).
    pub regimes: Vec<u8>,
    /// Every judged vote: analyst, symbol, vote time, outcome.
    pub judged: Vec<Judged>,
}

impl GraphStrategy {
    /// A graph over `analysts` sharing `store`, for the symbols of `universe`; starts the
    /// actor system on the driver's thread (`ActorPlacement::Shared`).
    pub fn new(
        analysts: Vec<Box<dyn Analyst>>,
        composer: ComposerConfig,
        store: Arc<MemoryStore>,
        news: Vec<Headline>,
        min_vote: f64,
        costs: CostConfig,
        universe: &Universe,
    ) -> Result<Self, GraphError> {
        Self::placed(analysts, composer, store, news, min_vote, costs, universe, ActorPlacement::Shared)
    }

    /// [`GraphStrategy::new`] with the actors where `placement` says.
    #[allow(clippy::too_many_arguments)]
    pub fn placed(
        analysts: Vec<Box<dyn Analyst>>,
        composer: ComposerConfig,
        store: Arc<MemoryStore>,
        news: Vec<Headline>,
        min_vote: f64,
        costs: CostConfig,
        universe: &Universe,
        placement: ActorPlacement,
    ) -> Result<Self, GraphError> {
        let agent_names: Vec<String> = analysts.iter().map(|a| a.name().to_string()).collect();
        let horizons: Vec<usize> = analysts.iter().map(|a| a.horizon()).collect();
        let name = match composer.mode {
            ComposerMode::Composed => "composed".to_string(),
            ComposerMode::Equal => "equal-weight".to_string(),
        };
        let n_symbols = universe.symbols.len();
        let comp = Composer::new(composer, agent_names.clone(), n_symbols);
        let n = agent_names.len();
        Ok(GraphStrategy {
            actors: Actors::start(analysts, comp, store.clone(), placement)?,
            store,
            agent_names,
            learning: Learning::new(horizons.clone(), min_vote, n_symbols),
            features: (0..n_symbols)
                .map(|s| {
                    let class = universe.classes.get(s).copied().unwrap_or(AssetClass::Equity);
                    FeatureBank::for_market(class, universe.interval)
                })
                .collect(),
            universe: universe.clone(),
            symbols: universe.symbols.iter().map(|s| Arc::from(s.as_str())).collect(),
            extra_names: None,
            news: NewsRouter::new(news),
            votes: VoteLog::default(),
            weights: WeightLog::new(n),
            taken_last: Vec::new(),
            calibration: Calibration::new(horizons),
            costs,
            name,
            recall: true,
            logs: true,
            regime: RegimeTracker::default(),
            regimes: Vec::new(),
            judged: Vec::new(),
        })
    }

    /// Takes the vote and weight logs written so far and goes on in `spare` (emptied; an
    /// earlier piece given back, so that its buffers are reused): the steps taken are the
    /// next ones after those taken before (a follower of the run appends them).
    pub fn take_logs(&mut self, spare: (VoteLog, WeightLog)) -> (VoteLog, WeightLog) {
        let (mut votes, mut weights) = spare;
        votes.clear();
        weights.clear();
        weights.agents = self.agent_names.len();
        std::mem::swap(&mut self.votes, &mut votes);
        std::mem::swap(&mut self.weights, &mut weights);
        if let Some(l) = weights.ts.len().checked_sub(1) {
            self.taken_last.clear();
            self.taken_last.extend_from_slice(weights.step(l));
        }
        (votes, weights)
    }

    /// A run whose only result is its book: the vote, weight, regime and judged logs are
    /// not kept (a long run's logs are most of its memory).
    pub fn without_logs(mut self) -> Self {
        self.logs = false;
        self
    }

    /// The memory ablation: the analysts vote on perception alone (no recall), while the
    /// memory is still written, so the composer's win rates exist. Renames the strategy.
    pub fn without_recall(mut self, name: &str) -> Self {
        self.recall = false;
        self.name = name.to_string();
        self
    }

    /// The step's bars as the analysts receive them: features, extra columns, headlines.
    fn step_bars(&mut self, step: &Step<'_>) -> Vec<StepBar> {
        let names = self.extra_names.get_or_insert_with(|| step.extras().map(|(n, _)| n.to_string()).collect()).clone();
        let columns: Vec<&[f64]> = step.extras().map(|(_, v)| v).collect();
        let fresh = self.news.fresh(step.ts + self.universe.interval);
        step.bars()
            .enumerate()
            .map(|(k, bar)| {
                let s = bar.symbol as usize;
                let name = self.symbols[s].clone();
                let features = self.features[s].update(&bar);
                let regime = self.regime.observe(bar.symbol, &features);
                if self.logs {
                    self.regimes.push(regime.map_or(u8::MAX, |r| r as u8));
                }
                StepBar {
                    symbol: bar.symbol,
                    features,
                    extra_names: names.clone(),
                    extra_values: columns.iter().map(|c| c[k]).collect(),
                    news: news::for_symbol(fresh, &name.to_ascii_lowercase()),
                    symbol_name: name,
                }
            })
            .collect()
    }

    fn step(&mut self, step: &Step<'_>, view: &PortfolioView<'_>, targets: &mut Targets) -> Result<(), GraphError> {
        let t = step.ts;
        self.store.publish(t).map_err(|source| GraphError::Memory { at: format_ts(t), source })?;
        let snapshot = self.store.snapshot();
        let bars = self.step_bars(step);
        let outcomes = self.learning.due(&bars, t);
        for (a, rs) in outcomes.iter().enumerate() {
            for r in rs {
                self.calibration.add(a, r.win_rate, r.outcome, r.confidence);
                self.calibration.add_memory(a, r.outcome, &r.memory);
                if self.logs {
                    self.judged.push(Judged { agent: a, symbol: r.symbol, vote_ts: r.vote_ts, outcome: r.outcome });
                }
            }
        }
        let bars = Arc::new(bars);
        let mut pending = Vec::with_capacity(self.actors.analysts.len());
        for ((addr, outcomes), agent) in self.actors.analysts.iter().zip(outcomes).zip(&self.agent_names) {
            learning::record(&self.store, agent, &outcomes)
                .map_err(|source| GraphError::Memory { at: format_ts(t), source })?;
            pending.push(addr.send(Perceive {
                ts: t,
                bars: bars.clone(),
                snapshot: snapshot.clone(),
                recall: self.recall,
            }));
        }
        let mut votes: Vec<Vote> = Vec::new();
        for (r, agent) in self.actors.wait(join_all(pending)).into_iter().zip(&self.agent_names) {
            let at = || format_ts(t);
            let answer =
                r.map_err(|source| GraphError::Mailbox { actor: format!("analyst `{agent}`"), at: at(), source })?;
            votes.extend(answer.map_err(|source| GraphError::Analyst { agent: agent.clone(), at: at(), source })?);
        }
        let votes = Arc::new(votes);
        let book = OwnedBook {
            equity: view.equity,
            positions: view.positions.to_vec(),
            prices: view.prices.to_vec(),
            as_traded: view.as_traded.to_vec(),
            costs: self.costs.clone(),
        };
        let msg = Compose { ts: t, votes: votes.clone(), snapshot, book: Some(book) };
        let composed = self.actors.wait(self.actors.composer.send(msg)).map_err(|source| GraphError::Mailbox {
            actor: "the composer".into(),
            at: format_ts(t),
            source,
        })?;
        let win_rates: Vec<f64> = composed.weights.iter().map(|w| w.win_rate).collect();
        self.learning.open(&votes, &bars, t, &win_rates).map_err(|(a, s)| self.off_step(a, s, t))?;
        for (s, w) in composed.targets {
            targets.set(s, w);
        }
        if self.logs {
            self.votes.push_step(t, &votes);
        }
        if tracing::enabled!(tracing::Level::TRACE) {
            let prev = match self.weights.ts.len() {
                0 => &self.taken_last[..],
                l => self.weights.step(l - 1),
            };
            for (w, p) in composed.weights.iter().zip(prev) {
                if (w.weight - p.weight).abs() > 0.01 {
                    let agent = &self.agent_names[w.agent];
                    tracing::trace!(at = %format_ts(t), agent, from = p.weight, to = w.weight, "composer weight");
                }
            }
        }
        if self.logs {
            self.weights.push_step(t, composed.weights);
        }
        Ok(())
    }

    fn off_step(&self, agent: usize, symbol: u32, t: Ts) -> GraphError {
        let name = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        let symbols: Vec<String> = self.symbols.iter().map(|s| s.to_string()).collect();
        GraphError::VoteOffStep {
            agent: name(&self.agent_names, agent),
            symbol: name(&symbols, symbol as usize),
            at: format_ts(t),
        }
    }
}

impl Strategy for GraphStrategy {
    type Error = GraphError;

    fn name(&self) -> String {
        self.name.clone()
    }

    /// Checks that the run's universe (symbols, asset classes, interval) is the one the
    /// graph was built for.
    fn on_start(&mut self, universe: &Universe) -> Result<(), GraphError> {
        if *universe != self.universe {
            return Err(GraphError::Universe { built: self.universe.clone(), given: universe.clone() });
        }
        Ok(())
    }

    /// Sizes the logs once: a vote per analyst per bar, weights per analyst per step (at
    /// least bars / symbols steps).
    fn expect_bars(&mut self, bars: usize) {
        if self.logs {
            let n = self.agent_names.len();
            let steps = bars.div_ceil(self.universe.symbols.len().max(1));
            self.votes.votes.reserve(bars * n);
            self.votes.steps.reserve(steps);
            self.weights.weights.reserve(steps * n);
            self.weights.ts.reserve(steps);
            self.regimes.reserve(bars);
        }
    }

    fn on_step(
        &mut self,
        step: &Step<'_>,
        portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), GraphError> {
        self.step(step, portfolio, targets)
    }
}
