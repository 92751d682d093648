//! Analysts: kinds of market reading, each a plain struct implementing [`Analyst`] (pure
//! logic, unit-tested without a runtime) that an actix actor wraps (`actor`).
//!
//! The life of one bar for an analyst:
//! 1. `perceive` updates its own streaming state from the bar's [`Features`] (computed once
//!    per bar by the engine), returns memories to write (observations, patterns, regime
//!    changes, news) and a [`Proposal`]: a preliminary vote and, when the situation calls for
//!    it, a recall (text + the market-state vector, as of the bar);
//! 2. the actor runs the recall on the memory snapshot of the step;
//! 3. `decide` turns the proposal and the recalled memories into a [`Decision`], the
//!    [`Vote`]: past outcomes of similar situations scale the vote up or down (`evidence`).
//!
//! Memories carry the bar's start time as event time; everything written during a step
//! becomes visible at the next (the store publishes once per step).
//!
//! What every analyst shares lives here: [`Core`] (name, horizon, recall size, from the
//! profile, with helpers for memories and recalls), [`PerSymbol`] (state per symbol),
//! [`Extras`] (a bar's extra data columns). The kinds are in [`kinds`], each in its own
//! file, built by name through the [`Registry`]; `agents/README.md` has the recipe for
//! adding one.

pub(crate) mod actor;
pub mod evidence;
pub mod kinds;
pub mod news;
mod profile;

use std::sync::Arc;

use serde::Serialize;

use crate::features::Features;
use crate::market::{SymbolId, Ts};
use crate::memory::{ItemId, Kind, Layer, NewItem};

pub use kinds::{Builder, Registry};
pub use profile::{Profile, ProfileError, load_profiles, parse_profile};

/// A bar's extra numeric columns (beyond OHLCV), by name: option flow (`net_gamma`,
/// `dealer_flow`, read by Hedge) or anything else a data file carries. Any analyst can read
/// any column; a missing column, or a row the source had no value for, is `None` / NaN.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    names: &'a [String],
    values: &'a [f64],
}

impl<'a> Extras<'a> {
    /// The view of one bar: `values[i]` is column `names[i]`.
    pub fn new(names: &'a [String], values: &'a [f64]) -> Self {
        Extras { names, values }
    }

    /// The bar's value of column `name` (NaN where the source had none), or `None` if the
    /// data has no such column.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names.iter().position(|n| n == name).and_then(|i| self.values.get(i).copied())
    }

    /// The column names.
    pub fn names(&self) -> &'a [String] {
        self.names
    }
}

/// What an analyst sees of one closed bar.
#[derive(Debug, Clone)]
pub struct Perception<'a> {
    /// Symbol name, e.g. `SPY` (the memory's symbol).
    pub symbol: &'a str,
    /// Dense symbol id: index into the run's symbol list.
    pub sym: SymbolId,
    /// The bar and its streaming features, computed once per bar by the engine.
    pub features: &'a Features,
    /// The bar's extra data columns.
    pub extras: Extras<'a>,
    /// Headlines for this symbol published since the previous bar (up to this bar's close).
    pub news: &'a [news::Headline],
}

/// What every analyst has from its profile: its name (its memory agent name), the bars a
/// vote is held before it is judged, and how many memories a recall asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// Analyst name from the profile; also its memory agent name.
    pub name: String,
    /// Bars a vote is held before it is judged (profile `horizon`).
    pub horizon: usize,
    /// Memories a recall asks for, top-k (profile `recall_k`).
    pub recall_k: usize,
}

impl Core {
    /// The core a profile describes.
    pub fn new(profile: &Profile) -> Self {
        Core { name: profile.name.clone(), horizon: profile.horizon, recall_k: profile.recall_k }
    }

    /// A memory of this analyst about the perceived bar: its event time, symbol and
    /// market-state vector, importance clamped to 0–100.
    pub fn memory(&self, p: &Perception<'_>, kind: Kind, text: String, importance: f64) -> NewItem {
        NewItem::new(p.features.bar.ts, &self.name, p.symbol, kind, text)
            .with_vector(p.features.state.to_vec())
            .with_importance(importance.clamp(0.0, 100.0))
    }

    /// A recall of this analyst's own outcomes in situations like `text` (the evidence
    /// `decide` weighs by default).
    pub fn recall_outcomes(&self, text: String) -> RecallSpec {
        RecallSpec { text, own_only: true, kind: Some(Kind::Outcome), k: self.recall_k }
    }
}

/// Per-symbol state, made from a template on a symbol's first bar (symbol ids are dense).
#[derive(Debug, Clone)]
pub struct PerSymbol<T> {
    init: T,
    states: Vec<T>,
}

impl<T: Clone> PerSymbol<T> {
    /// Every symbol starts from `init`.
    pub fn new(init: T) -> Self {
        PerSymbol { init, states: Vec::new() }
    }

    /// The state of `sym`, created on first use.
    pub fn get(&mut self, sym: SymbolId) -> &mut T {
        let i = sym as usize;
        if self.states.len() <= i {
            self.states.resize(i + 1, self.init.clone());
        }
        &mut self.states[i]
    }

    /// The state of `sym` if it has one.
    pub fn peek(&self, sym: SymbolId) -> Option<&T> {
        self.states.get(sym as usize)
    }
}

/// A recall an analyst asks for before deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallSpec {
    /// Query text for BM25, searched together with the bar's market-state vector.
    pub text: String,
    /// Restrict to this analyst's own memories.
    pub own_only: bool,
    /// Restrict to one kind (e.g. outcomes of earlier votes).
    pub kind: Option<Kind>,
    /// Memories to return (top-k).
    pub k: usize,
}

/// A preliminary vote plus what to remember and what to recall.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// In [-1, 1].
    pub direction: f64,
    /// In [0, 1].
    pub confidence: f64,
    /// Why, in plain words (carried into the vote).
    pub rationale: String,
    /// Memories to insert into the shared store (visible from the next step).
    pub writes: Vec<NewItem>,
    /// A recall to run before `decide`; `None` decides on the proposal alone.
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
    /// Id of the memory item.
    pub id: ItemId,
    /// Recall score: w_rel·relevance + w_rec·recency + w_imp·importance/100.
    pub score: f64,
    /// What the memory is (observation, pattern, outcome, ...).
    pub kind: Kind,
    /// Name of the analyst that wrote it.
    pub agent: String,
    /// The realised (direction-signed) return of an outcome memory.
    pub outcome: Option<f64>,
    /// The memory's text.
    pub text: Arc<str>,
    /// The layer the memory was in when it was recalled.
    pub layer: Layer,
}

/// What a vote's recall brought: the outcome evidence (see [`evidence`]) and the kinds and
/// layers of the memories recalled. Kept with the vote so the attribution can ask whether
/// votes whose evidence agreed with them won more often, and what winning votes used.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct MemoryUse {
    /// Outcome evidence `e` in [-1, 1]: the score-weighted share of wins among the recalled
    /// outcome memories (0 without any).
    pub evidence: f64,
    /// Recalled outcome memories with a result (`n` of the evidence).
    pub outcomes: u32,
    /// Recalled memories per kind, in [`Kind::ALL`] order.
    pub kinds: [u16; 7],
    /// Recalled memories per layer, in [`Layer::ALL`] order.
    pub layers: [u16; 4],
}

impl MemoryUse {
    /// The summary of one vote's recalled memories.
    pub fn of(recalled: &[Recalled]) -> Self {
        let (evidence, n) = evidence::outcome_evidence(recalled);
        let mut u = MemoryUse { evidence, outcomes: n as u32, ..Default::default() };
        for r in recalled {
            let k = Kind::ALL.iter().position(|&k| k == r.kind).unwrap_or(0);
            u.kinds[k] = u.kinds[k].saturating_add(1);
            u.layers[r.layer.index()] = u.layers[r.layer.index()].saturating_add(1);
        }
        u
    }

    /// How the evidence stood to the vote. An outcome memory holds `sign(direction) ×
    /// return` of an earlier vote — positive when that vote won, long or short — so `e > 0`
    /// says similar votes won and backs this one (the evidence scales it up, see
    /// [`evidence`]), `e < 0` says they lost and argues against it (scales it down), and no
    /// outcome memories or `e = 0` is no evidence.
    pub fn stance(&self) -> Stance {
        match crate::num::sign(self.evidence) {
            _ if self.outcomes == 0 => Stance::None,
            s if s > 0.0 => Stance::Agree,
            s if s < 0.0 => Stance::Disagree,
            _ => Stance::None,
        }
    }
}

/// How a vote's recalled outcome evidence stood to the vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    /// Similar earlier votes mostly won: the evidence backed the vote.
    Agree,
    /// Similar earlier votes mostly lost: the evidence argued against it.
    Disagree,
    /// No evidence.
    None,
}

/// An analyst's vote on one symbol at one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vote {
    /// Bar start of the step the vote was made at (after its close).
    pub ts: Ts,
    /// Dense symbol id of the symbol voted on.
    pub symbol: SymbolId,
    /// Index of the analyst in the run's roster.
    pub agent: usize,
    /// In [-1, 1]: short to long.
    pub direction: f64,
    /// In [0, 1].
    pub confidence: f64,
    /// Why, in plain words (stored in `votes.parquet`).
    pub rationale: String,
    /// Ids of the memories that shaped the vote.
    pub memory_ids: Vec<ItemId>,
    /// What the vote's recall brought (evidence, kinds, layers).
    pub memory: MemoryUse,
}

impl Vote {
    /// A vote with no rationale and no memories (replays, tests).
    pub fn new(ts: Ts, symbol: SymbolId, agent: usize, direction: f64, confidence: f64) -> Self {
        Vote {
            ts,
            symbol,
            agent,
            direction,
            confidence,
            rationale: String::new(),
            memory_ids: Vec::new(),
            memory: MemoryUse::default(),
        }
    }
}

/// What an analyst decides for one bar: the vote's direction and confidence, why, and the
/// memories that shaped it (reinforced later by the vote's outcome).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// In [-1, 1]: short to long.
    pub direction: f64,
    /// In [0, 1].
    pub confidence: f64,
    /// Why, in plain words.
    pub rationale: String,
    /// Ids of the recalled memories that shaped it (reinforced by the vote's outcome).
    pub memory_ids: Vec<ItemId>,
}

/// Pure analyst logic.
pub trait Analyst: Send {
    /// Name, horizon and recall size (from the profile).
    fn core(&self) -> &Core;

    /// The analyst's name (its memory agent name).
    fn name(&self) -> &str {
        &self.core().name
    }

    /// Bars a vote is held for before it is judged.
    fn horizon(&self) -> usize {
        self.core().horizon
    }

    /// Updates state with a closed bar; proposes a vote, writes, and a recall.
    fn perceive(&mut self, p: &Perception<'_>) -> Proposal;

    /// Turns a proposal and its recalled memories into the decision. The default weighs
    /// past outcomes (see `evidence`).
    fn decide(&mut self, proposal: &Proposal, recalled: &[Recalled]) -> Decision {
        evidence::apply(proposal, recalled)
    }
}

#[cfg(test)]
mod tests;
