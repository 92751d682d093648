//! Full-text side: a tantivy index (BM25) over item texts, plus the searchable tail.
//!
//! tantivy commits are expensive (a segment flush and a reader reload, ~ms), so items are
//! committed in batches of `commit_every`. Items published since the last commit form the
//! tail: small immutable batches with their own inverted lists, scored here with tantivy's
//! own `Bm25Weight` against the committed index's statistics (the statistics a doc would
//! meet after the commit, minus the tail's own contribution), so visibility is exact at
//! every publish and scores agree with the index's. Tail batches are merged when there are
//! more than eight, keeping a query's tail cost to a few hash lookups.
//!
//! Immutable filters (agent, symbol, kind, time range) run inside tantivy as zero-score
//! clauses; mutable ones (layer, alive) are applied to the candidates afterwards.
//!
//! `id` and `time` are fast fields only, not indexed: a unique term per document made
//! tantivy build a term dictionary as large as the index on every commit (that was the
//! largest cost of inserting). Without an id term there are no per-document deletes:
//! cleaned-up items stay in the index, filtered out by their state, until compaction
//! (dead slots > 30%) rebuilds the index from the live items. The index
//! lives in RAM (`RamDirectory`), no stored fields (the store keeps the texts). Texts are
//! analysed by [`Analyzer`] (words, lower-cased, English Snowball stems: "springs" finds
//! "spring") and handed to tantivy pre-tokenized.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;
use tantivy::directory::RamDirectory;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::error::Result;
use super::item::{ItemId, Kind};
use crate::market::Ts;

/// Schema fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub time: Field,
    pub agent: Field,
    pub symbol: Field,
    pub kind: Field,
    pub text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("quorum").set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_u64_field("id", FAST),
        time: b.add_i64_field("time", FAST),
        agent: b.add_text_field("agent", STRING),
        symbol: b.add_text_field("symbol", STRING),
        kind: b.add_text_field("kind", STRING),
        text: b.add_text_field("text", text_opts),
    };
    (b.build(), fields)
}

/// The text analyzer: words (runs of alphanumeric characters, as tantivy's
/// `SimpleTokenizer`), longer than 40 bytes dropped, lower-cased, English Snowball stems.
///
/// Stemming is the dearest step (~0.3 µs a word with tantivy's `Stemmer`) and memories
/// reuse a small vocabulary, so each analyzer (the publishing thread's, and one per tantivy
/// indexing thread, registered as the `quorum` tokenizer) caches its stems in a private
/// map: no locks. ASCII text (the common case) is scanned as bytes. Measured on 50k
/// synthetic items: tantivy's own `en_stem` indexed 118–146k docs/s on one thread; handing
/// tantivy pre-tokenized text was slower still (it round-trips tokens through JSON). See
/// benches/memory_insert.rs for the whole insert path.
pub struct Analyzer {
    stemmer: TextAnalyzer,
    cache: FxHashMap<Box<str>, Box<str>>,
    lower: String,
}

impl Clone for Analyzer {
    fn clone(&self) -> Self {
        Analyzer { stemmer: self.stemmer.clone(), cache: FxHashMap::default(), lower: String::new() }
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            stemmer: TextAnalyzer::builder(RawTokenizer::default()).filter(Stemmer::new(Language::English)).build(),
            cache: FxHashMap::default(),
            lower: String::new(),
        }
    }
}

impl Analyzer {
    /// Calls `f(stem, from, to)` for each word of `text`, in order.
    pub fn each_term(&mut self, text: &str, mut f: impl FnMut(&str, usize, usize)) {
        let bytes = text.as_bytes();
        let ascii = text.is_ascii();
        let mut i = 0;
        while i < bytes.len() {
            // Find the next word: [from, to).
            let (from, to) = if ascii {
                while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let from = i;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                (from, i)
            } else {
                let rest = &text[i..];
                let Some(off) = rest.find(|c: char| c.is_alphanumeric()) else { break };
                let from = i + off;
                let len = text[from..].find(|c: char| !c.is_alphanumeric()).unwrap_or(text.len() - from);
                i = from + len;
                (from, i)
            };
            if from == to || to - from > 40 {
                continue;
            }
            self.lower.clear();
            if ascii {
                self.lower.extend(text[from..to].bytes().map(|b| b.to_ascii_lowercase() as char));
            } else {
                for c in text[from..to].chars() {
                    self.lower.extend(c.to_lowercase());
                }
            }
            if let Some(stem) = self.cache.get(self.lower.as_str()) {
                f(stem, from, to);
                continue;
            }
            let mut st = self.stemmer.token_stream(&self.lower);
            let stem: Box<str> = if st.advance() { st.token().text.as_str().into() } else { "".into() };
            drop(st);
            f(&stem, from, to);
            if self.cache.len() >= 200_000 {
                self.cache.clear();
            }
            self.cache.insert(self.lower.as_str().into(), stem);
        }
    }

    /// The tokens of `text` (stemmed terms with positions and offsets), for tantivy.
    pub fn tokens(&mut self, text: &str) -> Vec<Token> {
        let mut out: Vec<Token> = Vec::new();
        self.each_term(text, |stem, from, to| {
            let position = out.len();
            out.push(Token { offset_from: from, offset_to: to, position, text: stem.to_string(), position_length: 1 });
        });
        out
    }

    /// Term keys with frequencies (sorted by key) and the token count, for tail postings.
    pub fn term_keys(&mut self, text: &str) -> (Vec<(u64, u32)>, u32) {
        let mut keys: Vec<u64> = Vec::new();
        self.each_term(text, |stem, _, _| keys.push(term_key(stem)));
        let len = keys.len() as u32;
        keys.sort_unstable();
        let mut out: Vec<(u64, u32)> = Vec::with_capacity(keys.len());
        for k in keys {
            match out.last_mut() {
                Some((last, n)) if *last == k => *n += 1,
                _ => out.push((k, 1)),
            }
        }
        (out, len)
    }

    /// Distinct stemmed terms of a query text, in order of first appearance.
    pub fn query_terms(&mut self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.each_term(text, |stem, _, _| {
            if !out.iter().any(|t| t == stem) {
                out.push(stem.to_string());
            }
        });
        out
    }
}

/// [`Analyzer`] as a tantivy tokenizer.
#[derive(Clone, Default)]
pub struct QuorumTokenizer {
    analyzer: Analyzer,
}

impl QuorumTokenizer {
    /// A tokenizer sharing `analyzer`'s stem cache.
    pub fn new(analyzer: &Analyzer) -> Self {
        QuorumTokenizer { analyzer: analyzer.clone() }
    }
}

/// The tokens of one text, handed out one by one.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for QuorumTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream { tokens: self.analyzer.tokens(text), next: 0 }
    }
}

/// The 64-bit key of a term in tail postings.
#[inline]
pub fn term_key(term: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(term.as_bytes());
    h.finish()
}

/// Immutable filters a text search runs inside the index.
#[derive(Debug, Clone, Default)]
pub struct TextFilter<'a> {
    pub agent: Option<&'a str>,
    pub symbol: Option<&'a str>,
    /// The same agent and symbol as interned ids (for the tail).
    pub agent_id: Option<u16>,
    pub symbol_id: Option<u16>,
    pub kind: Option<Kind>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
}

/// One tail document: the filter columns and the term frequencies of one item.
#[derive(Debug, Clone)]
pub struct TailDoc {
    pub id: ItemId,
    pub time: Ts,
    pub agent: u16,
    pub symbol: u16,
    pub kind: Kind,
    pub len: u32,
    /// (term key, frequency), sorted by key: lets a selective query score its few
    /// documents directly instead of walking postings shared with everything else.
    pub terms: Arc<[(u64, u32)]>,
}

/// An immutable batch of tail documents with its inverted lists.
#[derive(Debug, Clone, Default)]
pub struct TailBatch {
    pub docs: Vec<TailDoc>,
    /// Postings by `term_key`: (document index, term frequency).
    pub postings: FxHashMap<u64, Vec<(u32, u32)>>,
}

impl TailBatch {
    /// Adds a document with its term frequencies (by `term_key`).
    pub fn push(&mut self, doc: TailDoc, terms: &[(u64, u32)]) {
        let idx = self.docs.len() as u32;
        for (t, tf) in terms {
            self.postings.entry(*t).or_default().push((idx, *tf));
        }
        self.docs.push(doc);
    }

    /// Appends `batch` to `tail`, then merges trailing batches while the last is at least
    /// half the size of the one before (a binary counter): O(log n) batches, each document
    /// copied O(log n) times. Merging everything every few publishes was quadratic.
    pub fn push_into(tail: &mut Vec<Arc<TailBatch>>, batch: TailBatch) {
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
    pub fn merge(batches: &[Arc<TailBatch>]) -> TailBatch {
        let mut out = TailBatch::default();
        for b in batches {
            let base = out.docs.len() as u32;
            for (t, list) in &b.postings {
                out.postings.entry(*t).or_default().extend(list.iter().map(|(i, tf)| (i + base, *tf)));
            }
            out.docs.extend(b.docs.iter().cloned());
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

/// BM25 statistics of the committed index (or of the tail alone before the first commit).
pub struct Stats {
    pub docs: u64,
    pub avg_len: f32,
}

/// Indexing threads. Two keep up with the publishing thread on this 2-core machine; doc ids
/// then depend on thread timing, but no result does: BM25 statistics are index-wide
/// integers and ties are broken by item id (`search_committed`).
const INDEX_THREADS: usize = 2;

/// The tantivy index and its writer.
pub struct TextIndex {
    pub index: Index,
    /// The RAM directory behind `index` (shared), for checkpoints.
    pub ram: RamDirectory,
    pub fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
}

impl TextIndex {
    /// A new empty index in RAM whose text field is analysed by `analyzer`.
    pub fn new(analyzer: &Analyzer) -> Result<Self> {
        let (schema, fields) = schema();
        let ram = RamDirectory::create();
        let index = Index::create(ram.clone(), schema, Default::default())?;
        Self::open(index, ram, fields, analyzer)
    }

    /// Opens the index held in `ram` (e.g. loaded from a checkpoint); its schema must be
    /// this version's.
    pub fn open_existing(ram: RamDirectory, analyzer: &Analyzer) -> Result<Self> {
        let index = Index::open(ram.clone())?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(super::error::MemoryError::Invalid("text index schema does not match this version".into()));
        }
        Self::open(index, ram, fields, analyzer)
    }

    fn open(index: Index, ram: RamDirectory, fields: Fields, analyzer: &Analyzer) -> Result<Self> {
        index.tokenizers().register("quorum", TextAnalyzer::from(QuorumTokenizer::new(analyzer)));
        let writer: IndexWriter = index.writer_with_num_threads(INDEX_THREADS, INDEX_THREADS * 30_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(TextIndex { index, ram, fields, writer, reader })
    }

    /// Builds the index document of an item.
    pub fn doc(&self, id: ItemId, time: Ts, agent: &str, symbol: &str, kind: Kind, text: &str) -> TantivyDocument {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, id);
        doc.add_i64(f.time, time);
        doc.add_text(f.agent, agent);
        doc.add_text(f.symbol, symbol);
        doc.add_text(f.kind, kind.name());
        doc.add_text(f.text, text);
        doc
    }

    /// Queues documents for the next commit in hand-overs of up to 512 (one wake-up per
    /// batch instead of one per document; batches still spread over both indexing threads).
    pub fn add_all(&mut self, docs: Vec<TantivyDocument>) -> Result<()> {
        let mut it = docs.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(512).map(tantivy::indexer::UserOperation::Add).collect();
            self.writer.run(batch)?;
        }
        Ok(())
    }

    /// Queues the deletion of every document (applied at the next commit).
    pub fn clear(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Queues one document for the next commit.
    pub fn add(&mut self, id: ItemId, time: Ts, agent: &str, symbol: &str, kind: Kind, text: &str) -> Result<()> {
        let d = self.doc(id, time, agent, symbol, kind, text);
        self.writer.add_document(d)?;
        Ok(())
    }

    /// Commits queued documents and returns a searcher that sees them.
    ///
    /// Segments are merged here, synchronously, by a log-structured rule: segments are
    /// grouped by size level (powers of 4 of 4,096 documents) and a level holding 4 or more
    /// is merged into one. tantivy's default background merging made query times swing by
    /// 50% while merges ran and left the segment count to thread timing; this way the cost
    /// sits in the commit that causes it, each document is merged O(log n) times and the
    /// searcher holds O(log n) segments.
    pub fn commit(&mut self) -> Result<Searcher> {
        self.writer.commit()?;
        loop {
            let metas = self.index.searchable_segment_metas()?;
            let level = |n: u32| -> u32 {
                let mut l = 0;
                let mut cap = 4096u64;
                while n as u64 > cap {
                    cap *= 4;
                    l += 1;
                }
                l
            };
            let mut by_level: std::collections::BTreeMap<u32, Vec<tantivy::index::SegmentId>> = Default::default();
            for m in &metas {
                by_level.entry(level(m.num_docs())).or_default().push(m.id());
            }
            let Some(ids) = by_level.into_values().find(|ids| ids.len() >= 4) else { break };
            self.writer.merge(&ids).wait()?;
        }
        self.reader.reload()?;
        Ok(self.reader.searcher())
    }

    /// A searcher of the last commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }
}

thread_local! {
    /// Per-thread BM25 accumulator: one f32 per document of the largest segment seen,
    /// all zero between queries.
    static ACCUMULATOR: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Read-only text search over a committed searcher and a tail.
pub struct TextView<'a> {
    pub fields: Fields,
    pub searcher: &'a Searcher,
    pub tail: &'a [Arc<TailBatch>],
    /// The latest event time of any stored item (a time filter at or after it is a no-op).
    pub max_time: Ts,
}

impl TextView<'_> {
    /// BM25 statistics: the committed index's, or the tail's own before the first commit.
    pub fn stats(&self) -> Stats {
        let docs = self.searcher.total_num_docs().unwrap_or(0);
        if docs > 0 {
            let tokens = self.searcher.total_num_tokens(self.fields.text).unwrap_or(0);
            return Stats { docs, avg_len: tokens as f32 / docs as f32 };
        }
        let n: u64 = self.tail.iter().map(|b| b.docs.len() as u64).sum();
        let tokens: u64 = self.tail.iter().flat_map(|b| b.docs.iter().map(|d| d.len as u64)).sum();
        Stats { docs: n, avg_len: if n > 0 { tokens as f32 / n as f32 } else { 1.0 } }
    }

    fn doc_freq(&self, term: &str, committed: bool) -> u64 {
        if committed {
            self.searcher.doc_freq(&Term::from_field_text(self.fields.text, term)).unwrap_or(0)
        } else {
            let k = term_key(term);
            self.tail.iter().map(|b| b.postings.get(&k).map_or(0, |l| l.len() as u64)).sum()
        }
    }

    /// Top `limit` committed documents by BM25 among those passing `filter`, as (score, id),
    /// ties broken by id.
    ///
    /// Document-at-a-time over tantivy's postings, scored by tantivy's own `Bm25Weight`
    /// with the index's statistics (the scores a `TermQuery` union gives). Measured on
    /// 100k synthetic items with 3-word queries whose terms sit in 2–8% of the documents:
    /// tantivy's block-max WAND union took ~500 µs (memory texts are short and similar, so
    /// BM25 scores barely vary and its skipping rarely applies; seeding it with a good
    /// threshold from intersections did not help), this merge ~100 µs. Filters on agent,
    /// symbol and kind become a bitset from their postings; the time range, liveness and the
    /// id are read only for documents that would enter the top.
    pub fn search_committed(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        if terms.is_empty() || self.searcher.num_docs() == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let stats = self.stats();
        let term_objs: Vec<Term> = terms.iter().map(|t| Term::from_field_text(f.text, t)).collect();
        // Per term: its weight, and its scores for tf 1 and 2 at every field norm, looked up
        // instead of computed (tantivy's formula divides once per posting).
        let weights: Vec<(Box<[[f32; 2]; 256]>, Bm25Weight)> = term_objs
            .iter()
            .map(|t| {
                let df = self.searcher.doc_freq(t).unwrap_or(0);
                let w = Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len);
                let mut table = Box::new([[0.0f32; 2]; 256]);
                for (norm, row) in table.iter_mut().enumerate() {
                    *row = [w.score(norm as u8, 1), w.score(norm as u8, 2)];
                }
                (table, w)
            })
            .collect();
        let needs_time = filter.from.is_some() || filter.to.is_some_and(|t| t < self.max_time);
        let (from, to) = (filter.from.unwrap_or(i64::MIN), filter.to.unwrap_or(i64::MAX));
        let mut filter_terms: Vec<Term> = Vec::new();
        if let Some(a) = filter.agent {
            filter_terms.push(Term::from_field_text(f.agent, a));
        }
        if let Some(sy) = filter.symbol {
            filter_terms.push(Term::from_field_text(f.symbol, sy));
        }
        if let Some(k) = filter.kind {
            filter_terms.push(Term::from_field_text(f.kind, k.name()));
        }
        let mut top = super::vector::TopK::new(limit);
        for seg in self.searcher.segment_readers() {
            let io = |e: std::io::Error| super::error::MemoryError::from(tantivy::TantivyError::from(e));
            let inv = seg.inverted_index(f.text)?;
            let max_doc = seg.max_doc() as usize;
            let mut lists = Vec::with_capacity(terms.len());
            for (t, w) in term_objs.iter().zip(&weights) {
                if let Some(p) = inv.read_block_postings(t, IndexRecordOption::WithFreqs).map_err(io)? {
                    lists.push((p, w));
                }
            }
            if lists.is_empty() {
                continue;
            }
            // Allowed documents under the immutable filters, as a bitset.
            let allowed: Option<Vec<u64>> = if filter_terms.is_empty() {
                None
            } else {
                let mut acc = vec![u64::MAX; max_doc.div_ceil(64)];
                for ft in &filter_terms {
                    let mut bits = vec![0u64; acc.len()];
                    let finv = seg.inverted_index(ft.field())?;
                    if let Some(mut p) = finv.read_block_postings(ft, IndexRecordOption::Basic).map_err(io)? {
                        loop {
                            let docs = p.docs();
                            if docs.is_empty() {
                                break;
                            }
                            for &d in docs {
                                bits[d as usize / 64] |= 1 << (d % 64);
                            }
                            p.advance();
                        }
                    }
                    acc.iter_mut().zip(&bits).for_each(|(x, y)| *x &= y);
                }
                Some(acc)
            };
            let norms = seg.get_fieldnorms_reader(f.text)?;
            let ids = seg.fast_fields().u64("id")?.first_or_default_col(0);
            let times =
                if needs_time { Some(seg.fast_fields().i64("time")?.first_or_default_col(i64::MIN)) } else { None };
            let alive = seg.alive_bitset();
            ACCUMULATOR.with(|cell| {
                let acc = &mut *cell.borrow_mut();
                if acc.len() < max_doc {
                    acc.resize(max_doc, 0.0);
                }
                let acc = &mut acc[..max_doc];
                // Term at a time: each list streams through in order (no per-document
                // branching between lists), adding into a per-document accumulator.
                for (p, (table, w)) in lists.iter_mut() {
                    loop {
                        let (docs, freqs) = (p.docs(), p.freqs());
                        if docs.is_empty() {
                            break;
                        }
                        // Gather norms, then scores, then scatter: independent loads per stage.
                        let n = docs.len();
                        let mut sc = [0.0f32; 128];
                        for (k, (&d, &tf)) in docs.iter().zip(freqs).enumerate().take(128) {
                            let norm = norms.fieldnorm_id(d) as usize;
                            sc[k] =
                                if tf <= 2 { table[norm][(tf as usize).max(1) - 1] } else { w.score(norm as u8, tf) };
                        }
                        for (&d, &x) in docs.iter().zip(&sc[..n.min(128)]) {
                            acc[d as usize] += x;
                        }
                        p.advance();
                    }
                }
                // One sequential pass reads the scores and clears the accumulator: chunks
                // whose best score cannot enter the top are skipped whole.
                let mut threshold = top.threshold();
                for (c, chunk) in acc.chunks_mut(16).enumerate() {
                    let best = chunk.iter().fold(0.0f32, |m, &x| m.max(x));
                    if best > 0.0 && best >= threshold {
                        for (j, slot) in chunk.iter().enumerate() {
                            let (score, d) = (*slot, (c * 16 + j) as u32);
                            if score <= 0.0
                                || score < threshold
                                || allowed.as_ref().is_some_and(|a| a[d as usize / 64] & (1 << (d % 64)) == 0)
                                || alive.is_some_and(|a| !a.is_alive(d))
                                || times.as_ref().is_some_and(|t| {
                                    let x = t.get_val(d);
                                    x < from || x > to
                                })
                            {
                                continue;
                            }
                            top.push(score, ids.get_val(d), 0);
                            threshold = top.threshold();
                        }
                    }
                    if best > 0.0 {
                        chunk.fill(0.0);
                    }
                }
            });
        }
        Ok(top.into_sorted().into_iter().map(|(s, id, _)| (s, id)).collect())
    }

    /// The top `limit` tail documents by BM25 among those passing `filter` and `keep`, as
    /// (score, id), scored against the committed statistics.
    pub fn search_tail(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        keep: &dyn Fn(ItemId) -> bool,
        limit: usize,
    ) -> Vec<(f32, ItemId)> {
        if terms.is_empty() || self.tail.is_empty() {
            return Vec::new();
        }
        let stats = self.stats();
        let committed = self.searcher.total_num_docs().unwrap_or(0) > 0;
        let weights: Vec<Option<(u64, Bm25Weight)>> = terms
            .iter()
            .map(|t| {
                let df = self.doc_freq(t, committed);
                (df > 0 || committed).then(|| {
                    (term_key(t), Bm25Weight::for_one_term_without_explain(df.max(1), stats.docs.max(1), stats.avg_len))
                })
            })
            .collect();
        let mut top = super::vector::TopK::new(limit);
        // A query filtered by agent or symbol (an analyst recalling its own memories of one
        // symbol) touches a small share of the tail: score those documents from their own
        // term lists. Otherwise accumulate over the postings.
        if filter.agent_id.is_some() || filter.symbol_id.is_some() {
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
            return top.into_sorted().into_iter().map(|(s, id, _)| (s, id)).collect();
        }
        let mut acc: Vec<f32> = Vec::new();
        for batch in self.tail {
            acc.clear();
            acc.resize(batch.docs.len(), 0.0);
            for (key, w) in weights.iter().flatten() {
                let Some(list) = batch.postings.get(key) else { continue };
                for &(i, tf) in list {
                    acc[i as usize] += w.score(FieldNormReader::fieldnorm_to_id(batch.docs[i as usize].len), tf);
                }
            }
            for (i, &sc) in acc.iter().enumerate() {
                if sc <= 0.0 || sc < top.threshold() {
                    continue;
                }
                let d = &batch.docs[i];
                if batch.passes(d, filter) && keep(d.id) {
                    top.push(sc, d.id, 0);
                }
            }
        }
        top.into_sorted().into_iter().map(|(s, id, _)| (s, id)).collect()
    }
}

/// Reads every committed document's id (for checkpoint consistency checks).
pub fn committed_ids(searcher: &Searcher) -> Result<Vec<ItemId>> {
    let mut ids = Vec::new();
    for seg in searcher.segment_readers() {
        let col = seg.fast_fields().u64("id")?.first_or_default_col(0);
        let alive = seg.alive_bitset();
        for doc in 0..seg.max_doc() {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                ids.push(col.get_val(doc));
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_analyzer_words_lowercase_stems_and_long_words() {
        let mut a = Analyzer::default();
        let long = "x".repeat(41);
        let toks: Vec<String> = a
            .tokens(&format!("Springs RECLAIMED support, {long} volume-spikes!"))
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(toks, vec!["spring", "reclaim", "support", "volum", "spike"]);
        // Non-ASCII text takes the char path and agrees on the ASCII words.
        let uni: Vec<String> = a.tokens("Springs — reclaimed · Überprüfung").into_iter().map(|t| t.text).collect();
        assert_eq!(&uni[..2], &["spring", "reclaim"]);
        assert_eq!(uni.len(), 3);
        assert_eq!(a.query_terms("spring springs Spring"), vec!["spring".to_string()]);
        let (keys, len) = a.term_keys("spring springs tape");
        assert_eq!(len, 3);
        assert_eq!(keys.iter().map(|k| k.1).sum::<u32>(), 3);
        assert!(keys.contains(&(term_key("spring"), 2)));
    }
}
