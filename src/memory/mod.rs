//! The shared, decaying memory: one store every analyst writes to and recalls from.
//!
//! - `item`: what a memory is (kind, layer, text, vector, importance, outcome, metadata);
//! - `store`: staging writes, `publish` per step, maintenance (promotion, decay, cleanup,
//!   capacity, compaction);
//! - `snapshot`: the immutable view recalls run on; `rank`: the one score formula;
//! - `text`: tantivy BM25 plus the searchable uncommitted tail; `vector`, `ivf`: cosine
//!   search, flat then inverted-file; `table`: copy-on-write columns;
//! - `aggregates`: decayed win/loss per agent (and symbol) for the composer;
//! - `persist`: checkpoints; `jsonl`: the CLI's item and query files;
//! - `cosine`: unit vectors and their dot product, shared by the table and the scans.
//!
//! The numbers (every size, filtered and not, insert, bytes per item, the runs behind
//! them) are in `BENCHMARKS.md`. The one to remember: a hybrid top-10 recall over 100k
//! items takes ~100–140 µs at p50 and ~150–210 µs at p99 on the 2-vCPU development VM.
//!
//! What drove the design:
//! - vector search is an exact scan below 50k items and IVF-SQ8 above (`ivf`): 100k
//!   16-d f32 vectors took 660 µs to scan; the probe reads ~7.6k one-byte-per-dimension
//!   codes in dimension-major blocks of 8;
//! - text search counts term matches with bitsets and scores only the documents that can
//!   still enter the top (`text::TextView::search_committed`), because tantivy's block-max
//!   WAND took 500 µs on these short, similar texts and scoring every posting 190 µs;
//! - the mutable state (alive, layer) is read for final candidates only, and top-k is a
//!   buffer cut back with `select_nth_unstable` (`vector::TopK`): both were cache misses
//!   or heap sifts per candidate;
//! - readers use snapshots so a step's recalls never see the step's writes; commits are
//!   batched (a tantivy commit costs milliseconds) with the uncommitted tail searchable;
//! - frequent terms' postings are cached per segment as bitsets, and documents holding two
//!   or more query terms are scored by cells (term count × length class) best bound first
//!   (`text`): decoding ~17k postings per query had become the largest cost;
//! - filters on agent, symbol and kind are masks over eight items at a time, with no
//!   branches (`ivf::List::tags`, `vector::VecFilter::columns_mask`): most items fail them,
//!   unpredictably, and the branches were a third of a filtered vector search.
//!
//! Targets (p99 ≤ 250 µs at 100k, ≤ 2 ms at 1M, insert ≥ 200k items/s batched): see
//! `BENCHMARKS.md` for how they hold.

mod aggregates;
mod cosine;
mod error;
mod item;
mod ivf;
pub mod jsonl;
mod params;
mod persist;
mod rank;
mod snapshot;
mod store;
mod table;
#[cfg(test)]
mod testkit;
mod text;
mod vector;

pub use aggregates::{AgentStats, Aggregates};
pub use error::{MemoryError, Result};
pub use item::{ItemId, Kind, Layer, MemoryItem, NewItem};
pub use params::{LayerParams, MemoryParams};
pub use rank::ScoreParts;
pub use snapshot::{Counts, Hit, Query, Snapshot};
pub use store::{MemoryStore, PublishReport, Recording};

/// The build of the memory's hot loops (text search, vector scans) in this process:
/// `"AVX2"` where the CPU has AVX2 and POPCNT, else `"baseline"`; `QUORUM_SIMD=baseline`
/// forces the baseline (both give the same results, see `simd`).
pub fn simd_build() -> &'static str {
    match crate::simd::active() {
        crate::simd::Isa::Avx2 => "AVX2",
        crate::simd::Isa::Baseline => "baseline",
    }
}
