//! The searchable tail: items published since the last commit.
//!
//! tantivy commits are expensive (a segment flush and a reader reload, ~ms), so items are
//! committed in batches of `commit_every`. Items published since the last commit form the
//! tail: small immutable batches of documents, scored here with tantivy's
//! own `Bm25Weight` against the statistics of every stored slot, committed and tail
//! ([`TextView::stats`]), so visibility is exact at every publish and a document's score is
//! the same before and after the commit that moves it into the index. Batches are merged
//! like a binary counter ([`TailBatch::push_into`]).
//!
//! A batch keeps its documents (each a run of sorted term keys and frequencies in two
//! arrays the batch's documents share), sorted by agent and symbol, and how many documents
//! hold each term, not inverted lists: a search finds the run of documents its agent and
//! symbol filters allow by binary search, and looks its few terms up in each. The analysts
//! always filter (their own memories of one symbol), so inverted lists were only ever
//! merged, never read, on their recalls, and merging them was the largest part of a
//! publish (6.5% of the hourly 5-symbol run's samples, issue 16). An unfiltered search
//! over a full tail (up to `commit_every` − 1 documents) reads them all, tens of
//! microseconds.
//!
//! The term runs sit back to back in the batch rather than one allocation per document:
//! a document's terms are then next to its neighbours' (the scan's loads were the hottest
//! instructions of `search_tail`, waiting on each document's own allocation), a new
//! document costs no allocation, and merging and dropping batches copies and frees a few
//! arrays instead of counting references per document (issue 16).

use std::sync::Arc;

use rustc_hash::FxHashMap;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::Bm25Weight;

use super::analyzer::Analyzer;
use super::search::{TermPlan, TextFilter, TextView};
use crate::market::Ts;
use crate::memory::error::Result;
use crate::memory::item::{ItemId, Kind};
use crate::memory::table::RowKey;
use crate::memory::vector::TopK;

/// One tail document: the filter columns of one item and where its terms are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TailDoc {
    pub id: ItemId,
    /// The item's table position: stable until a compaction, which rebuilds the tail (a
    /// search needs no id lookup to reach the item's state).
    pos: usize,
    pub time: Ts,
    pub agent: u16,
    pub symbol: u16,
    pub kind: Kind,
    /// The BM25 field-length id of its token count (`FieldNormReader::fieldnorm_to_id`, a
    /// binary search the scan no longer repeats per matched term).
    norm: u8,
    /// Its distinct terms: `keys[start..start + terms]` of its batch, sorted, with their
    /// frequencies at the same places in `tfs`.
    start: usize,
    terms: u32,
}

impl TailDoc {
    /// A batch's document order: by agent, then symbol (so a filtered search reads only
    /// its own run), then id. Scores tie-break by id, so the order a search reads documents
    /// in cannot change what it returns.
    fn order(&self) -> (u16, u16, ItemId) {
        (self.agent, self.symbol, self.id)
    }
}

/// An immutable batch of tail documents with its document frequencies.
#[derive(Debug, Clone, Default)]
pub(crate) struct TailBatch {
    pub docs: Vec<TailDoc>,
    /// Every document's term keys (a sorted run per document), back to back.
    keys: Vec<u64>,
    /// The frequency of each entry of `keys` in its document.
    tfs: Vec<u32>,
    /// Documents holding each term, by `term_key` (for the BM25 statistics).
    pub df: FxHashMap<u64, u32>,
    /// The documents' lengths summed (tokens, for the average length).
    pub tokens: u64,
}

impl TailBatch {
    /// Adds the document of the item `key`, at table position `pos`, whose text is `text`.
    pub(crate) fn push(&mut self, analyzer: &mut Analyzer, key: RowKey, pos: usize, text: &str) {
        let start = self.keys.len();
        let len = analyzer.term_keys_into(text, &mut self.keys, &mut self.tfs);
        for t in &self.keys[start..] {
            *self.df.entry(*t).or_default() += 1;
        }
        self.tokens += len as u64;
        let RowKey { id, time, agent, symbol, kind } = key;
        let terms = (self.keys.len() - start) as u32;
        let norm = FieldNormReader::fieldnorm_to_id(len);
        self.docs.push(TailDoc { id, pos, time, agent, symbol, kind, norm, start, terms });
    }

    /// The sorted term keys of `d` and their frequencies.
    fn terms(&self, d: &TailDoc) -> (&[u64], &[u32]) {
        let r = d.start..d.start + d.terms as usize;
        (&self.keys[r.clone()], &self.tfs[r])
    }

    /// Appends `batch` to `tail`, then merges trailing batches while the last is at least
    /// half the size of the one before (a binary counter): O(log n) batches, each document
    /// copied O(log n) times. Merging everything every few publishes was quadratic.
    pub(crate) fn push_into(tail: &mut Vec<Arc<TailBatch>>, mut batch: TailBatch) {
        batch.docs.sort_unstable_by_key(TailDoc::order);
        tail.push(Arc::new(batch));
        while tail.len() >= 2 {
            let n = tail.len();
            if tail[n - 1].docs.len() * 2 < tail[n - 2].docs.len() {
                break;
            }
            let merged = TailBatch::merge(&tail[n - 2], &tail[n - 1]);
            tail.truncate(n - 2);
            tail.push(Arc::new(merged));
        }
    }

    /// Merges two batches into one, documents in [`TailDoc::order`].
    fn merge(a: &TailBatch, b: &TailBatch) -> TailBatch {
        let entries = a.keys.len() + b.keys.len();
        let mut out = TailBatch {
            docs: Vec::with_capacity(a.docs.len() + b.docs.len()),
            keys: Vec::with_capacity(entries),
            tfs: Vec::with_capacity(entries),
            df: FxHashMap::with_capacity_and_hasher(a.df.len().max(b.df.len()), Default::default()),
            tokens: a.tokens + b.tokens,
        };
        for (t, n) in a.df.iter().chain(&b.df) {
            *out.df.entry(*t).or_default() += n;
        }
        out.keys.extend_from_slice(&a.keys);
        out.keys.extend_from_slice(&b.keys);
        out.tfs.extend_from_slice(&a.tfs);
        out.tfs.extend_from_slice(&b.tfs);
        let shift = a.keys.len();
        let (mut i, mut j) = (0, 0);
        while i < a.docs.len() || j < b.docs.len() {
            let from_a = j == b.docs.len() || (i < a.docs.len() && a.docs[i].order() < b.docs[j].order());
            if from_a {
                out.docs.push(a.docs[i]);
                i += 1;
            } else {
                out.docs.push(TailDoc { start: b.docs[j].start + shift, ..b.docs[j] });
                j += 1;
            }
        }
        out
    }

    /// The documents that can pass `f`: those of its agent (and symbol), found by binary
    /// search in [`TailDoc::order`]; every document when it names no agent.
    fn candidates(&self, f: &TextFilter<'_>) -> &[TailDoc] {
        let d = &self.docs;
        match (f.agent_id, f.symbol_id) {
            (Some(a), Some(s)) => {
                let lo = d.partition_point(|x| (x.agent, x.symbol) < (a, s));
                let hi = lo + d[lo..].partition_point(|x| (x.agent, x.symbol) == (a, s));
                &d[lo..hi]
            }
            (Some(a), None) => {
                let lo = d.partition_point(|x| x.agent < a);
                let hi = lo + d[lo..].partition_point(|x| x.agent == a);
                &d[lo..hi]
            }
            (None, _) => d,
        }
    }

    fn passes(&self, d: &TailDoc, f: &TextFilter<'_>) -> bool {
        f.agent_id.is_none_or(|a| d.agent == a)
            && f.symbol_id.is_none_or(|s| d.symbol == s)
            && f.kind.is_none_or(|k| d.kind == k)
            && f.from.is_none_or(|t| d.time >= t)
            && f.to.is_none_or(|t| d.time <= t)
    }
}

impl TextView<'_> {
    /// The top `limit` tail documents by BM25 among those passing `filter` and `keep` (of
    /// the table position), as (score, id, position), scored with the statistics of every
    /// stored slot.
    pub(crate) fn search_tail(
        &self,
        plan: &TermPlan,
        filter: &TextFilter<'_>,
        keep: &dyn Fn(usize) -> bool,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId, usize)>> {
        if plan.keys.is_empty() || self.tail.is_empty() {
            return Ok(Vec::new());
        }
        // A term no stored document holds scores nothing (and has no weight).
        let weights: Vec<Option<(u64, &Bm25Weight)>> = plan
            .keys
            .iter()
            .zip(&plan.weights)
            .zip(&plan.present)
            .map(|((&k, w), &present)| present.then_some((k, w)))
            .collect();
        let mut top = TopK::new(limit);
        // The documents the filters allow, each scored from its own term list (summed in
        // query-term order, as the committed search does).
        for batch in self.tail {
            for d in batch.candidates(filter) {
                if !batch.passes(d, filter) {
                    continue;
                }
                let (keys, tfs) = batch.terms(d);
                let mut sc = 0.0f32;
                for (key, w) in weights.iter().flatten() {
                    if let Ok(k) = keys.binary_search(key) {
                        sc += w.score(d.norm, tfs[k]);
                    }
                }
                if sc > 0.0 && sc >= top.threshold() && keep(d.pos) {
                    top.push(sc, d.id, d.pos);
                }
            }
        }
        Ok(top.into_sorted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(agent: Option<u16>, symbol: Option<u16>) -> TextFilter<'static> {
        TextFilter { agent: None, symbol: None, agent_id: agent, symbol_id: symbol, kind: None, from: None, to: None }
    }

    /// Batches merged by the binary counter keep every document's own terms (offsets
    /// shifted right) and position, stay in (agent, symbol, id) order, and a filtered
    /// search's run is exactly the documents of that agent (and symbol). Search results
    /// themselves are compared across tail and index in tests/memory.rs
    /// (`prop_memory_recall_independent_of_commits`).
    #[test]
    fn test_tail_batches_merge_in_order_and_find_runs() {
        let words = ["spring", "upthrust", "calm", "storm", "trend", "gap"];
        let mut a = Analyzer::default();
        let mut tail: Vec<Arc<TailBatch>> = Vec::new();
        let mut texts = Vec::new();
        let mut id = 0u64;
        for publish in 0..23usize {
            let mut batch = TailBatch::default();
            for k in 0..(publish % 5 + 1) {
                let text =
                    format!("{} {} {}", words[(id as usize) % 6], words[(id as usize * 7 + k) % 6], words[k % 6]);
                let key = RowKey {
                    id,
                    time: id as Ts,
                    agent: ((id * 5 + 3) % 4) as u16,
                    symbol: ((id / 2) % 3) as u16,
                    kind: Kind::Pattern,
                };
                batch.push(&mut a, key, 2 * id as usize + 1, &text);
                texts.push((key, text));
                id += 1;
            }
            TailBatch::push_into(&mut tail, batch);
        }
        assert!(tail.len() < 8, "{} batches", tail.len());
        let mut seen = 0;
        for b in &tail {
            assert!(b.docs.windows(2).all(|w| w[0].order() < w[1].order()));
            for d in &b.docs {
                let (key, text) = &texts[d.id as usize];
                assert_eq!((d.agent, d.symbol, d.pos), (key.agent, key.symbol, 2 * key.id as usize + 1));
                let (mut keys, mut tfs) = (Vec::new(), Vec::new());
                a.term_keys_into(text, &mut keys, &mut tfs);
                assert_eq!(b.terms(d), (&keys[..], &tfs[..]), "doc {}", d.id);
                seen += 1;
            }
            for ag in [None, Some(0), Some(1), Some(2), Some(3)] {
                for sy in [None, Some(0), Some(1), Some(2)] {
                    let f = filter(ag, sy);
                    let run: Vec<u64> = b.candidates(&f).iter().map(|d| d.id).collect();
                    let want: Vec<u64> = b
                        .docs
                        .iter()
                        .filter(|d| {
                            ag.is_none_or(|x| d.agent == x) && (ag.is_none() || sy.is_none_or(|x| d.symbol == x))
                        })
                        .map(|d| d.id)
                        .collect();
                    assert_eq!(run, want, "agent {ag:?} symbol {sy:?}");
                    if ag.is_some() && sy.is_some() {
                        assert!(run.len() < b.docs.len() || b.docs.len() < 3, "a run, not the batch");
                    }
                }
            }
        }
        assert_eq!(seen, texts.len());
    }
}
