//! `MemoryStore`: the one shared memory. Writes are staged, `publish(t)` applies them in a
//! deterministic order and swaps in a new snapshot; reads go to the current snapshot.
//!
//! - `insert` and `reinforce` may be called from any thread at any time; they only stage
//!   (inserts in a mutex-guarded list, reinforcements per item in a `DashMap`), so writers
//!   never block readers and readers never see a half-applied step.
//! - `publish(t)` (called by the engine at the start of each step) sorts staged inserts by
//!   (event time, agent, the agent's own call order) and assigns ids in that order, then
//!   applies reinforcements sorted by (item, source, call order). Same calls in the same
//!   per-actor order give the same store whatever the thread interleaving.
//! - Maintenance runs inside publish: promotion on reinforcement, decay-driven demotion and
//!   cleanup every `sweep_every_minutes` of event time, hard per-layer capacity (lowest
//!   retention score `recency × importance/100` evicted first, ties to the older id),
//!   compaction once dead slots are at least as many as live items (and at least 1,024),
//!   text-index commits every `commit_every` items, IVF training and extension.

use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use serde::Serialize;

use super::aggregates::Aggregates;
use super::error::{MemoryError, Result};
use super::item::{ItemExtra, ItemId, Kind, Layer, NewItem};
use super::ivf::Ivf;
use super::params::MemoryParams;
use super::rank;
use super::snapshot::{Counts, Hit, Query, Snapshot};
use super::table::{ItemState, Names, RowKey, Segment, Table};
use super::text::{Analyzer, Committed, TailBatch, TextIndex};
use crate::market::Ts;
use crate::market::time::NS_PER_MIN;

struct Staged {
    seq: u64,
    item: NewItem,
}

#[derive(Debug, Clone)]
struct Pending {
    source: String,
    seq: u64,
    reward: f64,
}

/// What one publish did.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PublishReport {
    /// Items inserted (staged since the previous publish).
    pub inserted: usize,
    /// Reinforcements applied to stored items.
    pub reinforced: usize,
    /// Reinforcements naming an id that is not (or no longer) stored.
    pub unknown_ids: usize,
    /// Items moved up a layer (by reinforcement or at a sweep).
    pub promoted: usize,
    /// Items moved down a layer at a sweep.
    pub demoted: usize,
    /// Items removed at a sweep: recency or importance below the cleanup thresholds.
    pub cleaned: usize,
    /// Items removed because a layer exceeded its capacity (lowest recency·importance first).
    pub evicted: usize,
    /// The text index was committed (tail reached `commit_every`) or rebuilt (compaction,
    /// which may leave every live item in the tail instead).
    pub committed: bool,
    /// Dead slots were compacted away (at least 1,024 and at least as many as live items).
    pub compacted: bool,
}

pub(crate) struct Writer {
    pub table: Table,
    pub names: Arc<Names>,
    pub text: TextIndex,
    pub searcher: Committed,
    pub analyzer: Analyzer,
    /// An analyzer for snapshots' queries (cloned per query, so its stem cache stays empty).
    pub query_analyzer: Arc<Analyzer>,
    pub tail: Vec<Arc<TailBatch>>,
    pub tail_len: usize,
    /// The tail's first items already handed to tantivy's indexing threads (queued for the
    /// next commit): those of publishes of [`EAGER`] items or more.
    pub tail_queued: usize,
    pub aggregates: Arc<Aggregates>,
    pub next_id: ItemId,
    pub now: Ts,
    pub epoch: u64,
    pub last_sweep: Ts,
    pub ivf: Option<Arc<Ivf>>,
    pub live: usize,
    pub by_layer: [usize; 4],
    /// Latest event time of any item ever inserted.
    pub max_time: Ts,
}

/// Items inserted and recall queries asked, in call order ([`MemoryStore::record`]).
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Every item inserted (accepted by [`MemoryStore::check`]).
    pub items: Vec<NewItem>,
    /// Every query noted with [`MemoryStore::note_query`].
    pub queries: Vec<Query>,
}

/// Publishes of this many items or more are handed to tantivy's indexing threads at once
/// (bulk loads index in parallel with the publisher); smaller ones at the next commit.
pub(crate) const EAGER: usize = 64;

/// The shared, decaying memory store.
pub struct MemoryStore {
    params: Arc<MemoryParams>,
    current: ArcSwap<Snapshot>,
    staged: Mutex<Vec<Staged>>,
    pending: DashMap<ItemId, Vec<Pending>>,
    seqs: DashMap<String, u64>,
    writer: Mutex<Writer>,
    /// Items inserted and recall queries noted while recording ([`MemoryStore::record`]).
    recorded: Mutex<Option<Recording>>,
    recording: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Writer {
    pub(crate) fn new(params: &MemoryParams, text: TextIndex, analyzer: Analyzer) -> Self {
        let searcher = text.searcher();
        Writer {
            table: Table::default(),
            names: Arc::new(Names::default()),
            text,
            searcher,
            query_analyzer: Arc::new(analyzer.clone()),
            analyzer,
            tail: Vec::new(),
            tail_len: 0,
            tail_queued: 0,
            aggregates: Arc::new(Aggregates::new(params.outcome_half_life_hours, params.outcome_half_life_outcomes)),
            next_id: 1,
            now: i64::MIN,
            epoch: 0,
            last_sweep: i64::MIN,
            ivf: None,
            live: 0,
            by_layer: [0; 4],
            max_time: i64::MIN,
        }
    }

    fn snapshot(&self, params: &Arc<MemoryParams>) -> Snapshot {
        Snapshot {
            params: params.clone(),
            now: self.now,
            epoch: self.epoch,
            table: self.table.clone(),
            names: self.names.clone(),
            fields: self.text.fields,
            searcher: self.searcher.clone(),
            analyzer: self.query_analyzer.clone(),
            tail: self.tail.clone(),
            aggregates: self.aggregates.clone(),
            ivf: self.ivf.clone(),
            counts: Counts { live: self.live, by_layer: self.by_layer, tail: self.tail_len, slots: self.table.len },
            max_time: self.max_time,
        }
    }

    fn kill(&mut self, pos: usize) {
        let st = self.table.state_mut(pos);
        if !st.alive {
            return;
        }
        st.alive = false;
        self.by_layer[st.layer.index()] -= 1;
        self.live -= 1;
    }

    fn set_layer(&mut self, pos: usize, layer: Layer, reset_anchor: Option<Ts>) {
        let st = self.table.state_mut(pos);
        self.by_layer[st.layer.index()] -= 1;
        self.by_layer[layer.index()] += 1;
        st.layer = layer;
        if let Some(t) = reset_anchor {
            st.anchor = t;
        }
    }

    /// Promotes `pos` if its importance (at `now`) reached its layer's threshold.
    fn promote(&mut self, p: &MemoryParams, pos: usize, now: Ts) -> bool {
        let st = *self.table.state(pos);
        let imp = rank::importance(p, st.layer, st.importance, st.imp_time, now);
        let up = match st.layer {
            Layer::Short if imp >= p.promote_short_to_mid => Layer::Mid,
            Layer::Mid if imp >= p.promote_mid_to_long => Layer::Long,
            _ => return false,
        };
        // Carry the decayed importance into the new layer, then restart recency.
        let s = self.table.state_mut(pos);
        s.importance = imp;
        s.imp_time = now;
        self.set_layer(pos, up, Some(now));
        true
    }

    fn sweep(&mut self, p: &MemoryParams, now: Ts, report: &mut PublishReport) {
        for pos in 0..self.table.len {
            let st = *self.table.state(pos);
            if !st.alive {
                continue;
            }
            let rec = rank::recency(p, st.layer, st.anchor, now);
            let imp = rank::importance(p, st.layer, st.importance, st.imp_time, now);
            if rec < p.cleanup_recency || imp < p.cleanup_importance {
                self.kill(pos);
                report.cleaned += 1;
                continue;
            }
            let down = match st.layer {
                Layer::Long if imp < p.demote_long_to_mid => Some(Layer::Mid),
                Layer::Mid if imp < p.demote_mid_to_short => Some(Layer::Short),
                _ => None,
            };
            if let Some(l) = down {
                let s = self.table.state_mut(pos);
                s.importance = imp;
                s.imp_time = now;
                self.set_layer(pos, l, None);
                report.demoted += 1;
            } else if self.promote(p, pos, now) {
                report.promoted += 1;
            }
        }
        Arc::make_mut(&mut self.aggregates).prune(now);
        self.last_sweep = now;
    }

    fn enforce_capacity(&mut self, p: &MemoryParams, now: Ts, report: &mut PublishReport) {
        for layer in Layer::ALL {
            let cap = p.layer(layer).capacity;
            let count = self.by_layer[layer.index()];
            if count <= cap {
                continue;
            }
            let mut scored: Vec<(f64, ItemId, usize)> = Vec::with_capacity(count);
            for pos in 0..self.table.len {
                let st = self.table.state(pos);
                if st.alive && st.layer == layer {
                    let rec = rank::recency(p, layer, st.anchor, now);
                    let imp = rank::importance(p, layer, st.importance, st.imp_time, now);
                    let (s, i) = self.table.locate(pos);
                    scored.push((rec * imp / 100.0, self.table.segments[s].ids[i], pos));
                }
            }
            scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(_, _, pos) in scored.iter().take(count - cap) {
                self.kill(pos);
                report.evicted += 1;
            }
        }
    }

    /// Moves the tail into the text index and commits.
    ///
    /// The tail's items (the table's last `tail_len` slots, dead ones included: the index
    /// counts them until compaction, as it always has) not yet handed to tantivy are handed
    /// now. Small publishes (a graph step writes a few items) are not handed as they come:
    /// the same documents reach the same commit, but a step no longer wakes tantivy's
    /// indexing threads (a cross-thread hand-off per step; perf, issue 16: the default
    /// command on spy_1m_2011 went from 1.24 to 1.04 s, system time halved). Publishes of
    /// [`EAGER`] items or more are handed at once, so bulk loads still index in parallel
    /// with the publishing thread. Between commits the tail serves the searches, as before.
    pub(crate) fn commit(&mut self) -> Result<()> {
        self.hand_over()?;
        self.searcher = self.text.commit()?;
        self.tail.clear();
        self.tail_len = 0;
        self.tail_queued = 0;
        Ok(())
    }

    /// Hands the tail's items not yet handed to tantivy's indexing threads.
    fn hand_over(&mut self) -> Result<()> {
        if self.tail_queued < self.tail_len {
            let docs = self.docs_from(self.table.len - self.tail_len + self.tail_queued);
            self.text.add_all(docs)?;
            self.tail_queued = self.tail_len;
        }
        Ok(())
    }

    /// The index documents of the table's slots from `from` on.
    fn docs_from(&self, from: usize) -> Vec<tantivy::TantivyDocument> {
        let mut docs = Vec::with_capacity(self.table.len.saturating_sub(from));
        let mut pos = 0;
        for seg in &self.table.segments {
            if pos + seg.len() <= from {
                pos += seg.len();
                continue;
            }
            for i in 0..seg.len() {
                if pos >= from {
                    let (agent, symbol) =
                        (&self.names.agents[seg.agent[i] as usize], &self.names.symbols[seg.symbol[i] as usize]);
                    docs.push(self.text.doc(seg.ids[i], seg.time[i], agent, symbol, seg.kind[i], &seg.text[i]));
                }
                pos += 1;
            }
        }
        docs
    }

    /// Drops dead slots: rebuilds the table and the text index from the live items.
    ///
    /// Fewer live items than `commit_every` become the tail (one batch, analysed here) over
    /// an empty index; more are indexed by tantivy. Scores do not depend on which
    /// ([`TextView::stats`](super::text::TextView) counts both), but the cost does: an
    /// intraday run compacts every few hundred steps down to a few hundred live items, and
    /// each tantivy rebuild paid two indexing threads' fresh arenas (page faults on huge
    /// pages: 17% of the samples of the default command on spy_1m_2011, issue 16).
    pub(crate) fn compact(&mut self, p: &MemoryParams) -> Result<()> {
        self.table = self.table.compact(p.dim);
        // Same writer (its threads and arenas are costly to create): flush what is queued,
        // clear, re-add the live.
        // An index already empty with nothing queued (the live set stayed small since the
        // last compaction) needs no tantivy commit at all.
        // Every stored document counts (deleted ones too, as the statistics count them).
        let queued = self.tail_queued > 0;
        let indexed = queued || !self.searcher.searcher.segment_readers().is_empty();
        // The old tail's documents hold positions in the old table: gone before anything
        // here can fail, so no snapshot can pair them with the compacted table.
        self.tail.clear();
        self.tail_len = 0;
        self.tail_queued = 0;
        if queued {
            self.text.commit()?;
        }
        if indexed {
            self.text.clear()?;
        }
        if self.table.len < p.commit_every {
            let mut batch = TailBatch::default();
            for (seg, &start) in self.table.segments.iter().zip(&self.table.starts) {
                for i in 0..seg.len() {
                    batch.push(&mut self.analyzer, seg.key(i), start + i, &seg.text[i]);
                }
            }
            self.tail_len = self.table.len;
            if !batch.docs.is_empty() {
                TailBatch::push_into(&mut self.tail, batch);
            }
            if indexed {
                self.searcher = self.text.commit()?;
            }
        } else {
            let docs = self.docs_from(0);
            self.text.add_all(docs)?;
            self.searcher = self.text.commit()?;
        }
        self.ivf = self.ivf.as_ref().map(|ivf| Arc::new(ivf.reassigned(&self.table)));
        Ok(())
    }

    fn maintain_vectors(&mut self, p: &MemoryParams) {
        match &self.ivf {
            None if self.live >= p.ivf_min_items => {
                self.ivf = Some(Arc::new(Ivf::train(&self.table, p.dim, self.live)));
            }
            Some(ivf) if self.live >= 2 * ivf.trained_on => {
                self.ivf = Some(Arc::new(Ivf::train(&self.table, p.dim, self.live)));
            }
            Some(ivf) if ivf.wants_extend(&self.table) => {
                self.ivf = Some(Arc::new(ivf.extended(&self.table)));
            }
            _ => {}
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new(params: MemoryParams) -> Result<Self> {
        params.validate()?;
        let analyzer = Analyzer::default();
        let text = TextIndex::new(&analyzer)?;
        let writer = Writer::new(&params, text, analyzer);
        Ok(Self::from_writer(params, writer))
    }

    pub(crate) fn from_writer(params: MemoryParams, writer: Writer) -> Self {
        let params = Arc::new(params);
        let snap = writer.snapshot(&params);
        MemoryStore {
            params,
            current: ArcSwap::from_pointee(snap),
            staged: Mutex::new(Vec::new()),
            pending: DashMap::new(),
            seqs: DashMap::new(),
            writer: Mutex::new(writer),
            recorded: Mutex::new(None),
            recording: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Starts recording every item inserted and every recall query callers note with
    /// [`MemoryStore::note_query`] (the analysts note each of theirs): the recall bench
    /// replays what a real run wrote and asked. Off by default; one atomic load per insert
    /// and per query when off.
    pub fn record(&self) {
        *lock(&self.recorded) = Some(Recording::default());
        self.recording.store(true, std::sync::atomic::Ordering::Release);
    }

    fn recorder(&self) -> Option<MutexGuard<'_, Option<Recording>>> {
        self.recording.load(std::sync::atomic::Ordering::Acquire).then(|| lock(&self.recorded))
    }

    /// Notes a recall query, if recording.
    pub fn note_query(&self, q: &Query) {
        if let Some(mut r) = self.recorder()
            && let Some(r) = r.as_mut()
        {
            r.queries.push(q.clone());
        }
    }

    /// What was recorded since [`MemoryStore::record`], in call order; recording stops.
    pub fn take_recording(&self) -> Recording {
        self.recording.store(false, std::sync::atomic::Ordering::Release);
        lock(&self.recorded).take().unwrap_or_default()
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        lock(&self.writer)
    }

    /// The parameters.
    pub fn params(&self) -> &MemoryParams {
        &self.params
    }

    fn next_seq(&self, source: &str) -> u64 {
        let mut e = self.seqs.entry(source.to_string()).or_insert(0);
        *e += 1;
        *e
    }

    /// Checks an item against the store's rules.
    pub fn check(&self, item: &NewItem) -> Result<()> {
        let p = &self.params;
        if item.agent.trim().is_empty() {
            return Err(MemoryError::Invalid("field `agent` is empty".into()));
        }
        if item.symbol.trim().is_empty() {
            return Err(MemoryError::Invalid("field `symbol` is empty".into()));
        }
        if !item.vector.is_empty() && item.vector.len() != p.dim {
            return Err(MemoryError::Invalid(format!(
                "field `vector`: {} values, this store's dimension is {}",
                item.vector.len(),
                p.dim
            )));
        }
        if item.vector.iter().any(|x| !x.is_finite()) {
            return Err(MemoryError::Invalid("field `vector`: values must be finite".into()));
        }
        if !(item.importance.is_finite() && (0.0..=100.0).contains(&item.importance)) {
            return Err(MemoryError::Invalid(format!("field `importance`: {} is outside [0, 100]", item.importance)));
        }
        if item.outcome.is_some_and(|r| !r.is_finite()) {
            return Err(MemoryError::Invalid("field `outcome`: must be finite".into()));
        }
        Ok(())
    }

    /// Stages an item; it becomes visible at the next `publish`.
    pub fn insert(&self, item: NewItem) -> Result<()> {
        self.check(&item)?;
        if let Some(mut r) = self.recorder()
            && let Some(r) = r.as_mut()
        {
            r.items.push(item.clone());
        }
        let seq = self.next_seq(&item.agent);
        lock(&self.staged).push(Staged { seq, item });
        Ok(())
    }

    /// Stages a reward in [-1, 1] for each of `ids` (applied at the next `publish`).
    pub fn reinforce(&self, source: &str, ids: &[ItemId], reward: f64) {
        for &id in ids {
            let seq = self.next_seq(source);
            self.pending.entry(id).or_default().push(Pending { source: source.to_string(), seq, reward });
        }
    }

    /// The current snapshot (cheap: an `Arc` clone, no lock).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Recall on the current snapshot.
    pub fn recall(&self, q: &Query) -> Result<Vec<Hit>> {
        self.current.load().recall(q)
    }

    /// Applies staged writes and maintenance as of event time `now`, then publishes a new
    /// snapshot. `now` must not go backwards.
    pub fn publish(&self, now: Ts) -> Result<PublishReport> {
        self.publish_inner(now, true)
    }

    /// Publishes without the decay sweep (no demotion or cleanup; capacity still holds):
    /// for bulk loads of historical items, which should not be judged as of the newest one.
    pub fn publish_bulk(&self, now: Ts) -> Result<PublishReport> {
        self.publish_inner(now, false)
    }

    fn publish_inner(&self, now: Ts, sweep: bool) -> Result<PublishReport> {
        let p = &*self.params;
        let mut w = lock(&self.writer);
        if now < w.now {
            return Err(MemoryError::Invalid(format!(
                "publish at {} is before the previous publish at {}",
                crate::market::time::format_ts(now),
                crate::market::time::format_ts(w.now)
            )));
        }
        w.now = now;
        w.epoch += 1;
        let mut report = PublishReport::default();

        let mut staged = std::mem::take(&mut *lock(&self.staged));
        staged.sort_by(|a, b| (a.item.time, &a.item.agent, a.seq).cmp(&(b.item.time, &b.item.agent, b.seq)));
        if !staged.is_empty() {
            self.apply_inserts(&mut w, staged, &mut report)?;
        }

        let keys: Vec<ItemId> = self.pending.iter().map(|e| *e.key()).collect();
        let mut pend: Vec<(ItemId, Pending)> = Vec::new();
        for id in keys {
            if let Some((_, list)) = self.pending.remove(&id) {
                pend.extend(list.into_iter().map(|x| (id, x)));
            }
        }
        pend.sort_by(|a, b| (a.0, &a.1.source, a.1.seq).cmp(&(b.0, &b.1.source, b.1.seq)));
        for (id, x) in pend {
            let Some(pos) = w.table.position(id).filter(|&pos| w.table.state(pos).alive) else {
                report.unknown_ids += 1;
                continue;
            };
            let st = *w.table.state(pos);
            let imp = rank::importance(p, st.layer, st.importance, st.imp_time, now);
            let s = w.table.state_mut(pos);
            s.importance = rank::reinforce(imp, x.reward, p.reinforce_rate);
            s.imp_time = now;
            s.access = s.access.saturating_add(1);
            report.reinforced += 1;
            if w.promote(p, pos, now) {
                report.promoted += 1;
            }
        }

        let interval = (p.sweep_every_minutes * NS_PER_MIN as f64) as i64;
        if sweep && (w.last_sweep == i64::MIN || now - w.last_sweep >= interval) {
            w.sweep(p, now, &mut report);
        }
        w.enforce_capacity(p, now, &mut report);
        // Compact once dead slots are at least as many as live items and number at least 1,024:
        // every recall scans slots, tail and index including the dead, and in an intraday
        // run most memories fade within hours (live sets of tens to thousands).
        let dead = w.table.len - w.live;
        if dead >= 1024 && dead >= w.live {
            w.compact(p)?;
            report.compacted = true;
            report.committed = true;
            tracing::debug!(live = w.live, dead, at = %crate::market::time::format_ts(now), "memory compacted");
        } else if w.tail_len >= p.commit_every {
            w.commit()?;
            report.committed = true;
        }
        w.maintain_vectors(p);
        tracing::trace!(
            at = %crate::market::time::format_ts(now),
            inserted = report.inserted,
            reinforced = report.reinforced,
            promoted = report.promoted,
            demoted = report.demoted,
            cleaned = report.cleaned,
            evicted = report.evicted,
            live = w.live,
            "memory published"
        );
        let snap = w.snapshot(&self.params);
        self.current.store(Arc::new(snap));
        Ok(report)
    }

    fn apply_inserts(&self, w: &mut Writer, staged: Vec<Staged>, report: &mut PublishReport) -> Result<()> {
        let p = &*self.params;
        let dim = p.dim;
        let mut seg = Segment::default();
        let mut states = Vec::with_capacity(staged.len());
        let mut batch = TailBatch::default();
        // A batch that takes the uncommitted count to `commit_every` is committed later in
        // this same publish (by `commit` or `compact`, which rebuilds from the table), before
        // any snapshot shows it: its tail documents would never be read, so they are not
        // built (a bulk load then analyses each text once, in tantivy's indexing threads,
        // instead of twice).
        let n = staged.len();
        let committed_now = w.tail_len + n >= p.commit_every;
        for Staged { item, .. } in staged {
            let names = Arc::make_mut(&mut w.names);
            let (Some(agent), Some(symbol)) = (names.agent(&item.agent), names.symbol(&item.symbol)) else {
                return Err(MemoryError::Invalid("more than 65,536 distinct agents or symbols".into()));
            };
            let id = w.next_id;
            w.next_id += 1;
            let key = RowKey { id, time: item.time, agent, symbol, kind: item.kind };
            if !committed_now {
                batch.push(&mut w.analyzer, key, w.table.len + seg.len(), &item.text);
            }
            if item.kind == Kind::Outcome
                && let Some(ret) = item.outcome
            {
                Arc::make_mut(&mut w.aggregates).add(item.time, &item.agent, &item.symbol, ret);
            }
            let extra = ItemExtra {
                outcome: item.outcome,
                metadata: item.metadata,
                source_id: item.source_id,
                raw_vector: item.vector,
            };
            seg.push_new(key, &item.text, extra, dim);
            states.push(ItemState {
                importance: item.importance,
                imp_time: item.time,
                anchor: item.time,
                access: 0,
                layer: item.layer,
                alive: true,
            });
            w.live += 1;
            w.by_layer[item.layer.index()] += 1;
            w.max_time = w.max_time.max(item.time);
            report.inserted += 1;
        }
        w.tail_len += n;
        if !committed_now {
            TailBatch::push_into(&mut w.tail, batch);
        }
        w.table.append(seg, states);
        if n >= EAGER {
            w.hand_over()?;
        }
        Ok(())
    }

    /// Drops dead slots and rebuilds the text index from the live items now.
    pub fn compact(&self) -> Result<()> {
        let mut w = lock(&self.writer);
        let p = self.params.clone();
        w.compact(&p)?;
        let snap = w.snapshot(&self.params);
        self.current.store(Arc::new(snap));
        Ok(())
    }

    /// Commits the text index now: the tail's items move into the index (a speed matter
    /// only; recalls are the same before and after).
    pub fn commit(&self) -> Result<()> {
        let mut w = lock(&self.writer);
        w.commit()?;
        let snap = w.snapshot(&self.params);
        self.current.store(Arc::new(snap));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Ts = 1_381_152_600_000_000_000;

    fn item(t: Ts, agent: &str, text: &str) -> NewItem {
        NewItem::new(t, agent, "SPY", Kind::Observation, text.to_string())
    }

    /// A compaction that leaves fewer than `commit_every` live items moves them from a
    /// non-empty index into the tail, and no recall notices: the same as a twin store that
    /// commits every item and compacts into the index.
    #[test]
    fn test_store_compaction_from_index_into_tail_changes_no_recall() {
        let params = |commit_every: usize| MemoryParams {
            dim: 2,
            commit_every,
            short: crate::memory::LayerParams { capacity: 6, ..MemoryParams::default().short },
            ..MemoryParams::default()
        };
        let (tail, twin) = (MemoryStore::new(params(10)).unwrap(), MemoryStore::new(params(1)).unwrap());
        let words = ["spring calm", "upthrust storm", "calm drift", "spring spring gap"];
        for s in [&tail, &twin] {
            for k in 0..30i64 {
                s.insert(item(k, ["a", "b"][k as usize % 2], words[k as usize % 4])).unwrap();
                if k % 3 == 2 {
                    s.publish(k).unwrap();
                }
            }
            s.compact().unwrap();
        }
        let c = tail.snapshot().counts();
        assert_eq!((c.live, c.slots, c.tail), (6, 6, 6), "every live item in the tail");
        assert_eq!(twin.snapshot().counts().tail, 0);
        for (text, agent) in [("spring", None), ("calm storm", Some("a")), ("gap drift spring", Some("b"))] {
            let q =
                Query { text: Some(text.into()), agent: agent.map(str::to_string), at: 40, k: 6, ..Default::default() };
            let bits = |s: &MemoryStore| -> Vec<(ItemId, u64)> {
                s.recall(&q).unwrap().iter().map(|h| (h.id, h.score.to_bits())).collect()
            };
            assert!(!bits(&tail).is_empty(), "{text}");
            assert_eq!(bits(&tail), bits(&twin), "{text}");
        }
    }

    /// Recording keeps accepted inserts and noted queries in call order, between `record`
    /// and `take_recording` only.
    #[test]
    fn test_store_records_inserts_and_queries_while_on() {
        let s = MemoryStore::new(MemoryParams::default()).unwrap();
        let q = Query { text: Some("calm".into()), at: 5, k: 3, ..Default::default() };
        s.insert(item(1, "a", "before")).unwrap();
        s.note_query(&q);
        s.record();
        s.insert(item(2, "b", "first")).unwrap();
        assert!(s.insert(item(2, " ", "refused")).is_err());
        s.note_query(&q);
        s.insert(item(3, "a", "second")).unwrap();
        let r = s.take_recording();
        let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(r.queries, vec![q.clone()]);
        s.insert(item(4, "a", "after")).unwrap();
        s.note_query(&q);
        assert!(s.take_recording().items.is_empty(), "recording stopped");
    }

    /// Ids follow (event time, agent, the agent's own call order), whatever the threads'
    /// interleaving; staged items are invisible until the publish.
    #[test]
    fn test_store_ids_deterministic_across_thread_interleavings() {
        let ids = |interleave: bool| {
            let store = MemoryStore::new(MemoryParams::default()).unwrap();
            std::thread::scope(|s| {
                for agent in ["zed", "amy"] {
                    let store = &store;
                    s.spawn(move || {
                        for k in 0..50 {
                            if interleave && k % 7 == 0 {
                                std::thread::yield_now();
                            }
                            store.insert(item(T0 + (k % 3) * NS_PER_MIN, agent, &format!("{agent} {k}"))).unwrap();
                        }
                    });
                }
            });
            assert_eq!(store.snapshot().counts().live, 0, "staged, not published");
            store.publish(T0 + 3 * NS_PER_MIN).unwrap();
            let snap = store.snapshot();
            snap.items(snap.now()).map(|i| (i.id, i.time, i.agent, i.text.to_string())).collect::<Vec<_>>()
        };
        let a = ids(false);
        assert_eq!(a.len(), 100);
        assert_eq!(a, ids(true));
        // Within one time: "amy" before "zed", each in its own call order.
        assert_eq!((a[0].2.as_str(), a[0].3.as_str()), ("amy", "amy 0"));
        assert!(a.windows(2).all(|w| (w[0].1, &w[0].2) <= (w[1].1, &w[1].2)), "sorted by (time, agent)");
    }

    #[test]
    fn test_store_publish_reports_and_refuses_going_back() {
        let store = MemoryStore::new(MemoryParams::default()).unwrap();
        store.insert(item(T0, "a", "one")).unwrap();
        store.reinforce("a", &[999], 1.0);
        let r = store.publish(T0).unwrap();
        assert_eq!((r.inserted, r.unknown_ids), (1, 1));
        store.reinforce("a", &[1], 1.0);
        let r = store.publish(T0 + NS_PER_MIN).unwrap();
        assert_eq!((r.inserted, r.reinforced), (0, 1));
        let e = store.publish(T0).unwrap_err().to_string();
        assert!(e.contains("before the previous publish"), "{e}");
    }
}
