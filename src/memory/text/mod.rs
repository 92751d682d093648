//! Full-text side: a tantivy index (BM25) over item texts, plus the searchable tail.
//!
//! - [`analyzer`]: words, lower-cased, English Snowball stems ("springs" finds "spring"),
//!   the one analysis shared by the index, the tail and queries;
//! - [`index`]: the schema, the writer, batched commits with synchronous merges;
//! - [`tail`]: items published since the last commit (or every live item, after a
//!   compaction that left fewer than `commit_every`), searchable at once; BM25 statistics
//!   count the index and the tail together, so results do not depend on commits;
//! - [`postings`]: per committed segment, the columns, filter bitsets and frequent terms'
//!   postings that every query reuses;
//! - [`search`]: BM25 over term-count layers, scored by cells best bound first.
//!
//! Immutable filters (agent, symbol, kind, time range) run inside the search (see
//! [`TextView::search_committed`] and [`TextView::search_tail`]); mutable ones (layer,
//! alive) are applied to the candidates afterwards. Without an id term there are no
//! per-document deletes: cleaned-up items stay in the index, filtered out by their state,
//! until compaction (at a publish, once dead slots are at least as many as live items and
//! number at least 1,024; see `store`) rebuilds the index, or the tail, from the live
//! items.

pub(super) mod analyzer;
pub(super) mod index;
pub(super) mod postings;
pub(super) mod search;
pub(super) mod tail;

pub(super) use analyzer::Analyzer;
pub(super) use index::{Fields, TextIndex, committed_ids, deterministic_names};
pub(super) use postings::Committed;
pub(super) use search::{TextFilter, TextView};
pub(super) use tail::TailBatch;
