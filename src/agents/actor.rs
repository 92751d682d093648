//! The actix actor around an [`Analyst`], and the plain function it runs per step.
//!
//! One message, [`Perceive`]: one step's bars and the memory snapshot of the step,
//! answered with the analyst's votes. One message per analyst per step: every message to
//! another arbiter is a wake-up system call (measured ~5 µs each on this VM). The outcomes
//! of the analyst's earlier votes are recorded by the learning loop
//! (`engine::graph::learning`) before the step is sent.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use super::news::Headline;
use super::{Analyst, Extras, MemoryUse, Perception, Recalled, Vote};
use crate::features::Features;
use crate::market::{SymbolId, Ts};
use crate::memory::{MemoryError, MemoryStore, Query, Snapshot};

/// One bar as the analysts receive it.
#[derive(Debug, Clone)]
pub(crate) struct StepBar {
    pub(crate) symbol: SymbolId,
    pub(crate) symbol_name: Arc<str>,
    pub(crate) features: Features,
    /// The names of the data's extra columns (shared by every bar of a run).
    pub(crate) extra_names: Arc<[String]>,
    /// This bar's extra column values, in `extra_names` order (NaN where missing).
    pub(crate) extra_values: Vec<f64>,
    pub(crate) news: Vec<Headline>,
}

/// A step's bars and memory snapshot; answered with votes (or the memory error that
/// stopped the analyst).
#[derive(Message)]
#[rtype(result = "Result<Vec<Vote>, MemoryError>")]
pub(crate) struct Perceive {
    pub ts: Ts,
    pub bars: Arc<Vec<StepBar>>,
    pub snapshot: Arc<Snapshot>,
    /// False for the memory ablation: the analysts vote on perception alone.
    pub recall: bool,
}

/// Runs one analyst over one step: perceive each bar, write, recall, decide.
pub(crate) fn run_step(
    analyst: &mut dyn Analyst,
    index: usize,
    store: &MemoryStore,
    snap: &Snapshot,
    ts: Ts,
    bars: &[StepBar],
    recall: bool,
) -> Result<Vec<Vote>, MemoryError> {
    let mut votes = Vec::with_capacity(bars.len());
    for b in bars {
        let pc = Perception {
            symbol: &b.symbol_name,
            sym: b.symbol,
            features: &b.features,
            extras: Extras::new(&b.extra_names, &b.extra_values),
            news: &b.news,
        };
        let proposal = analyst.perceive(&pc);
        for w in &proposal.writes {
            store.insert(w.clone())?;
        }
        let recalled: Vec<Recalled> = match proposal.recall.as_ref().filter(|_| recall) {
            None => Vec::new(),
            Some(spec) => {
                let q = Query {
                    text: Some(spec.text.clone()),
                    vector: Some(b.features.state.to_vec()),
                    agent: spec.own_only.then(|| analyst.name().to_string()),
                    symbol: Some(b.symbol_name.to_string()),
                    kind: spec.kind,
                    layer: None,
                    from: None,
                    at: ts,
                    k: spec.k,
                    probe: None,
                };
                store.note_query(&q);
                snap.recall(&q)?
                    .into_iter()
                    .filter_map(|h| {
                        let it = snap.item(h.id, ts)?;
                        Some(Recalled {
                            id: h.id,
                            score: h.score,
                            kind: it.kind,
                            agent: it.agent,
                            outcome: it.outcome,
                            text: it.text,
                            layer: it.layer,
                        })
                    })
                    .collect()
            }
        };
        let d = analyst.decide(&proposal, &recalled);
        votes.push(Vote {
            ts,
            symbol: b.symbol,
            agent: index,
            direction: d.direction,
            confidence: d.confidence,
            rationale: d.rationale,
            memory_ids: d.memory_ids,
            memory: MemoryUse::of(&recalled),
        });
    }
    Ok(votes)
}

/// The actor: one analyst, the shared store, its index in the roster.
pub(crate) struct AnalystActor {
    pub analyst: Box<dyn Analyst>,
    pub index: usize,
    pub store: Arc<MemoryStore>,
}

impl Actor for AnalystActor {
    type Context = Context<Self>;
}

impl Handler<Perceive> for AnalystActor {
    type Result = Result<Vec<Vote>, MemoryError>;

    fn handle(&mut self, msg: Perceive, _ctx: &mut Context<Self>) -> Self::Result {
        run_step(self.analyst.as_mut(), self.index, &self.store, &msg.snapshot, msg.ts, &msg.bars, msg.recall)
    }
}
