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
//! Immutable filters (agent, symbol, kind, time range) run inside the committed search
//! (see [`TextView::search_committed`]); mutable ones (layer, alive) are applied to the
//! candidates afterwards.
//!
//! `id` and `time` are fast fields only, not indexed: a unique term per document made
//! tantivy build a term dictionary as large as the index on every commit (that was the
//! largest cost of inserting). Without an id term there are no per-document deletes:
//! cleaned-up items stay in the index, filtered out by their state, until compaction
//! (dead slots > 30%) rebuilds the index from the live items. The index
//! lives in RAM (`RamDirectory`), no stored fields (the store keeps the texts). Texts are
//! analysed by [`Analyzer`] (words, lower-cased, English Snowball stems: "springs" finds
//! "spring") and handed to tantivy pre-tokenized.

use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;
use tantivy::columnar::ColumnValues;
use tantivy::directory::RamDirectory;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, SegmentReader, TantivyDocument, Term};

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
    current: Committed,
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
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let current = Committed::new(reader.searcher(), fields, None)?;
        Ok(TextIndex { index, ram, fields, writer, reader, current })
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
    pub fn commit(&mut self) -> Result<Committed> {
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
        self.current = Committed::new(self.reader.searcher(), self.fields, Some(&self.current))?;
        Ok(self.current.clone())
    }

    /// The searcher of the last commit.
    pub fn searcher(&self) -> Committed {
        self.current.clone()
    }
}

/// One committed segment's columns and cached filter sets, built once per segment (not per
/// query: opening a fast-field column and walking an agent's postings cost more than the
/// query terms' postings did).
pub struct SegInfo {
    id: tantivy::index::SegmentId,
    ids: Arc<dyn ColumnValues<u64>>,
    times: Arc<dyn ColumnValues<i64>>,
    /// The smallest field-norm id of any document (the longest possible BM25 tf part).
    min_norm: u8,
    /// Documents holding a filter term (agent, symbol or kind), as bitsets, built on first use.
    filters: Mutex<FxHashMap<Term, Arc<[u64]>>>,
}

impl SegInfo {
    fn new(seg: &SegmentReader, fields: Fields) -> Result<Self> {
        let norms = seg.get_fieldnorms_reader(fields.text)?;
        let min_norm = (0..seg.max_doc()).map(|d| norms.fieldnorm_id(d)).min().unwrap_or(0);
        Ok(SegInfo {
            id: seg.segment_id(),
            ids: seg.fast_fields().u64("id")?.first_or_default_col(0),
            times: seg.fast_fields().i64("time")?.first_or_default_col(i64::MIN),
            min_norm,
            filters: Mutex::new(FxHashMap::default()),
        })
    }

    /// The documents holding `term`, as a bitset of `max_doc` bits.
    fn filter(&self, seg: &SegmentReader, term: &Term) -> Result<Arc<[u64]>> {
        if let Some(b) = self.filters.lock().unwrap_or_else(|e| e.into_inner()).get(term) {
            return Ok(b.clone());
        }
        let mut bits = vec![0u64; (seg.max_doc() as usize).div_ceil(64)];
        let inv = seg.inverted_index(term.field())?;
        if let Some(mut p) = inv.read_block_postings(term, IndexRecordOption::Basic).map_err(io_err)? {
            while !p.docs().is_empty() {
                mark(&mut bits, p.docs());
                p.advance();
            }
        }
        let bits: Arc<[u64]> = bits.into();
        self.filters.lock().unwrap_or_else(|e| e.into_inner()).insert(term.clone(), bits.clone());
        Ok(bits)
    }
}

/// Sets the bits of `docs` in `bits`.
#[inline]
fn mark(bits: &mut [u64], docs: &[u32]) {
    for &d in docs {
        bits[d as usize / 64] |= 1 << (d % 64);
    }
}

fn io_err(e: std::io::Error) -> super::error::MemoryError {
    super::error::MemoryError::from(tantivy::TantivyError::from(e))
}

/// A searcher of one commit with its segments' [`SegInfo`] (in the searcher's order).
#[derive(Clone)]
pub struct Committed {
    pub searcher: Searcher,
    segs: Arc<[Arc<SegInfo>]>,
}

impl Committed {
    /// Wraps `searcher`, reusing `prev`'s info for segments it already held.
    pub fn new(searcher: Searcher, fields: Fields, prev: Option<&Committed>) -> Result<Self> {
        let segs = searcher
            .segment_readers()
            .iter()
            .map(|seg| match prev.and_then(|p| p.segs.iter().find(|i| i.id == seg.segment_id())) {
                Some(info) => Ok(info.clone()),
                None => SegInfo::new(seg, fields).map(Arc::new),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Committed { searcher, segs: segs.into() })
    }
}

/// Per-thread buffers of the committed search, reused across queries.
#[derive(Default)]
struct Scratch {
    /// The query terms' frequencies in one segment, list after list, in document order.
    freqs: Vec<u32>,
    /// `levels[l]`: documents holding at least l + 1 of the query terms (bitsets).
    levels: Vec<u64>,
    /// Per present term: its documents (bitset) and the set bits before each word.
    bits: Vec<u64>,
    ranks: Vec<u32>,
    allowed: Vec<u64>,
    scored: Vec<u64>,
    fresh: Vec<u64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Most term-count levels tracked: a query of more terms still works, its candidate sets
/// are just coarser.
const MAX_LEVELS: usize = 4;

/// Read-only text search over a committed searcher and a tail.
pub struct TextView<'a> {
    pub fields: Fields,
    pub committed: &'a Committed,
    pub tail: &'a [Arc<TailBatch>],
    /// The latest event time of any stored item (a time filter at or after it is a no-op).
    pub max_time: Ts,
}

impl TextView<'_> {
    /// BM25 statistics: the committed index's, or the tail's own before the first commit.
    pub fn stats(&self) -> Stats {
        let searcher = &self.committed.searcher;
        let docs = searcher.total_num_docs().unwrap_or(0);
        if docs > 0 {
            let tokens = searcher.total_num_tokens(self.fields.text).unwrap_or(0);
            return Stats { docs, avg_len: tokens as f32 / docs as f32 };
        }
        let n: u64 = self.tail.iter().map(|b| b.docs.len() as u64).sum();
        let tokens: u64 = self.tail.iter().flat_map(|b| b.docs.iter().map(|d| d.len as u64)).sum();
        Stats { docs: n, avg_len: if n > 0 { tokens as f32 / n as f32 } else { 1.0 } }
    }

    fn doc_freq(&self, term: &str, committed: bool) -> u64 {
        if committed {
            self.committed.searcher.doc_freq(&Term::from_field_text(self.fields.text, term)).unwrap_or(0)
        } else {
            let k = term_key(term);
            self.tail.iter().map(|b| b.postings.get(&k).map_or(0, |l| l.len() as u64)).sum()
        }
    }

    /// Top `limit` committed documents by BM25 among those passing `filter`, as (score, id),
    /// ties broken by id. Exact: the same list as scoring every matching document.
    ///
    /// Scores are tantivy's own (`Bm25Weight` with the index-wide statistics, the scores a
    /// `TermQuery` union gives); what is ours is which documents get scored. Per segment:
    ///
    /// 1. The query terms' postings are decoded (cheap: bit-packed blocks) and each term's
    ///    documents set in a bitset; bit-sliced counting gives `C_r`, the documents holding
    ///    at least `r` of the terms, with a few word operations per 64 documents.
    /// 2. Only `C_r` (∩ the filter bitsets) is scored, for the largest `r` that can fill the
    ///    top. A document outside `C_r` holds at most `r − 1` terms, so its score is at most
    ///    `B(r−1)`, the sum of the `r − 1` largest per-term upper bounds (`ub_t` = the term's
    ///    score at its highest tf in the segment and the segment's shortest document). If
    ///    the top's threshold then exceeds `B(r−1)` the segment is done; otherwise `r` drops
    ///    and the next layer of documents is scored. This is the max-score argument of Turtle
    ///    & Flood ("Query evaluation: strategies and optimizations", 1995) applied to
    ///    term-count layers rather than to lists.
    ///
    /// Why: memory texts are short and similar, so BM25 scores barely vary and the usual
    /// skipping schemes rarely apply. Measured on 100k synthetic items with 3-word queries
    /// whose terms sit in 2–8% of the documents (~17k postings a query): tantivy's
    /// block-max WAND union ~500 µs, a document-at-a-time merge 360 µs, scoring every
    /// posting term-at-a-time into an accumulator 190 µs; this scores ~5% of the documents
    /// (C_2, a few hundred) and its cost is decoding and setting bits, ~1.5 ns a posting
    /// each: ~60 µs. The last step down (C_2 to C_1) only scores the single-term documents
    /// of terms whose own bound reaches the threshold: a rare term with a high bound used
    /// to make ~5% of queries score every document (the p99). Filters on agent, symbol
    /// and kind are cached bitsets per segment (walking an agent's postings per query made
    /// filtered queries 2x slower than unfiltered ones); the time range, liveness and the
    /// id are read only for documents that could enter the top. Exactness is tested
    /// against brute-force BM25 (`test_search_committed_equals_brute_force`).
    pub fn search_committed(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        let searcher = &self.committed.searcher;
        if terms.is_empty() || searcher.num_docs() == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let stats = self.stats();
        let term_objs: Vec<Term> = terms.iter().map(|t| Term::from_field_text(f.text, t)).collect();
        // Per term: its weight. Only candidates are scored (hundreds, not every posting), so
        // tantivy's formula is called directly rather than tabulated per query.
        let weights: Vec<Bm25Weight> = term_objs
            .iter()
            .map(|t| {
                let df = searcher.doc_freq(t).unwrap_or(0);
                Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len)
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
        SCRATCH.with(|cell| -> Result<()> {
            let sc = &mut *cell.borrow_mut();
            for (seg, info) in searcher.segment_readers().iter().zip(self.committed.segs.iter()) {
                let inv = seg.inverted_index(f.text)?;
                let max_doc = seg.max_doc() as usize;
                let words = max_doc.div_ceil(64);
                // 1. Each term present here, decoded into a bitset of its documents and its
                //    term frequencies in document order: (freqs start, weight index, bound).
                sc.freqs.clear();
                sc.bits.clear();
                let mut lists: Vec<(usize, usize, f32)> = Vec::with_capacity(terms.len());
                for (wi, t) in term_objs.iter().enumerate() {
                    let Some(mut p) = inv.read_block_postings(t, IndexRecordOption::WithFreqs).map_err(io_err)? else {
                        continue;
                    };
                    let start = sc.freqs.len();
                    let row = sc.bits.len();
                    sc.bits.resize(row + words, 0);
                    let bits = &mut sc.bits[row..];
                    let mut max_tf = 0u32;
                    while !p.docs().is_empty() {
                        mark(bits, p.docs());
                        sc.freqs.extend_from_slice(p.freqs());
                        max_tf = p.freqs().iter().fold(max_tf, |m, &f| m.max(f));
                        p.advance();
                    }
                    if sc.freqs.len() > start {
                        let ub = weights[wi].score(info.min_norm, max_tf.max(1));
                        lists.push((start, wi, ub));
                    } else {
                        sc.bits.truncate(row);
                    }
                }
                if lists.is_empty() {
                    continue;
                }
                // Per-word prefix counts make a document's rank in a list (hence its tf) one
                // popcount away; bit-sliced counting: level l gains what level l - 1 held
                // and the term has.
                let nl = lists.len();
                let levels = nl.min(MAX_LEVELS);
                sc.ranks.resize(nl * words, 0);
                sc.levels.clear();
                sc.levels.resize(levels * words, 0);
                for j in 0..nl {
                    let bits = &sc.bits[j * words..(j + 1) * words];
                    let mut before = 0u32;
                    for (r, &x) in sc.ranks[j * words..(j + 1) * words].iter_mut().zip(bits.iter()) {
                        *r = before;
                        before += x.count_ones();
                    }
                    for l in (1..levels).rev() {
                        let (lower, upper) = sc.levels.split_at_mut(l * words);
                        let below = &lower[(l - 1) * words..];
                        for ((u, &b), &t) in upper[..words].iter_mut().zip(below).zip(bits.iter()) {
                            *u |= b & t;
                        }
                    }
                    sc.levels[..words].iter_mut().zip(bits.iter()).for_each(|(x, &t)| *x |= t);
                }
                // Documents the immutable filters allow.
                let allowed: Option<&[u64]> = if filter_terms.is_empty() {
                    None
                } else {
                    sc.allowed.clear();
                    sc.allowed.resize(words, u64::MAX);
                    for ft in &filter_terms {
                        let bits = info.filter(seg, ft)?;
                        sc.allowed.iter_mut().zip(bits.iter()).for_each(|(x, &y)| *x &= y);
                    }
                    Some(&sc.allowed[..])
                };
                // B(j): the sum of the j largest per-term bounds (a margin covers rounding).
                let mut ubs: Vec<f32> = lists.iter().map(|l| l.2).collect();
                ubs.sort_by(|a, b| b.total_cmp(a));
                let bound = |j: usize| ubs[..j].iter().sum::<f32>() * (1.0 + 1e-5);
                let level = &sc.levels;
                let count = |r: usize| -> usize {
                    let c = &level[(r - 1) * words..r * words];
                    match allowed {
                        Some(a) => c.iter().zip(a).map(|(x, y)| (x & y).count_ones() as usize).sum(),
                        None => c.iter().map(|x| x.count_ones() as usize).sum(),
                    }
                };
                // The largest r whose layer either suffices already or can fill the top.
                let choose = |below: usize, top: &mut super::vector::TopK| -> usize {
                    let (need, thr) = (limit.saturating_sub(top.len()).max(1), top.exact_threshold());
                    (2..below).rev().find(|&r| bound(r - 1) < thr || count(r) >= need).unwrap_or(1)
                };
                let mut r = choose(levels + 1, &mut top);
                let mut prev = usize::MAX;
                sc.scored.clear();
                sc.scored.resize(words, 0);
                sc.fresh.resize(words, 0);
                let norms = seg.get_fieldnorms_reader(f.text)?;
                let alive = seg.alive_bitset();
                loop {
                    // 2. Score the documents of C_r not scored yet. Coming down from C_2 to
                    //    C_1 with a full top, the rest hold one term each, so only the terms
                    //    whose own bound reaches the threshold can contribute.
                    let layer = &sc.levels[(r - 1) * words..r * words];
                    let thr = top.exact_threshold();
                    let single: Option<Vec<usize>> = (r == 1 && prev == 2 && top.len() >= limit)
                        .then(|| (0..nl).filter(|&j| lists[j].2 * (1.0 + 1e-5) >= thr).collect());
                    prev = r;
                    let mut any = false;
                    for w in 0..words {
                        let mut x = layer[w] & !sc.scored[w] & allowed.map_or(u64::MAX, |a| a[w]);
                        if let Some(js) = &single {
                            x &= js.iter().fold(0, |m, &j| m | sc.bits[j * words + w]);
                        }
                        sc.fresh[w] = x;
                        sc.scored[w] |= x;
                        any |= x != 0;
                    }
                    if any {
                        for (w, &word) in sc.fresh[..words].iter().enumerate() {
                            let mut x = word;
                            while x != 0 {
                                let bit = x & x.wrapping_neg();
                                x &= x - 1;
                                let d = (w * 64) as u32 + bit.trailing_zeros();
                                // BM25 summed in list (= query term) order.
                                let norm = norms.fieldnorm_id(d);
                                let mut score = 0.0f32;
                                for (j, &(s, wi, _)) in lists.iter().enumerate() {
                                    let tw = sc.bits[j * words + w];
                                    if tw & bit == 0 {
                                        continue;
                                    }
                                    let k = s + (sc.ranks[j * words + w] + (tw & (bit - 1)).count_ones()) as usize;
                                    score += weights[wi].score(norm, sc.freqs[k]);
                                }
                                if score < top.threshold()
                                    || alive.is_some_and(|a| !a.is_alive(d))
                                    || (needs_time && {
                                        let t = info.times.get_val(d);
                                        t < from || t > to
                                    })
                                {
                                    continue;
                                }
                                top.push(score, info.ids.get_val(d), 0);
                            }
                        }
                    }
                    if r == 1 || bound(r - 1) < top.exact_threshold() {
                        break;
                    }
                    r = choose(r, &mut top);
                }
            }
            Ok(())
        })?;
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
        let committed = self.committed.searcher.total_num_docs().unwrap_or(0) > 0;
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

    /// The committed search prunes by term-count layers; it must return exactly what
    /// scoring every matching document gives (scores, order, ties by id), on several
    /// segments, with and without filters and time ranges.
    #[test]
    fn test_search_committed_equals_brute_force() {
        use super::super::ivf::SplitMix64;
        let mut rng = SplitMix64(17);
        let vocab: Vec<String> = (0..30).map(|i| format!("w{i}x")).collect();
        let (agents, symbols) = (["a", "b", "c"], ["X", "Y"]);
        let mut analyzer = Analyzer::default();
        let mut index = TextIndex::new(&analyzer).unwrap();
        // (id, time, agent, symbol, kind, text)
        let mut docs: Vec<(u64, i64, &str, &str, Kind, String)> = Vec::new();
        for id in 1..=2100u64 {
            let words = 2 + rng.below(10);
            // Skewed: low word indices are common; repeats give tf > 2.
            let text: Vec<&str> = (0..words).map(|_| vocab[rng.below(30).min(rng.below(30))].as_str()).collect();
            let d = (
                id,
                id as i64 * 10,
                agents[rng.below(3)],
                symbols[rng.below(2)],
                Kind::ALL[rng.below(3)],
                text.join(" "),
            );
            index.add(d.0, d.1, d.2, d.3, d.4, &d.5).unwrap();
            docs.push(d);
            if id % 700 == 0 {
                index.commit().unwrap();
            }
        }
        let committed = index.searcher();
        assert_eq!(committed.searcher.segment_readers().len(), 3);
        let view = TextView { fields: index.fields, committed: &committed, tail: &[], max_time: 21_000 };
        let stats = view.stats();
        for case in 0..300 {
            let nterms = 1 + rng.below(5);
            let mut terms: Vec<String> = Vec::new();
            for _ in 0..nterms {
                let t = if rng.below(10) == 0 { "absent".to_string() } else { vocab[rng.below(30)].clone() };
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
            let filter = TextFilter {
                agent: (case % 3 == 1).then_some(agents[case % 2]),
                symbol: (case % 5 >= 3).then_some(symbols[case % 2]),
                kind: (case % 7 == 6).then_some(Kind::ALL[1]),
                from: (case % 4 == 3).then_some(5_000),
                to: (case % 4 >= 2).then_some(15_000),
                ..Default::default()
            };
            let limit = [1, 5, 40, 400][case % 4];
            let got = view.search_committed(&terms, &filter, limit).unwrap();
            let weights: Vec<Bm25Weight> = terms
                .iter()
                .map(|t| {
                    let df = view.doc_freq(t, true);
                    Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len)
                })
                .collect();
            let mut want: Vec<(f32, ItemId)> = docs
                .iter()
                .filter(|d| {
                    filter.agent.is_none_or(|a| d.2 == a)
                        && filter.symbol.is_none_or(|s| d.3 == s)
                        && filter.kind.is_none_or(|k| d.4 == k)
                        && filter.from.is_none_or(|t| d.1 >= t)
                        && filter.to.is_none_or(|t| d.1 <= t)
                })
                .filter_map(|d| {
                    let toks = analyzer.tokens(&d.5);
                    let norm = FieldNormReader::fieldnorm_to_id(toks.len() as u32);
                    let mut score = 0.0f32;
                    let mut hit = false;
                    for (t, w) in terms.iter().zip(&weights) {
                        let tf = toks.iter().filter(|k| &k.text == t).count() as u32;
                        if tf > 0 {
                            score += w.score(norm, tf);
                            hit = true;
                        }
                    }
                    hit.then_some((score, d.0))
                })
                .collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            want.truncate(limit);
            assert_eq!(got, want, "case {case}: terms {terms:?}, filter {filter:?}, limit {limit}");
        }
    }

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
