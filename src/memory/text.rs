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

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;
use tantivy::columnar::ColumnValues;
use tantivy::directory::RamDirectory;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::TermInfo;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    Index, IndexReader, IndexWriter, InvertedIndexReader, ReloadPolicy, Searcher, SegmentReader, TantivyDocument, Term,
};

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
    /// Lower-cased word -> (stem, the stem's [`term_key`]).
    cache: FxHashMap<Box<str>, (Box<str>, u64)>,
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
        self.each_keyed_term(text, |stem, _, from, to| f(stem, from, to));
    }

    /// Calls `f(stem, term_key(stem), from, to)` for each word of `text`, in order.
    pub fn each_keyed_term(&mut self, text: &str, mut f: impl FnMut(&str, u64, usize, usize)) {
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
                self.lower.push_str(&text[from..to]);
                self.lower.make_ascii_lowercase();
            } else {
                for c in text[from..to].chars() {
                    self.lower.extend(c.to_lowercase());
                }
            }
            if let Some((stem, key)) = self.cache.get(self.lower.as_str()) {
                f(stem, *key, from, to);
                continue;
            }
            let mut st = self.stemmer.token_stream(&self.lower);
            let stem: Box<str> = if st.advance() { st.token().text.as_str().into() } else { "".into() };
            drop(st);
            let key = term_key(&stem);
            f(&stem, key, from, to);
            if self.cache.len() >= 200_000 {
                self.cache.clear();
            }
            self.cache.insert(self.lower.as_str().into(), (stem, key));
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
        let mut keys: Vec<u64> = Vec::with_capacity(16);
        self.each_keyed_term(text, |_, key, _, _| keys.push(key));
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
///
/// Its tokens live in a buffer reused from text to text (strings included): a fresh
/// `Vec<Token>` and a `String` per token were ~3% of inserting.
#[derive(Clone, Default)]
pub struct QuorumTokenizer {
    analyzer: Analyzer,
    buf: Vec<Token>,
}

impl QuorumTokenizer {
    /// A tokenizer sharing `analyzer`'s stem cache.
    pub fn new(analyzer: &Analyzer) -> Self {
        QuorumTokenizer { analyzer: analyzer.clone(), buf: Vec::new() }
    }
}

/// The tokens of one text, handed out one by one.
pub struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for VecTokenStream<'_> {
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
    type TokenStream<'a> = VecTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        let buf = &mut self.buf;
        let mut n = 0;
        self.analyzer.each_term(text, |stem, from, to| {
            if n == buf.len() {
                buf.push(Token::default());
            }
            let t = &mut buf[n];
            t.offset_from = from;
            t.offset_to = to;
            t.position = n;
            t.position_length = 1;
            t.text.clear();
            t.text.push_str(stem);
            n += 1;
        });
        VecTokenStream { tokens: &mut buf[..n], next: 0 }
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

/// One committed segment's columns and cached term and filter sets, built once per segment
/// (not per query: opening a fast-field column and walking an agent's postings cost more
/// than the query terms' postings did).
pub struct SegInfo {
    id: tantivy::index::SegmentId,
    max_doc: usize,
    ids: Arc<dyn ColumnValues<u64>>,
    times: Arc<dyn ColumnValues<i64>>,
    text: Arc<InvertedIndexReader>,
    norms: FieldNormReader,
    /// The smallest field-norm id of any document (the longest possible BM25 tf part).
    min_norm: u8,
    /// Documents holding a filter term (agent, symbol or kind), as bitsets, built on first use.
    filters: Mutex<FxHashMap<Term, Arc<[u64]>>>,
    /// Length classes, built on first use.
    classes: std::sync::OnceLock<NormClasses>,
    /// Query terms met so far: frequent ones decoded (see [`TermBits`]), others by their
    /// place in tantivy's postings.
    terms: RwLock<FxHashMap<Term, Cached>>,
}

/// Past this many remembered terms a segment stops remembering rare and absent ones (each
/// costs ~100 bytes; frequent ones are bounded by the postings, see [`TermBits`]).
const MAX_SPARSE_TERMS: usize = 1 << 16;

/// A query term in one segment, as remembered by [`SegInfo`].
#[derive(Clone)]
enum Cached {
    Absent,
    Sparse(TermInfo),
    Dense(Arc<TermBits>),
}

/// A frequent term's postings in one segment, decoded once: its documents as a bitset, the
/// set bits before each word, and its term frequencies in document order.
///
/// A term is frequent when it is in at least one document in 64 of the segment: then the
/// bitset is no larger than 8 bytes a posting, and the whole entry no more than ~13, so the
/// cache is bounded by the index's postings (at most 64 x the average distinct words of a
/// document such terms per segment). Decoding a frequent term's postings on every query
/// was the largest cost of a recall (17k postings a query at 100k items, ~1.5 ns each);
/// with the cache, a query's per-segment text work is a few word operations per 64
/// documents plus scoring the candidates.
struct TermBits {
    bits: Box<[u64]>,
    /// The documents where the term occurs more than once (None if none).
    multi: Option<Box<[u64]>>,
    ranks: Box<[u32]>,
    freqs: Freqs,
    doc_freq: u32,
    max_tf: u32,
}

/// Term frequencies, one byte each when they all fit.
enum Freqs {
    U8(Box<[u8]>),
    U32(Box<[u32]>),
}

/// A term's postings in a segment, ready to score: cached, or decoded into the scratch.
#[derive(Clone, Copy)]
struct Posts<'a> {
    bits: &'a [u64],
    multi: Option<&'a [u64]>,
    ranks: &'a [u32],
    freqs: FreqsRef<'a>,
    max_tf: u32,
}

#[derive(Clone, Copy)]
enum FreqsRef<'a> {
    U8(&'a [u8]),
    U32(&'a [u32]),
}

impl Posts<'_> {
    /// The term frequency of document `w * 64 + bit.trailing_zeros()`, or 0.
    #[inline]
    fn tf(&self, w: usize, bit: u64) -> u32 {
        let x = self.bits[w];
        if x & bit == 0 {
            return 0;
        }
        let k = (self.ranks[w] + (x & (bit - 1)).count_ones()) as usize;
        match self.freqs {
            FreqsRef::U8(f) => f[k] as u32,
            FreqsRef::U32(f) => f[k],
        }
    }
}

/// Per word of `bits`: the set bits in the words before it.
fn prefix_ranks(bits: &[u64], ranks: &mut [u32]) {
    let mut before = 0u32;
    for (r, &x) in ranks.iter_mut().zip(bits) {
        *r = before;
        before += x.count_ones();
    }
}

/// Decodes a term's postings: sets its documents' bits in `bits` and, given `with_freqs`,
/// appends its term frequencies to the vector, sets the bits of the documents where the
/// term repeats, and returns the highest frequency (1 without frequencies).
fn decode(
    inv: &InvertedIndexReader,
    info: &TermInfo,
    bits: &mut [u64],
    mut with_freqs: Option<(&mut [u64], &mut Vec<u32>)>,
) -> Result<u32> {
    let option = if with_freqs.is_some() { IndexRecordOption::WithFreqs } else { IndexRecordOption::Basic };
    let mut p = inv.read_block_postings_from_terminfo(info, option).map_err(io_err)?;
    let mut max_tf = 1u32;
    while !p.docs().is_empty() {
        mark(bits, p.docs());
        if let Some((multi, freqs)) = with_freqs.as_mut() {
            freqs.extend_from_slice(p.freqs());
            for (&d, &f) in p.docs().iter().zip(p.freqs()) {
                if f > 1 {
                    multi[d as usize / 64] |= 1 << (d % 64);
                    max_tf = max_tf.max(f);
                }
            }
        }
        p.advance();
    }
    Ok(max_tf)
}

/// A segment's documents in classes of text length (by field-norm id, shortest first, of
/// about equal size): a class's shortest document bounds the BM25 scores of all of its
/// documents, so long documents need not be scored once the top is full of short ones.
struct NormClasses {
    /// Class c's documents: bits `c * words .. (c + 1) * words`.
    bits: Vec<u64>,
    /// Class c's smallest field-norm id.
    min_norm: Vec<u8>,
    /// Each field-norm id's class.
    class_of: [u8; 256],
}

/// Length classes per segment. More classes give tighter bounds but one more pass over
/// the bitsets per class scored; measured at 100k items, see `search_committed`.
const NORM_CLASSES: usize = 4;

impl NormClasses {
    fn new(norms: &FieldNormReader, max_doc: usize) -> Self {
        let mut hist = [0usize; 256];
        for d in 0..max_doc {
            hist[norms.fieldnorm_id(d as u32) as usize] += 1;
        }
        // Class of each norm id: cut where the running count passes c / NORM_CLASSES.
        let mut class_of = [0u8; 256];
        let mut min_norm: Vec<u8> = Vec::new();
        let mut seen = 0usize;
        for id in 0..256 {
            if hist[id] == 0 {
                continue;
            }
            if min_norm.is_empty() || seen * NORM_CLASSES >= max_doc * min_norm.len() {
                min_norm.push(id as u8);
            }
            class_of[id] = (min_norm.len() - 1) as u8;
            seen += hist[id];
        }
        let words = max_doc.div_ceil(64);
        let mut bits = vec![0u64; min_norm.len() * words];
        for d in 0..max_doc {
            let c = class_of[norms.fieldnorm_id(d as u32) as usize] as usize;
            bits[c * words + d / 64] |= 1 << (d % 64);
        }
        NormClasses { bits, min_norm, class_of }
    }
}

impl SegInfo {
    fn new(seg: &SegmentReader, fields: Fields) -> Result<Self> {
        let norms = seg.get_fieldnorms_reader(fields.text)?;
        let min_norm = (0..seg.max_doc()).map(|d| norms.fieldnorm_id(d)).min().unwrap_or(0);
        Ok(SegInfo {
            id: seg.segment_id(),
            max_doc: seg.max_doc() as usize,
            ids: one_per_doc(seg.fast_fields().u64("id")?, 0),
            times: one_per_doc(seg.fast_fields().i64("time")?, i64::MIN),
            text: seg.inverted_index(fields.text)?,
            norms,
            min_norm,
            filters: Mutex::new(FxHashMap::default()),
            classes: std::sync::OnceLock::new(),
            terms: RwLock::new(FxHashMap::default()),
        })
    }

    fn classes(&self) -> &NormClasses {
        self.classes.get_or_init(|| NormClasses::new(&self.norms, self.max_doc))
    }

    fn words(&self) -> usize {
        self.max_doc.div_ceil(64)
    }

    /// The documents holding `term`, as a bitset of `max_doc` bits.
    fn filter(&self, seg: &SegmentReader, term: &Term) -> Result<Arc<[u64]>> {
        if let Some(b) = self.filters.lock().unwrap_or_else(|e| e.into_inner()).get(term) {
            return Ok(b.clone());
        }
        let mut bits = vec![0u64; self.words()];
        let inv = seg.inverted_index(term.field())?;
        if let Some(info) = inv.get_term_info(term).map_err(io_err)? {
            decode(&inv, &info, &mut bits, None)?;
        }
        let bits: Arc<[u64]> = bits.into();
        self.filters.lock().unwrap_or_else(|e| e.into_inner()).insert(term.clone(), bits.clone());
        Ok(bits)
    }

    /// Looks up the query `terms` (text field) in this segment, remembering what it finds.
    fn lookup(&self, terms: &[Term], out: &mut Vec<Cached>) -> Result<()> {
        out.clear();
        let mut missing = Vec::new();
        {
            let map = self.terms.read().unwrap_or_else(|e| e.into_inner());
            for (i, t) in terms.iter().enumerate() {
                match map.get(t) {
                    Some(c) => out.push(c.clone()),
                    None => {
                        out.push(Cached::Absent);
                        missing.push(i);
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = Vec::with_capacity(missing.len());
        for &i in &missing {
            let c = match self.text.get_term_info(&terms[i]).map_err(io_err)? {
                None => Cached::Absent,
                Some(info) if (info.doc_freq as usize) * 64 < self.max_doc => Cached::Sparse(info),
                Some(info) => {
                    let mut bits = vec![0u64; self.words()];
                    let mut multi = vec![0u64; self.words()];
                    let mut freqs = Vec::with_capacity(info.doc_freq as usize);
                    let max_tf = decode(&self.text, &info, &mut bits, Some((&mut multi, &mut freqs)))?;
                    let mut ranks = vec![0u32; bits.len()];
                    prefix_ranks(&bits, &mut ranks);
                    let freqs = if max_tf <= u8::MAX as u32 {
                        Freqs::U8(freqs.iter().map(|&f| f as u8).collect())
                    } else {
                        Freqs::U32(freqs.into())
                    };
                    let multi = (max_tf > 1).then(|| multi.into());
                    let tb = TermBits {
                        bits: bits.into(),
                        multi,
                        ranks: ranks.into(),
                        freqs,
                        doc_freq: info.doc_freq,
                        max_tf,
                    };
                    Cached::Dense(Arc::new(tb))
                }
            };
            out[i] = c.clone();
            found.push((i, c));
        }
        let mut map = self.terms.write().unwrap_or_else(|e| e.into_inner());
        for (i, c) in found {
            if matches!(c, Cached::Dense(_)) || map.len() < MAX_SPARSE_TERMS {
                map.insert(terms[i].clone(), c);
            }
        }
        Ok(())
    }
}

/// A fast-field column as one value per document: its values as they are when every
/// document has one (the usual case: no index indirection per read), else the first value
/// or `default`.
fn one_per_doc<T>(col: tantivy::columnar::Column<T>, default: T) -> Arc<dyn ColumnValues<T>>
where
    T: std::fmt::Debug + PartialOrd + Send + Sync + Copy + Default + 'static,
{
    if col.get_cardinality() == tantivy::columnar::Cardinality::Full {
        col.values
    } else {
        col.first_or_default_col(default)
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
    /// Per decoded term: its documents and those where it repeats (bitsets), and the set
    /// bits before each word.
    bits: Vec<u64>,
    ranks: Vec<u32>,
    allowed: Vec<u64>,
    /// Documents where some query term repeats.
    multi: Vec<u64>,
    /// Per cell of two or more terms: its documents.
    buckets: Vec<Vec<u32>>,
    /// The documents of the single-term cell being scored.
    ones: Vec<u32>,
    /// (score, document) of a cell's documents that passed the filters.
    cands: Vec<(f32, u32)>,
}

/// Where a decoded term sits in the [`Scratch`]: its first bits row and its freqs range.
type ScratchRow = (usize, usize, usize);

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Most term-count levels tracked: a query of more terms still works, its candidate sets
/// are just coarser.
const MAX_LEVELS: usize = 4;

/// Single-term documents are sorted into cells in one pass when the filters allow fewer
/// than one document in this many (see `search_committed`).
const SINGLES_BUCKETED_BELOW: usize = 8;

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
    ///
    /// Compiled twice, for the baseline x86-64 and with AVX2 and POPCNT (bitset counting and
    /// ranks), chosen at run time ([`crate::simd`]); the results are the same.
    #[allow(unsafe_code)]
    pub fn search_committed(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2() && crate::simd::has_popcnt() {
            // SAFETY: the CPU supports AVX2 and POPCNT (checked just above).
            return unsafe { self.search_committed_avx2(terms, filter, limit) };
        }
        self.search_committed_impl(terms, filter, limit)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn search_committed_avx2(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        self.search_committed_impl(terms, filter, limit)
    }

    #[inline(always)]
    fn search_committed_impl(
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
        // Each term in each segment, from the segment's cache; the document frequencies
        // summed over segments are tantivy's `doc_freq`.
        let mut found: Vec<Vec<Cached>> = Vec::with_capacity(self.committed.segs.len());
        let mut dfs = vec![0u64; terms.len()];
        for info in self.committed.segs.iter() {
            let mut v = Vec::with_capacity(terms.len());
            info.lookup(&term_objs, &mut v)?;
            for (df, c) in dfs.iter_mut().zip(&v) {
                *df += match c {
                    Cached::Absent => 0,
                    Cached::Sparse(ti) => ti.doc_freq as u64,
                    Cached::Dense(tb) => tb.doc_freq as u64,
                };
            }
            found.push(v);
        }
        // Per term: its weight. Only candidates are scored (hundreds, not every posting), so
        // tantivy's formula is called directly rather than tabulated per query.
        let weights: Vec<Bm25Weight> =
            dfs.iter().map(|&df| Bm25Weight::for_one_term_without_explain(df, stats.docs, stats.avg_len)).collect();
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
        // The thread's buffers, taken out for the query (lost only on an error).
        let mut scratch = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
        {
            let sc = &mut scratch;
            for ((seg, info), cached) in searcher.segment_readers().iter().zip(self.committed.segs.iter()).zip(&found) {
                let words = info.words();
                // 1. Each term present here: cached if frequent, else decoded into the
                //    scratch (rows of bits and multi bits, range of freqs); with its weight
                //    index and highest tf.
                sc.freqs.clear();
                sc.bits.clear();
                let mut plan: Vec<(usize, Option<ScratchRow>, u32)> = Vec::with_capacity(terms.len());
                for (wi, c) in cached.iter().enumerate() {
                    match c {
                        Cached::Absent => {}
                        Cached::Dense(tb) => plan.push((wi, None, tb.max_tf)),
                        Cached::Sparse(ti) => {
                            let (row, start) = (sc.bits.len(), sc.freqs.len());
                            sc.bits.resize(row + 2 * words, 0);
                            let (bits, multi) = sc.bits[row..].split_at_mut(words);
                            let max_tf = decode(&info.text, ti, bits, Some((multi, &mut sc.freqs)))?;
                            plan.push((wi, Some((row, start, sc.freqs.len())), max_tf));
                        }
                    }
                }
                if plan.is_empty() {
                    continue;
                }
                sc.ranks.resize(sc.bits.len(), 0);
                for &(_, src, _) in &plan {
                    if let Some((row, _, _)) = src {
                        prefix_ranks(&sc.bits[row..row + words], &mut sc.ranks[row..row + words]);
                    }
                }
                let Scratch { freqs, levels, bits, ranks, allowed, multi, buckets, ones, cands } = sc;
                // (postings, weight index) per present term, in query order.
                let lists: Vec<(Posts<'_>, usize)> = plan
                    .iter()
                    .map(|&(wi, src, max_tf)| {
                        let posts = match (src, &cached[wi]) {
                            (Some((row, s, e)), _) => Posts {
                                bits: &bits[row..row + words],
                                multi: (max_tf > 1).then(|| &bits[row + words..row + 2 * words]),
                                ranks: &ranks[row..row + words],
                                freqs: FreqsRef::U32(&freqs[s..e]),
                                max_tf,
                            },
                            (None, Cached::Dense(tb)) => Posts {
                                bits: &tb.bits,
                                multi: tb.multi.as_deref(),
                                ranks: &tb.ranks,
                                freqs: match &tb.freqs {
                                    Freqs::U8(v) => FreqsRef::U8(v),
                                    Freqs::U32(v) => FreqsRef::U32(v),
                                },
                                max_tf,
                            },
                            (None, _) => unreachable!("only dense terms are planned without a scratch row"),
                        };
                        (posts, wi)
                    })
                    .collect();
                // Bit-sliced counting: level l gains what level l - 1 held and the term has.
                let nl = lists.len();
                let nlev = nl.min(MAX_LEVELS);
                levels.clear();
                levels.resize(nlev * words, 0);
                for (p, _) in &lists {
                    for l in (1..nlev).rev() {
                        let (lower, upper) = levels.split_at_mut(l * words);
                        let below = &lower[(l - 1) * words..];
                        for ((u, &b), &t) in upper[..words].iter_mut().zip(below).zip(p.bits) {
                            *u |= b & t;
                        }
                    }
                    levels[..words].iter_mut().zip(p.bits).for_each(|(x, &t)| *x |= t);
                }
                // Documents where some term occurs more than once (their own cells).
                let has_multi = lists.iter().any(|(p, _)| p.multi.is_some());
                if has_multi {
                    multi.clear();
                    multi.resize(words, 0);
                    for m in lists.iter().filter_map(|(p, _)| p.multi) {
                        multi.iter_mut().zip(m).for_each(|(x, &y)| *x |= y);
                    }
                }
                // Documents the immutable filters allow, and how many.
                let mut n_allowed = info.max_doc;
                let allowed: Option<&[u64]> = if filter_terms.is_empty() {
                    None
                } else {
                    allowed.clear();
                    allowed.resize(words, u64::MAX);
                    for ft in &filter_terms {
                        let bits = info.filter(seg, ft)?;
                        allowed.iter_mut().zip(bits.iter()).for_each(|(x, &y)| *x &= y);
                    }
                    n_allowed = allowed.iter().map(|x| x.count_ones() as usize).sum();
                    Some(&allowed[..])
                };
                // When the filters leave few documents (an analyst's own memories of one
                // symbol: a few percent), the single-term documents go to their cells in
                // the same pass as the others: re-reading every word of the bitsets per
                // single-term cell cost more than sorting those few hundred documents.
                let bucket_singles = n_allowed * SINGLES_BUCKETED_BELOW <= info.max_doc;
                // 2. Cells: documents holding exactly r of the terms (at least r on the top
                //    level), by length class, each with a bound on its scores; plus, per r,
                //    the documents where a term repeats. Scored best bound first until the
                //    top's threshold exceeds the next bound.
                let classes = info.classes();
                let ub = |j: usize, norm: u8, tf: u32| weights[lists[j].1].score(norm, tf) * (1.0 + 1e-5);
                // Per class (and one last row for the repeats): each term's bound.
                let nc = classes.min_norm.len();
                let mut ubs: Vec<f32> = Vec::with_capacity((nc + 1) * nl);
                for c in 0..=nc {
                    for (j, (p, _)) in lists.iter().enumerate() {
                        ubs.push(match classes.min_norm.get(c) {
                            Some(&norm) => ub(j, norm, 1),
                            None => ub(j, info.min_norm, p.max_tf),
                        });
                    }
                }
                let mut cells: Vec<(f32, usize, usize)> = Vec::with_capacity(nlev * (nc + 1));
                for c in 0..=nc {
                    if c == nc && !has_multi {
                        continue;
                    }
                    let mut row: Vec<f32> = ubs[c * nl..(c + 1) * nl].to_vec();
                    row.sort_by(|a, b| b.total_cmp(a));
                    for r in 1..=nlev {
                        let most = if r == nlev { nl } else { r };
                        cells.push((row[..most].iter().sum(), r, c));
                    }
                }
                cells.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
                // Documents holding two or more terms (a few percent) go to their cells in
                // one pass; the single-term cells, far larger and rarely needed, are read
                // from the bitsets when their turn comes (unless `bucket_singles`).
                let cell_of = |r: usize, c: usize| (r - 1) * (nc + 1) + c;
                for b in buckets.iter_mut() {
                    b.clear();
                }
                if nlev >= 2 || bucket_singles {
                    buckets.resize_with(cell_of(nlev, nc) + 1, Vec::new);
                    let first = if bucket_singles { 0 } else { words };
                    for w in 0..words {
                        let mut x = levels[first + w] & allowed.map_or(u64::MAX, |a| a[w]);
                        while x != 0 {
                            let bit = x & x.wrapping_neg();
                            x &= x - 1;
                            let d = (w * 64) as u32 + bit.trailing_zeros();
                            let r = 1 + (1..nlev).filter(|&l| levels[l * words + w] & bit != 0).count();
                            let c = if has_multi && multi[w] & bit != 0 {
                                nc
                            } else {
                                classes.class_of[info.norms.fieldnorm_id(d) as usize] as usize
                            };
                            buckets[cell_of(r, c)].push(d);
                        }
                    }
                }
                let alive = seg.alive_bitset();
                for &(cell_bound, r, c) in &cells {
                    let thr = top.exact_threshold();
                    if top.len() >= limit && cell_bound < thr {
                        break;
                    }
                    let docs: &[u32] = if r >= 2 || bucket_singles {
                        &buckets[cell_of(r, c)]
                    } else {
                        // Holding one term: only the terms whose own bound reaches the
                        // threshold.
                        let singles: Option<Vec<usize>> =
                            (top.len() >= limit).then(|| (0..nl).filter(|&j| ubs[c * nl + j] >= thr).collect());
                        ones.clear();
                        for w in 0..words {
                            let mut x = levels[w];
                            if nlev > 1 {
                                x &= !levels[words + w];
                            }
                            if c < nc {
                                x &= classes.bits[c * words + w];
                                if has_multi {
                                    x &= !multi[w];
                                }
                            } else {
                                x &= multi[w];
                            }
                            if let Some(a) = allowed {
                                x &= a[w];
                            }
                            if let Some(js) = &singles {
                                x &= js.iter().fold(0, |m, &j| m | lists[j].0.bits[w]);
                            }
                            while x != 0 {
                                ones.push((w * 64) as u32 + x.trailing_zeros());
                                x &= x - 1;
                            }
                        }
                        ones
                    };
                    cands.clear();
                    let floor = top.threshold();
                    for &d in docs {
                        let (w, bit) = (d as usize / 64, 1u64 << (d % 64));
                        // BM25 summed in list (= query term) order.
                        let norm = info.norms.fieldnorm_id(d);
                        let mut score = 0.0f32;
                        for (p, wi) in &lists {
                            let tf = p.tf(w, bit);
                            if tf > 0 {
                                score += weights[*wi].score(norm, tf);
                            }
                        }
                        if score < floor
                            || alive.is_some_and(|a| !a.is_alive(d))
                            || (needs_time && {
                                let t = info.times.get_val(d);
                                t < from || t > to
                            })
                        {
                            continue;
                        }
                        cands.push((score, d));
                    }
                    // Only this cell's best `limit`, with any ties at the cut, can enter the
                    // top; only they need their item ids (a column read each).
                    if cands.len() > limit {
                        cands.select_nth_unstable_by(limit - 1, |a, b| b.0.total_cmp(&a.0));
                        let kth = cands[limit - 1].0;
                        cands.retain(|c| c.0 >= kth);
                    }
                    for &(score, d) in cands.iter() {
                        top.push(score, info.ids.get_val(d), 0);
                    }
                }
            }
        }
        SCRATCH.with(|cell| *cell.borrow_mut() = scratch);
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
            let mut text: Vec<&str> = (0..words).map(|_| vocab[rng.below(30).min(rng.below(30))].as_str()).collect();
            if id % 700 == 350 {
                // A frequent term with tf > 255 (cached frequencies then need 32 bits).
                text = vec!["w0x"; 300];
            }
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
        // Rare terms are decoded per query, frequent ones cached per segment on first use
        // (both kinds are in the vocabulary: word i has probability (59 - 2i) / 900).
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
