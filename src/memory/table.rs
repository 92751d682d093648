//! The item table: immutable column segments plus copy-on-write per-item state.
//!
//! Readers hold an `Arc<Snapshot>` whose table shares every segment and state chunk with
//! the writer's table through `Arc`s. The writer never mutates a shared piece: new items go
//! into a new segment (small segments are merged like a binary counter, so there are
//! O(log n) of them and each item is copied O(log n) times), and a state change clones only
//! its 256-item chunk (`Arc::make_mut`). Publishing a snapshot therefore costs
//! O(segments + chunks) pointer copies, not a copy of the data, and readers never wait.
//!
//! Chunks were 1,024 items until issue 16 measured what a publish copies in a real run:
//! every publish that inserts copies the last chunk (the previous snapshot shares it), and
//! every publish that reinforces copies each chunk it touches once. On the spy_1m_2011
//! graph that was 8% of all instructions (`memcpy` under `Table::append` and
//! `Arc::make_mut`, cachegrind). At 256 items the run executes 5.2% fewer instructions;
//! 64 saved nothing more, and smaller chunks make each snapshot cost more pointer copies
//! (a 1M-item memory holds 3,907 chunks).

use std::collections::HashMap;
use std::sync::Arc;

use super::item::{ItemExtra, ItemId, Kind, Layer};
use crate::market::Ts;

/// Items per state chunk.
pub(super) const STATE_CHUNK: usize = 256;

/// Mutable per-item state (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ItemState {
    /// Importance (0–100) as set at `imp_time`.
    pub importance: f64,
    pub imp_time: Ts,
    /// Recency anchor: insert time, reset by promotion.
    pub anchor: Ts,
    pub access: u32,
    pub layer: Layer,
    pub alive: bool,
}

/// The scalar columns of a new item.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowKey {
    pub id: ItemId,
    pub time: Ts,
    pub agent: u16,
    pub symbol: u16,
    pub kind: Kind,
}

/// Immutable columns of a run of items (contiguous positions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Segment {
    pub ids: Vec<ItemId>,
    pub time: Vec<Ts>,
    pub agent: Vec<u16>,
    pub symbol: Vec<u16>,
    pub kind: Vec<Kind>,
    pub has_vec: Vec<bool>,
    /// `len × dim`, unit-normalised (zeros where the item has no vector).
    pub vectors: Vec<f32>,
    pub text: Vec<Arc<str>>,
    pub extra: Vec<Arc<ItemExtra>>,
}

impl Segment {
    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends a new item: the vector is stored unit-normalised (zeros when absent or not
    /// finite), the raw vector kept in `extra`.
    pub(crate) fn push_new(&mut self, key: RowKey, text: &str, extra: ItemExtra, dim: usize) {
        let mut v = extra.raw_vector.clone();
        let has_vec = !v.is_empty() && super::cosine::normalise(&mut v);
        if !has_vec {
            v = vec![0.0; dim];
        }
        self.ids.push(key.id);
        self.time.push(key.time);
        self.agent.push(key.agent);
        self.symbol.push(key.symbol);
        self.kind.push(key.kind);
        self.has_vec.push(has_vec);
        self.vectors.extend_from_slice(&v);
        self.text.push(Arc::from(text));
        self.extra.push(Arc::new(extra));
    }

    /// The scalar columns of item `i`.
    pub(crate) fn key(&self, i: usize) -> RowKey {
        RowKey { id: self.ids[i], time: self.time[i], agent: self.agent[i], symbol: self.symbol[i], kind: self.kind[i] }
    }

    /// The items of `a` then `b`, each column allocated once (the binary-counter merges of
    /// [`Table::append`] copy every item O(log n) times; growing the columns push by push
    /// doubled that and touched fresh pages at every doubling).
    pub(crate) fn concat(a: &Segment, b: &Segment) -> Segment {
        fn cat<T: Clone>(x: &[T], y: &[T]) -> Vec<T> {
            let mut v = Vec::with_capacity(x.len() + y.len());
            v.extend_from_slice(x);
            v.extend_from_slice(y);
            v
        }
        Segment {
            ids: cat(&a.ids, &b.ids),
            time: cat(&a.time, &b.time),
            agent: cat(&a.agent, &b.agent),
            symbol: cat(&a.symbol, &b.symbol),
            kind: cat(&a.kind, &b.kind),
            has_vec: cat(&a.has_vec, &b.has_vec),
            vectors: cat(&a.vectors, &b.vectors),
            text: cat(&a.text, &b.text),
            extra: cat(&a.extra, &b.extra),
        }
    }

    /// Appends item `i` of `other`.
    pub(crate) fn push_from(&mut self, other: &Segment, i: usize, dim: usize) {
        self.ids.push(other.ids[i]);
        self.time.push(other.time[i]);
        self.agent.push(other.agent[i]);
        self.symbol.push(other.symbol[i]);
        self.kind.push(other.kind[i]);
        self.has_vec.push(other.has_vec[i]);
        self.vectors.extend_from_slice(&other.vectors[i * dim..(i + 1) * dim]);
        self.text.push(other.text[i].clone());
        self.extra.push(other.extra[i].clone());
    }
}

/// Interned agent and symbol names (ids are `u16`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub agents: Vec<String>,
    pub symbols: Vec<String>,
    agent_ids: HashMap<String, u16>,
    symbol_ids: HashMap<String, u16>,
}

impl Names {
    fn intern(names: &mut Vec<String>, ids: &mut HashMap<String, u16>, s: &str) -> Option<u16> {
        if let Some(&id) = ids.get(s) {
            return Some(id);
        }
        let id = u16::try_from(names.len()).ok()?;
        names.push(s.to_string());
        ids.insert(s.to_string(), id);
        Some(id)
    }

    /// The id of agent `s`, adding it if new (None past 65,536 names).
    pub(crate) fn agent(&mut self, s: &str) -> Option<u16> {
        Self::intern(&mut self.agents, &mut self.agent_ids, s)
    }

    /// The id of symbol `s`, adding it if new.
    pub(crate) fn symbol(&mut self, s: &str) -> Option<u16> {
        Self::intern(&mut self.symbols, &mut self.symbol_ids, s)
    }

    /// The id of a known agent.
    pub(crate) fn agent_id(&self, s: &str) -> Option<u16> {
        self.agent_ids.get(s).copied()
    }

    /// The id of a known symbol.
    pub(crate) fn symbol_id(&self, s: &str) -> Option<u16> {
        self.symbol_ids.get(s).copied()
    }
}

/// Segments and state of every stored item (dead ones included until compaction).
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub segments: Vec<Arc<Segment>>,
    /// Position of each segment's first item.
    pub starts: Vec<usize>,
    pub len: usize,
    pub state: Vec<Arc<Vec<ItemState>>>,
}

impl Table {
    /// Segment index and offset of position `pos`.
    #[inline]
    pub(crate) fn locate(&self, pos: usize) -> (usize, usize) {
        let s = self.starts.partition_point(|&st| st <= pos) - 1;
        (s, pos - self.starts[s])
    }

    /// State of position `pos`.
    #[inline]
    pub(crate) fn state(&self, pos: usize) -> &ItemState {
        &self.state[pos / STATE_CHUNK][pos % STATE_CHUNK]
    }

    /// Mutable state of `pos` (clones its chunk if a snapshot shares it).
    #[inline]
    pub(crate) fn state_mut(&mut self, pos: usize) -> &mut ItemState {
        &mut Arc::make_mut(&mut self.state[pos / STATE_CHUNK])[pos % STATE_CHUNK]
    }

    /// Position of item `id` (ids increase with position).
    pub(crate) fn position(&self, id: ItemId) -> Option<usize> {
        let s = self.segments.partition_point(|seg| seg.ids.first().is_some_and(|&f| f <= id));
        if s == 0 {
            return None;
        }
        let seg = &self.segments[s - 1];
        // Ids are handed out in order, so until compaction leaves gaps a segment holds `id`
        // at `id - first`: one load instead of a binary search (cache misses) per lookup.
        let guess = (id - seg.ids[0]) as usize;
        if seg.ids.get(guess) == Some(&id) {
            return Some(self.starts[s - 1] + guess);
        }
        seg.ids.binary_search(&id).ok().map(|off| self.starts[s - 1] + off)
    }

    /// Appends a segment of new items with their initial states, then merges trailing
    /// segments while the last is at least half the size of the one before it.
    pub(crate) fn append(&mut self, seg: Segment, states: Vec<ItemState>) {
        debug_assert_eq!(seg.len(), states.len());
        if seg.is_empty() {
            return;
        }
        for st in states {
            if self.len.is_multiple_of(STATE_CHUNK) {
                self.state.push(Arc::new(Vec::with_capacity(STATE_CHUNK)));
            }
            let last = self.state.last_mut().expect("chunk");
            if Arc::get_mut(last).is_none() {
                // Shared with the last snapshot: copy it once at the chunk's full capacity
                // (`Arc::make_mut` copies at its length, and the next push reallocated).
                let mut own = Vec::with_capacity(STATE_CHUNK);
                own.extend_from_slice(last);
                *last = Arc::new(own);
            }
            Arc::get_mut(last).expect("unique").push(st);
            self.len += 1;
        }
        self.starts.push(self.len - seg.len());
        self.segments.push(Arc::new(seg));
        while self.segments.len() >= 2 {
            let n = self.segments.len();
            if self.segments[n - 1].len() * 2 < self.segments[n - 2].len() {
                break;
            }
            let b = self.segments.pop().expect("two");
            let a = self.segments.pop().expect("two");
            self.starts.pop();
            self.segments.push(Arc::new(Segment::concat(&a, &b)));
        }
    }

    /// Rebuilds the table with live items only (positions change; ids do not).
    pub(crate) fn compact(&self, dim: usize) -> Table {
        let mut seg = Segment::default();
        let mut states = Vec::new();
        for (s, segment) in self.segments.iter().enumerate() {
            for i in 0..segment.len() {
                let st = *self.state(self.starts[s] + i);
                if st.alive {
                    seg.push_from(segment, i, dim);
                    states.push(st);
                }
            }
        }
        let mut t = Table::default();
        t.append(seg, states);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(ids: std::ops::Range<u64>) -> (Segment, Vec<ItemState>) {
        let mut s = Segment::default();
        let mut st = Vec::new();
        for id in ids {
            s.ids.push(id);
            s.time.push(id as i64);
            s.agent.push(0);
            s.symbol.push(0);
            s.kind.push(Kind::Observation);
            s.has_vec.push(false);
            s.vectors.push(0.0);
            s.text.push(Arc::from("x"));
            s.extra.push(Arc::new(ItemExtra::default()));
            st.push(ItemState {
                importance: 50.0,
                imp_time: 0,
                anchor: 0,
                access: 0,
                layer: Layer::Short,
                alive: id % 3 != 0,
            });
        }
        (s, st)
    }

    #[test]
    fn test_table_append_merges_and_finds_ids() {
        let mut t = Table::default();
        let mut next = 0u64;
        for n in [5u64, 3, 7, 1, 1, 1, 2000, 4] {
            let (s, st) = seg(next..next + n);
            t.append(s, st);
            next += n;
        }
        assert_eq!(t.len, next as usize);
        assert!(t.segments.len() <= 6, "{}", t.segments.len());
        for id in 0..next {
            let p = t.position(id).unwrap();
            let (s, o) = t.locate(p);
            assert_eq!(t.segments[s].ids[o], id);
        }
        assert_eq!(t.position(next), None);
        let c = t.compact(1);
        assert!(c.len < t.len);
        for id in 0..next {
            assert_eq!(c.position(id).is_some(), id % 3 != 0);
        }
    }

    #[test]
    fn test_state_mut_copies_only_shared_chunk() {
        let mut t = Table::default();
        let (s, st) = seg(0..3000);
        t.append(s, st);
        let snapshot = t.clone();
        t.state_mut(5).importance = 99.0;
        assert_eq!(snapshot.state(5).importance, 50.0);
        assert_eq!(t.state(5).importance, 99.0);
        assert!(Arc::ptr_eq(&t.state[1], &snapshot.state[1]));
        assert!(!Arc::ptr_eq(&t.state[0], &snapshot.state[0]));
    }
}
