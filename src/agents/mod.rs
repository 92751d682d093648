//! Analysts: five kinds of market reading, each a plain struct implementing [`Analyst`]
//! (pure logic, unit-tested without a runtime) that an actix actor wraps (`actor`).
//!
//! The life of one bar for an analyst:
//! 1. `perceive` updates its own streaming state from the bar's [`Features`] (computed once
//!    per bar by the engine), returns memories to write (observations, patterns, regime
//!    changes, news) and a [`Proposal`]: a preliminary vote and, when the situation calls for
//!    it, a recall (text + the market-state vector, as of the bar);
//! 2. the actor runs the recall on the memory snapshot of the step;
//! 3. `decide` turns the proposal and the recalled memories into the [`Vote`]: past
//!    outcomes of similar situations scale the vote up or down (see `evidence`).
//!
//! Memories carry the bar's start time as event time; everything written during a step
//! becomes visible at the next (the store publishes once per step).

pub mod actor;
pub mod evidence;
pub mod hedge;
pub mod liquidity;
pub mod markov;
pub mod news;
pub mod profile;
pub mod sentiment;
pub mod wyckoff;

use std::sync::Arc;

use serde::Serialize;

use crate::features::Features;
use crate::market::{SymbolId, Ts};
use crate::memory::{ItemId, Kind, NewItem};

pub use profile::{AnalystKind, Profile, load_profiles};

/// What an analyst sees of one closed bar.
#[derive(Debug, Clone)]
pub struct Perception<'a> {
    pub symbol: &'a str,
    pub sym: SymbolId,
    pub features: &'a Features,
    /// Option-flow columns when the data has them (`net_gamma`, `dealer_flow`), else NaN.
    pub net_gamma: f64,
    pub dealer_flow: f64,
    /// Headlines for this symbol published since the previous bar (up to this bar's close).
    pub news: &'a [news::Headline],
}

/// A recall an analyst asks for before deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallSpec {
    pub text: String,
    /// Restrict to this analyst's own memories.
    pub own_only: bool,
    /// Restrict to one kind (e.g. outcomes of earlier votes).
    pub kind: Option<Kind>,
    pub k: usize,
}

/// A preliminary vote plus what to remember and what to recall.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// In [-1, 1].
    pub direction: f64,
    /// In [0, 1].
    pub confidence: f64,
    pub rationale: String,
    pub writes: Vec<NewItem>,
    pub recall: Option<RecallSpec>,
}

impl Proposal {
    /// A neutral proposal: no vote, nothing to write or recall.
    pub fn neutral(rationale: &str) -> Self {
        Proposal { direction: 0.0, confidence: 0.0, rationale: rationale.into(), writes: Vec::new(), recall: None }
    }
}

/// A recalled memory as an analyst uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recalled {
    pub id: ItemId,
    pub score: f64,
    pub kind: Kind,
    pub agent: String,
    /// The realised (direction-signed) return of an outcome memory.
    pub outcome: Option<f64>,
    pub text: Arc<str>,
}

/// An analyst's vote on one symbol at one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vote {
    /// Bar start of the step the vote was made at (after its close).
    pub ts: Ts,
    pub symbol: SymbolId,
    /// Index of the analyst in the run's roster.
    pub agent: usize,
    /// In [-1, 1]: short to long.
    pub direction: f64,
    /// In [0, 1].
    pub confidence: f64,
    pub rationale: String,
    /// Ids of the memories that shaped the vote.
    pub memory_ids: Vec<ItemId>,
}

/// Pure analyst logic.
pub trait Analyst: Send {
    /// The analyst's name (its memory agent name).
    fn name(&self) -> &str;

    /// Bars a vote is held for before it is judged.
    fn horizon(&self) -> usize;

    /// Updates state with a closed bar; proposes a vote, writes, and a recall.
    fn perceive(&mut self, p: &Perception<'_>) -> Proposal;

    /// Turns a proposal and its recalled memories into a vote (direction, confidence,
    /// rationale, memory ids). The default weighs past outcomes (see `evidence`).
    fn decide(&mut self, proposal: &Proposal, recalled: &[Recalled]) -> (f64, f64, String, Vec<ItemId>) {
        evidence::apply(proposal, recalled)
    }
}

/// A memory written by an analyst about a bar.
pub fn memory(analyst: &str, p: &Perception<'_>, kind: Kind, text: String, importance: f64) -> NewItem {
    NewItem::new(p.features.bar.ts, analyst, p.symbol, kind, text)
        .with_vector(p.features.state.to_vec())
        .with_importance(importance.clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests;
