//! The shared, decaying memory: one store every analyst writes to and recalls from.
//!
//! - `item`: what a memory is (kind, layer, text, vector, importance, outcome, metadata);
//! - `store`: staging writes, `publish` per step, maintenance (promotion, decay, cleanup,
//!   capacity, compaction);
//! - `snapshot`: the immutable view recalls run on; `rank`: the one score formula;
//! - `text`: tantivy BM25 plus the searchable uncommitted tail; `vector`, `ivf`: cosine
//!   search, flat then inverted-file; `table`: copy-on-write columns;
//! - `aggregates`: decayed win/loss per agent (and symbol) for the composer;
//! - `persist`: checkpoints; `jsonl`: the CLI's item and query files.
//!
//! Design choices and the numbers behind them are in each module's docs and in the README
//! (benchmarks section).

pub mod aggregates;
pub mod error;
pub mod item;
pub mod ivf;
pub mod jsonl;
pub mod params;
pub mod persist;
pub mod rank;
pub mod snapshot;
pub mod store;
pub mod table;
pub mod text;
pub mod vector;

pub use aggregates::AgentStats;
pub use error::{MemoryError, Result};
pub use item::{ItemId, Kind, Layer, MemoryItem, NewItem};
pub use params::MemoryParams;
pub use rank::ScoreParts;
pub use snapshot::{Hit, Query, Snapshot};
pub use store::{MemoryStore, PublishReport};
