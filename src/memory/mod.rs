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
//! (benchmarks section). Measured on the 2-vCPU development machine (benches/memory_*.rs,
//! synthetic items of 8–14 words from a 240-word vocabulary, 16-dimensional vectors):
//!
//! | measure | 1k | 10k | 100k | 1M |
//! |---|---|---|---|---|
//! | hybrid top-10 recall p50 / p99 (µs), no filter | 57 / 76 | 165 / 200 | 351 / 476 | 2,051 / 3,438 |
//! | same, agent + symbol filtered | 30 / 44 | 193 / 232 | 690 / 806 | 3,575 / 3,982 |
//! | bytes per item (heap, text index included) | 3,020 | 762 | 619 | 632 |
//!
//! Insert (stage + publish + commit, batched): 206k items/s. What drove the design: vector
//! search switches from an exact scan to IVF at 50k items because a scan of 100k 16-d
//! vectors took 660 µs against 85 µs for the IVF probe; text search is term-at-a-time over
//! tantivy's postings because tantivy's block-max WAND took 500 µs on these short, similar
//! texts; readers use snapshots so a step's recalls never see the step's writes; commits
//! are batched (a tantivy commit costs milliseconds) with the uncommitted tail searchable.
//! The latency targets (p99 ≤ 250 µs at 100k, ≤ 2 ms at 1M) are not met yet: broad queries
//! read every posting of their terms (2–8% of all items each here).

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
