//! Memory items: what is remembered, by whom, about what, when.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::market::Ts;

/// A memory's id: assigned by the store in publish order, increasing, never reused.
pub type ItemId = u64;

/// What kind of memory an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something an analyst noticed about a bar (a thin-liquidity spike, an RSI extreme).
    Observation,
    /// A trading signal as such.
    Signal,
    /// A chart or flow pattern (a spring, a pin or squeeze episode).
    Pattern,
    /// A regime change (the Markov analyst's states).
    Regime,
    /// How one of the analyst's votes resolved (written by the learning loop).
    Outcome,
    /// A headline.
    News,
    /// A reflection: a summary over many memories.
    Reflection,
}

impl Kind {
    /// All kinds, in order.
    pub const ALL: [Kind; 7] =
        [Kind::Observation, Kind::Signal, Kind::Pattern, Kind::Regime, Kind::Outcome, Kind::News, Kind::Reflection];

    /// The snake_case name (as in JSON and the text index).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Observation => "observation",
            Kind::Signal => "signal",
            Kind::Pattern => "pattern",
            Kind::Regime => "regime",
            Kind::Outcome => "outcome",
            Kind::News => "news",
            Kind::Reflection => "reflection",
        }
    }
}

/// The memory layer an item lives in (FinMem's layered memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Fresh memories: fast recency decay (hours).
    Short,
    /// Reinforced memories: days.
    Mid,
    /// Memories that kept proving useful: weeks.
    Long,
    /// Reflections: months.
    Reflection,
}

impl Layer {
    /// All layers, in order.
    pub const ALL: [Layer; 4] = [Layer::Short, Layer::Mid, Layer::Long, Layer::Reflection];

    /// Index 0..4 for per-layer parameter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Short => "short",
            Layer::Mid => "mid",
            Layer::Long => "long",
            Layer::Reflection => "reflection",
        }
    }

    /// The layer from its index.
    pub fn from_index(i: u8) -> Layer {
        Layer::ALL[(i as usize).min(3)]
    }
}

/// An item to remember, as a writer gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    /// Event time (bar time) the memory is about; never wall-clock.
    pub time: Ts,
    /// Name of the analyst (or other writer) the memory belongs to.
    pub agent: String,
    /// Symbol the memory is about, e.g. `SPY`.
    pub symbol: String,
    /// What the memory is (observation, pattern, outcome, ...); recalls can filter on it.
    pub kind: Kind,
    /// Initial layer (usually `short`; reflections go to `reflection`).
    pub layer: Layer,
    /// The text, indexed for BM25 search.
    pub text: String,
    /// The market-state vector (or a text embedding): the store's dimension, or empty.
    pub vector: Vec<f32>,
    /// Initial importance on a 0–100 scale.
    pub importance: f64,
    /// Realised return, for `outcome` items (win when > 0).
    pub outcome: Option<f64>,
    /// Free metadata.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// An id from the writer's own system (kept, not used for lookups).
    pub source_id: Option<String>,
}

impl NewItem {
    /// A short-layer item of importance 50 with no vector, outcome or metadata.
    pub fn new(time: Ts, agent: &str, symbol: &str, kind: Kind, text: impl Into<String>) -> Self {
        NewItem {
            time,
            agent: agent.to_string(),
            symbol: symbol.to_string(),
            kind,
            layer: if kind == Kind::Reflection { Layer::Reflection } else { Layer::Short },
            text: text.into(),
            vector: Vec::new(),
            importance: 50.0,
            outcome: None,
            metadata: BTreeMap::new(),
            source_id: None,
        }
    }

    /// Sets the vector.
    pub fn with_vector(mut self, v: Vec<f32>) -> Self {
        self.vector = v;
        self
    }

    /// Sets the initial importance.
    pub fn with_importance(mut self, importance: f64) -> Self {
        self.importance = importance;
        self
    }

    /// Sets the realised return of an outcome.
    pub fn with_outcome(mut self, ret: f64) -> Self {
        self.outcome = Some(ret);
        self
    }
}

/// Rarely-read parts of an item, kept out of the scanned columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ItemExtra {
    pub outcome: Option<f64>,
    pub metadata: BTreeMap<String, serde_json::Value>,
    pub source_id: Option<String>,
    /// The vector as given (the scanned copy is normalised).
    pub raw_vector: Vec<f32>,
}

/// A stored item as a reader sees it at some time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryItem {
    /// Id assigned by the store in publish order.
    pub id: ItemId,
    /// Event time the memory is about, nanoseconds since the Unix epoch.
    pub time: Ts,
    /// Name of the analyst (or other writer) the memory belongs to.
    pub agent: String,
    /// Symbol the memory is about.
    pub symbol: String,
    /// What the memory is (observation, pattern, outcome, ...).
    pub kind: Kind,
    /// Layer it lives in now (after promotions and demotions).
    pub layer: Layer,
    /// The memory's text.
    pub text: Arc<str>,
    /// The vector as written (not normalised); empty if none.
    pub vector: Vec<f32>,
    /// Importance (0–100), decayed to the reading time.
    pub importance: f64,
    /// Recency (0–1) at the reading time.
    pub recency: f64,
    /// Times the item was reinforced by an outcome.
    pub access_count: u32,
    /// Realised return, for `outcome` items (win when > 0).
    pub outcome: Option<f64>,
    /// Free metadata, as written.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// An id from the writer's own system, as written.
    pub source_id: Option<String>,
}
