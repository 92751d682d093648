//! Vote replays: the baselines of a graph run, on exactly the votes the graph produced.
//!
//! The analysts do not depend on the composer (they see bars and memory, not positions),
//! so equal weights, each analyst alone, or the composed weights as recorded can be
//! replayed through the composer's signal and no-trade band without re-running the graph.
//!
//! A replay reads the logs it is given at each step ([`ReplayLogs`], borrowed), so it can
//! run over a finished run's logs or follow a live run a few steps behind, over logs that
//! are still growing (`engine::runner`'s lanes): step k reads only step k of the logs.

use crate::composer::{Book, Composer, ComposerConfig};
use crate::portfolio::CostConfig;
use crate::run::{VoteLog, WeightLog};
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// The logs a replay reads: the votes, the evidence (composer weights with their
/// remembered mean outcomes) and the trading weights, step by step. A prefix of a run's
/// logs is enough for the steps it covers.
#[derive(Debug, Clone, Copy)]
pub struct ReplayLogs<'a> {
    /// The votes, step by step.
    pub votes: &'a VoteLog,
    /// The run's evidence log: the remembered mean outcomes for the cost gate.
    pub evidence: &'a WeightLog,
    /// The weights the live composer traded with, step by step (`runner::trading_weights`).
    pub trading: &'a [Vec<f64>],
}

/// Replays a recorded vote stream through fixed or recorded weights.
pub struct VoteReplay {
    name: String,
    weights: Replay,
    composer: Option<Composer>,
    cfg: ComposerConfig,
    costs: CostConfig,
    n_agents: usize,
}

/// Where replay weights come from.
#[derive(Debug, Clone)]
pub enum Replay {
    /// The same weights every step.
    Fixed(Vec<f64>),
    /// The evidence weights recorded at each step.
    Logged,
    /// Per-step trading weights, with the analysts outside the coalition (bit i clear in
    /// the mask) at 0: their votes no longer count (Shapley coalitions).
    Coalition(u32),
}

impl VoteReplay {
    /// A replay named `name` of the votes of `n_agents` analysts with `weights`; the cost
    /// gate (when `cfg` asks for it) reads the remembered mean outcomes of the evidence
    /// log, as the live run did.
    pub fn new(name: &str, n_agents: usize, weights: Replay, cfg: ComposerConfig, costs: CostConfig) -> Self {
        VoteReplay { name: name.into(), weights, composer: None, cfg, costs, n_agents }
    }

    /// The replay's name (its run's strategy name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This replay as a strategy over `logs`.
    pub fn over<'a>(&'a mut self, logs: ReplayLogs<'a>) -> Replaying<'a> {
        Replaying { replay: self, logs }
    }
}

/// A [`VoteReplay`] reading `logs`: the strategy the engine runs.
pub struct Replaying<'a> {
    replay: &'a mut VoteReplay,
    logs: ReplayLogs<'a>,
}

impl Strategy for Replaying<'_> {
    type Error = std::convert::Infallible;

    fn name(&self) -> String {
        self.replay.name.clone()
    }

    fn on_start(&mut self, universe: &Universe) -> Result<(), Self::Error> {
        let r = &mut *self.replay;
        r.composer = Some(Composer::new(r.cfg, vec![String::new(); r.n_agents], universe.symbols.len()));
        Ok(())
    }

    fn on_step(
        &mut self,
        step: &Step<'_>,
        portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), Self::Error> {
        let (r, logs, k) = (&mut *self.replay, self.logs, step.index);
        let votes = logs.votes.step(k);
        let w: Vec<f64> = match &r.weights {
            Replay::Fixed(w) => w.clone(),
            Replay::Logged => logs.evidence.step(k).iter().map(|x| x.weight).collect(),
            Replay::Coalition(mask) => logs
                .trading
                .get(k)
                .map(|w| w.iter().enumerate().map(|(i, x)| if mask & (1 << i) != 0 { *x } else { 0.0 }).collect())
                .unwrap_or_default(),
        };
        let m: Vec<f64> = logs.evidence.step(k).iter().map(|x| x.mean_outcome).collect();
        let book = Book {
            equity: portfolio.equity,
            positions: portfolio.positions,
            prices: portfolio.prices,
            as_traded: portfolio.as_traded,
            costs: &r.costs,
        };
        if let Some(c) = &mut r.composer {
            for (s, x) in c.targets(votes, &w, &m, Some(&book)) {
                targets.set(s, x);
            }
        }
        Ok(())
    }
}
