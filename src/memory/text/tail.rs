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
//! A batch keeps its documents (each with its own sorted term list) and how many documents
//! hold each term, not inverted lists: a search reads the documents its filters allow and
//! looks its few terms up in each. The analysts always filter (their own memories of one
//! symbol), so inverted lists were only ever merged, never read, on their recalls, and
//! merging them was the largest part of a publish (6.5% of the hourly 5-symbol run's
//! samples, issue 16). An unfiltered search over a full tail (up to `commit_every` − 1
//! documents) reads them all, tens of microseconds.

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

/// One tail document: the filter columns and the term frequencies of one item.
#[derive(Debug, Clone)]
pub(crate) struct TailDoc {
    pub id: ItemId,
    pub time: Ts,
    pub agent: u16,
    pub symbol: u16,
    pub kind: Kind,
    pub len: u32,
    /// (term key, frequency), sorted by key: a search looks its terms up here.
    pub terms: Arc<[(u64, u32)]>,
}

impl TailDoc {
    /// The tail document of the item `key` whose text is `text`.
    pub(crate) fn analysed(analyzer: &mut Analyzer, key: RowKey, text: &str) -> Self {
        let (terms, len) = analyzer.term_keys(text);
        let RowKey { id, time, agent, symbol, kind } = key;
        TailDoc { id, time, agent, symbol, kind, len, terms: terms.into() }
    }
}

/// An immutable batch of tail documents with its document frequencies.
#[derive(Debug, Clone, Default)]
pub(crate) struct TailBatch {
    pub docs: Vec<TailDoc>,
    /// Documents holding each term, by `term_key` (for the BM25 statistics).
    pub df: FxHashMap<u64, u32>,
    /// The documents' lengths summed (tokens, for the average length).
    pub tokens: u64,
}

impl TailBatch {
    /// Adds a document.
    pub(crate) fn push(&mut self, doc: TailDoc) {
        for (t, _) in doc.terms.iter() {
            *self.df.entry(*t).or_default() += 1;
        }
        self.tokens += doc.len as u64;
        self.docs.push(doc);
    }

    /// Appends `batch` to `tail`, then merges trailing batches while the last is at least
    /// half the size of the one before (a binary counter): O(log n) batches, each document
    /// copied O(log n) times. Merging everything every few publishes was quadratic.
    pub(crate) fn push_into(tail: &mut Vec<Arc<TailBatch>>, batch: TailBatch) {
        tail.push(Arc::new(batch));
        while tail.len() >= 2 {
            let n = tail.len();
            if tail[n - 1].docs.len() * 2 < tail[n - 2].docs.len() {
                break;
            }
            let merged = TailBatch::merge(&tail[n - 2..]);
            tail.truncate(n - 2);
            tail.push(Arc::new(merged));
        }
    }

    /// Merges batches into one, preserving document order.
    pub(crate) fn merge(batches: &[Arc<TailBatch>]) -> TailBatch {
        let docs = batches.iter().map(|b| b.docs.len()).sum();
        let terms = batches.iter().map(|b| b.df.len()).max().unwrap_or(0);
        let mut out = TailBatch {
            docs: Vec::with_capacity(docs),
            df: FxHashMap::with_capacity_and_hasher(terms, Default::default()),
            tokens: 0,
        };
        for b in batches {
            for (t, n) in &b.df {
                *out.df.entry(*t).or_default() += n;
            }
            out.docs.extend(b.docs.iter().cloned());
            out.tokens += b.tokens;
        }
        out
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
    /// The top `limit` tail documents by BM25 among those passing `filter` and `keep`, as
    /// (score, id), scored with the statistics of every stored slot.
    pub(crate) fn search_tail(
        &self,
        plan: &TermPlan,
        filter: &TextFilter<'_>,
        keep: &dyn Fn(ItemId) -> bool,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
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
            for d in &batch.docs {
                if !batch.passes(d, filter) {
                    continue;
                }
                let mut sc = 0.0f32;
                for (key, w) in weights.iter().flatten() {
                    if let Ok(k) = d.terms.binary_search_by_key(key, |t| t.0) {
                        sc += w.score(FieldNormReader::fieldnorm_to_id(d.len), d.terms[k].1);
                    }
                }
                if sc > 0.0 && sc >= top.threshold() && keep(d.id) {
                    top.push(sc, d.id, 0);
                }
            }
        }
        Ok(top.into_sorted().into_iter().map(|(s, id, _)| (s, id)).collect())
    }
}
