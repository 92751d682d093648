//! A published, immutable view of the store: what every recall during one step sees.
//!
//! Why snapshots: analysts recall on their own threads while the step's writes arrive.
//! A recall must see everything published before the step and nothing written during it,
//! whatever the thread timing, or two runs of the same backtest would differ. The writer
//! builds the next snapshot at `publish` and swaps it in with `arc-swap`; readers `load`
//! the current one without locks and keep it alive as long as they hold the `Arc`.

use std::sync::Arc;

use serde::Serialize;

use super::aggregates::{AgentStats, Aggregates};
use super::cosine::{dot, normalise};
use super::error::Result;
use super::item::{ItemId, Kind, Layer, MemoryItem};
use super::ivf::Ivf;
use super::params::MemoryParams;
use super::rank::{self, ScoreParts};
use super::table::{Names, Table};
use super::text::{Analyzer, Committed, Fields, TailBatch, TextFilter, TextView};
use super::vector::{VecFilter, flat_scan};
use crate::market::Ts;

thread_local! {
    /// A query analyzer per reader thread: its stem cache survives across queries (every
    /// snapshot's analyzer is configured alike, so any one serves).
    static QUERY_ANALYZER: std::cell::RefCell<Option<Analyzer>> = const { std::cell::RefCell::new(None) };
}

/// A recall request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Free text (BM25). Empty or None: no text part.
    pub text: Option<String>,
    /// A vector of the store's dimension. None: no vector part.
    pub vector: Option<Vec<f32>>,
    /// Only this agent's (analyst's) memories.
    pub agent: Option<String>,
    /// Only memories about this symbol.
    pub symbol: Option<String>,
    /// Only items of this kind.
    pub kind: Option<Kind>,
    /// Only items currently in this layer.
    pub layer: Option<Layer>,
    /// Only items with event time at or after this.
    pub from: Option<Ts>,
    /// As-of time: only items with event time at or before it; decay is computed at it.
    pub at: Ts,
    /// Number of hits wanted.
    pub k: usize,
    /// IVF lists to probe for this query (None: the store's `ivf_probe`; `usize::MAX`:
    /// an exact f32 scan instead of the index, for measuring the index's recall).
    pub probe: Option<usize>,
}

/// One recalled memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit {
    /// Id of the recalled item.
    pub id: ItemId,
    /// Combined score (see [`ScoreParts::score`]); hits come best first.
    pub score: f64,
    /// The parts the score was computed from.
    pub parts: ScoreParts,
}

/// Store-wide counts of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Counts {
    /// Live items (not cleaned up or evicted).
    pub live: usize,
    /// Live items per layer, indexed by [`Layer::index`] (short, mid, long, reflection).
    pub by_layer: [usize; 4],
    /// Items in the searchable tail (not yet committed to the text index).
    pub tail: usize,
    /// Stored positions including dead ones awaiting compaction.
    pub slots: usize,
}

/// An immutable view of the store at one publish.
pub struct Snapshot {
    pub(crate) params: Arc<MemoryParams>,
    pub(crate) now: Ts,
    pub(crate) epoch: u64,
    pub(crate) table: Table,
    pub(crate) names: Arc<Names>,
    pub(crate) fields: Fields,
    pub(crate) searcher: Committed,
    pub(crate) analyzer: Arc<Analyzer>,
    pub(crate) tail: Vec<Arc<TailBatch>>,
    pub(crate) aggregates: Arc<Aggregates>,
    pub(crate) ivf: Option<Arc<Ivf>>,
    pub(crate) counts: Counts,
    pub(crate) max_time: Ts,
}

impl Snapshot {
    /// The publish time of this snapshot.
    pub fn now(&self) -> Ts {
        self.now
    }

    /// How many publishes led to this snapshot.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The store parameters.
    pub fn params(&self) -> &MemoryParams {
        &self.params
    }

    /// Counts of live items.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The number of IVF lists, if the vector side is approximate (see `ivf`).
    pub fn ivf_lists(&self) -> Option<usize> {
        self.ivf.as_ref().map(|i| i.lists.len())
    }

    /// Win/loss stats of an agent (optionally on one symbol) as of `t`.
    pub fn agent_stats(&self, agent: &str, symbol: Option<&str>, t: Ts) -> AgentStats {
        self.aggregates.stats(agent, symbol, t)
    }

    /// The aggregates behind `agent_stats`.
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    /// A stored live item, its importance and recency decayed to `t`.
    pub fn item(&self, id: ItemId, t: Ts) -> Option<MemoryItem> {
        let pos = self.table.position(id)?;
        self.item_at(pos, t)
    }

    pub(crate) fn item_at(&self, pos: usize, t: Ts) -> Option<MemoryItem> {
        let st = *self.table.state(pos);
        if !st.alive {
            return None;
        }
        let (s, i) = self.table.locate(pos);
        let seg = &self.table.segments[s];
        let extra = &seg.extra[i];
        Some(MemoryItem {
            id: seg.ids[i],
            time: seg.time[i],
            agent: self.names.agents[seg.agent[i] as usize].clone(),
            symbol: self.names.symbols[seg.symbol[i] as usize].clone(),
            kind: seg.kind[i],
            layer: st.layer,
            text: seg.text[i].clone(),
            vector: extra.raw_vector.clone(),
            importance: rank::importance(&self.params, st.layer, st.importance, st.imp_time, t),
            recency: rank::recency(&self.params, st.layer, st.anchor, t),
            access_count: st.access,
            outcome: extra.outcome,
            metadata: extra.metadata.clone(),
            source_id: extra.source_id.clone(),
        })
    }

    /// Every live item, in id order, seen at `t`.
    pub fn items(&self, t: Ts) -> impl Iterator<Item = MemoryItem> + '_ {
        (0..self.table.len).filter_map(move |p| self.item_at(p, t))
    }

    /// Recalls the top `q.k` memories by the combined score (see `rank`). Fails only if the
    /// text index does (a read error in its segments).
    pub fn recall(&self, q: &Query) -> Result<Vec<Hit>> {
        if q.k == 0 {
            return Ok(Vec::new());
        }
        let p = &*self.params;
        let n = (q.k * p.candidate_factor).max(p.min_candidates);
        let agent = match &q.agent {
            Some(a) => match self.names.agent_id(a) {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let symbol = match &q.symbol {
            Some(s) => match self.names.symbol_id(s) {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let qvec: Option<Vec<f32>> = q.vector.as_ref().and_then(|v| {
            let mut v = v.clone();
            (v.len() == p.dim && normalise(&mut v)).then_some(v)
        });
        let terms: Vec<String> = match &q.text {
            Some(t) if !t.trim().is_empty() => {
                QUERY_ANALYZER.with(|a| a.borrow_mut().get_or_insert_with(|| (*self.analyzer).clone()).query_terms(t))
            }
            _ => Vec::new(),
        };
        let has_text = !terms.is_empty();

        let text_hits = if has_text { self.text_candidates(&terms, q, n)? } else { Vec::new() };
        let vector_side = || match &qvec {
            Some(v) => {
                let filter = VecFilter { agent, symbol, kind: q.kind, layer: q.layer, from: q.from, to: q.at };
                match (&self.ivf, q.probe) {
                    (Some(ivf), probe) if probe != Some(usize::MAX) => {
                        ivf.search(&self.table, p.dim, v, &filter, n, probe.unwrap_or(p.ivf_probe))
                    }
                    _ => flat_scan(&self.table, p.dim, v, &filter, n),
                }
            }
            None => Vec::new(),
        };
        let vec_hits = vector_side();
        // Candidates (id, position, bm25) from both lists, each id once (its text entry if
        // it has one: `Some` sorts before `None` among equal ids, and an id is in each list
        // at most once, so the order is total and an unstable sort gives the same result).
        let mut cands: Vec<(ItemId, usize, Option<f32>)> = Vec::with_capacity(text_hits.len() + vec_hits.len());
        cands.extend(text_hits.into_iter().map(|(s, id, pos)| (id, pos, Some(s))));
        cands.extend(vec_hits.into_iter().map(|(_, id, pos)| (id, pos, None)));
        cands.sort_unstable_by_key(|c| (c.0, c.2.is_none()));
        cands.dedup_by_key(|c| c.0);
        let max_bm25 = cands.iter().filter_map(|c| c.2).fold(0.0f32, f32::max);
        // Cosines first, in a loop of their own: each reads a vector that is likely a cache
        // miss, and short independent iterations let the CPU overlap those misses.
        let cosines: Vec<f64> = match &qvec {
            Some(v) => cands
                .iter()
                .map(|&(_, pos, _)| {
                    let (s, i) = self.table.locate(pos);
                    let seg = &self.table.segments[s];
                    if seg.has_vec[i] { dot(&seg.vectors[i * p.dim..(i + 1) * p.dim], v).max(0.0) as f64 } else { 0.0 }
                })
                .collect(),
            None => Vec::new(),
        };
        let mut hits: Vec<Hit> = cands
            .iter()
            .enumerate()
            .map(|(c, &(id, pos, bm25))| {
                let st = self.table.state(pos);
                let text =
                    has_text.then(|| bm25.map_or(0.0, |b| if max_bm25 > 0.0 { (b / max_bm25) as f64 } else { 0.0 }));
                let vector = qvec.as_ref().map(|_| cosines[c]);
                let relevance = rank::relevance(p, text, vector);
                let recency = rank::recency(p, st.layer, st.anchor, q.at);
                let importance = rank::importance(p, st.layer, st.importance, st.imp_time, q.at);
                let score = rank::combine(p, relevance, recency, importance);
                let parts = ScoreParts {
                    text: text.unwrap_or(0.0),
                    vector: vector.unwrap_or(0.0),
                    relevance,
                    recency,
                    importance,
                    score,
                };
                Hit { id, score, parts }
            })
            .collect();
        // Best first, ties by id: a total order (ids are unique), so selecting the top k
        // and sorting only those gives what sorting every candidate gave.
        let order = |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
        if hits.len() > q.k {
            hits.select_nth_unstable_by(q.k - 1, order);
            hits.truncate(q.k);
        }
        hits.sort_unstable_by(order);
        Ok(hits)
    }

    /// Text candidates passing every filter, best BM25 first (ties by id), at most `n`.
    fn text_candidates(&self, terms: &[String], q: &Query, n: usize) -> Result<Vec<(f32, ItemId, usize)>> {
        let view =
            TextView { fields: self.fields, committed: &self.searcher, tail: &self.tail, max_time: self.max_time };
        let filter = TextFilter {
            agent: q.agent.as_deref(),
            symbol: q.symbol.as_deref(),
            agent_id: q.agent.as_deref().and_then(|a| self.names.agent_id(a)),
            symbol_id: q.symbol.as_deref().and_then(|s| self.names.symbol_id(s)),
            kind: q.kind,
            from: q.from,
            to: Some(q.at),
        };
        let keep_at = |pos: usize| -> bool {
            debug_assert!(pos < self.table.len, "a tail position past the table");
            let st = self.table.state(pos);
            st.alive && q.layer.is_none_or(|l| st.layer == l)
        };
        let keep = |id: ItemId| -> Option<usize> { self.table.position(id).filter(|&pos| keep_at(pos)) };
        // The terms looked up and weighted once, for the tail and every widening round.
        let plan = view.plan_terms(terms)?;
        let mut out: Vec<(f32, ItemId, usize)> = view.search_tail(&plan, &filter, &keep_at, n)?;
        let total = self.searcher.searcher.num_docs() as usize;
        let mut limit = n;
        loop {
            let committed = view.search_planned(&plan, &filter, limit)?;
            let full = committed.len() == limit;
            let kept: Vec<(f32, ItemId, usize)> =
                committed.into_iter().filter_map(|(s, id)| keep(id).map(|p| (s, id, p))).collect();
            if kept.len() >= n || !full || limit >= total {
                out.extend(kept);
                break;
            }
            limit = (limit * 4).min(total.max(1));
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::time::NS_PER_HOUR;
    use crate::memory::{MemoryParams, MemoryStore, NewItem};

    const T0: Ts = 1_381_152_600_000_000_000;

    fn store() -> MemoryStore {
        let s = MemoryStore::new(MemoryParams { dim: 2, ..MemoryParams::default() }).unwrap();
        for (h, agent, text) in [(0, "a", "spring reclaimed"), (1, "b", "spring failed"), (3, "a", "spring again")] {
            let t = T0 + h * NS_PER_HOUR;
            let it = NewItem::new(t, agent, "SPY", Kind::Pattern, text.to_string()).with_vector(vec![1.0, h as f32]);
            s.insert(it).unwrap();
            s.publish(t).unwrap();
        }
        s
    }

    fn q(at: Ts) -> Query {
        Query { text: Some("spring".into()), vector: Some(vec![1.0, 0.0]), at, k: 10, ..Default::default() }
    }

    /// A recall sees only items at or before its as-of time, and only those the filters name.
    #[test]
    fn test_snapshot_recall_as_of_and_filters() {
        let snap = store().snapshot();
        let ids = |q: Query| snap.recall(&q).unwrap().iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(ids(q(T0 + 2 * NS_PER_HOUR)).len(), 2, "the third item is later");
        assert_eq!(ids(q(T0 + 3 * NS_PER_HOUR)).len(), 3);
        assert_eq!(ids(Query { agent: Some("b".into()), ..q(T0 + 3 * NS_PER_HOUR) }), vec![2]);
        assert!(ids(Query { agent: Some("nobody".into()), ..q(T0 + 3 * NS_PER_HOUR) }).is_empty());
        assert!(ids(Query { k: 0, ..q(T0 + 3 * NS_PER_HOUR) }).is_empty());
        assert_eq!(ids(Query { from: Some(T0 + NS_PER_HOUR), ..q(T0 + 3 * NS_PER_HOUR) }).len(), 2);
    }

    /// Scores are the documented parts, and an item seen later has decayed.
    #[test]
    fn test_snapshot_scores_and_decay() {
        let snap = store().snapshot();
        let at = T0 + 3 * NS_PER_HOUR;
        for h in snap.recall(&q(at)).unwrap() {
            let p = h.parts;
            assert!((p.relevance + p.recency + p.importance / 100.0 - h.score).abs() < 1e-12, "{p:?}");
            assert!((0.0..=1.0).contains(&p.recency) && (0.0..=1.0).contains(&p.relevance));
        }
        let now = snap.item(1, at).unwrap();
        let later = snap.item(1, at + 10 * NS_PER_HOUR).unwrap();
        assert!(later.importance < now.importance && later.recency < now.recency);
        assert!(snap.item(99, at).is_none());
    }
}
