//! Vote replays: the baselines of a graph run, on exactly the votes the graph produced.
//!
//! The analysts do not depend on the composer (they see bars and memory, not positions),
//! so equal weights, each analyst alone, or the composed weights as recorded can be
//! replayed through the composer's signal and no-trade band without re-running the graph.

use std::sync::Arc;

use crate::composer::{Book, Composer, ComposerConfig};
use crate::portfolio::CostConfig;
use crate::run::{VoteLog, WeightLog};
use crate::strategy::{PortfolioView, Step, Strategy, Targets, Universe};

/// Replays a recorded vote stream through fixed or recorded weights.
pub struct VoteReplay {
    name: String,
    votes: Arc<VoteLog>,
    weights: Replay,
    /// The run's evidence log: the remembered mean outcomes for the cost gate.
    evidence: Arc<WeightLog>,
    composer: Option<Composer>,
    cfg: ComposerConfig,
    costs: CostConfig,
    n_agents: usize,
}

/// Where replay weights come from.
pub enum Replay {
    /// The same weights every step.
    Fixed(Vec<f64>),
    /// The weights recorded at each step.
    Logged(Arc<WeightLog>),
    /// Per-step trading weights, with the analysts outside the coalition (bit i clear in
    /// the mask) at 0: their votes no longer count (Shapley coalitions).
    Coalition(Arc<Vec<Vec<f64>>>, u32),
}

impl VoteReplay {
    /// A replay named `name` of `votes` with `weights`; the cost gate (when `cfg` asks for
    /// it) reads the remembered mean outcomes logged in `evidence`, as the live run did.
    pub fn new(
        name: &str,
        votes: Arc<VoteLog>,
        weights: Replay,
        evidence: Arc<WeightLog>,
        cfg: ComposerConfig,
        costs: CostConfig,
    ) -> Self {
        let n_agents = evidence.agents;
        VoteReplay { name: name.into(), votes, weights, evidence, composer: None, cfg, costs, n_agents }
    }
}

impl Strategy for VoteReplay {
    type Error = std::convert::Infallible;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn on_start(&mut self, universe: &Universe) -> Result<(), Self::Error> {
        self.composer = Some(Composer::new(self.cfg, vec![String::new(); self.n_agents], universe.symbols.len()));
        Ok(())
    }

    fn on_step(
        &mut self,
        step: &Step<'_>,
        portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), Self::Error> {
        let votes = self.votes.step(step.index);
        let w: Vec<f64> = match &self.weights {
            Replay::Fixed(w) => w.clone(),
            Replay::Logged(log) => log.step(step.index).iter().map(|x| x.weight).collect(),
            Replay::Coalition(w, mask) => w
                .get(step.index)
                .map(|w| w.iter().enumerate().map(|(i, x)| if mask & (1 << i) != 0 { *x } else { 0.0 }).collect())
                .unwrap_or_default(),
        };
        let m: Vec<f64> = self.evidence.step(step.index).iter().map(|x| x.mean_outcome).collect();
        let book = Book {
            equity: portfolio.equity,
            positions: portfolio.positions,
            prices: portfolio.prices,
            as_traded: portfolio.as_traded,
            costs: &self.costs,
        };
        if let Some(c) = &mut self.composer {
            for (s, x) in c.targets(votes, &w, &m, Some(&book)) {
                targets.set(s, x);
            }
        }
        Ok(())
    }
}
