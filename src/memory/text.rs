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
//! clauses; mutable ones (layer, alive) are applied to the candidates afterwards. The index
//! lives in RAM (`RamDirectory`), one indexing thread (deterministic doc ids), no stored
//! fields (the store keeps the texts). Tokenizer `en_stem`: words, lower-cased, English
//! Snowball stemming ("springs" finds "spring").

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use tantivy::collector::TopDocs;
use tantivy::directory::RamDirectory;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentReader, TantivyDocument, Term,
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
        TextFieldIndexing::default().set_tokenizer("en_stem").set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_u64_field("id", FAST | INDEXED),
        time: b.add_i64_field("time", FAST | INDEXED),
        agent: b.add_text_field("agent", STRING),
        symbol: b.add_text_field("symbol", STRING),
        kind: b.add_text_field("kind", STRING),
        text: b.add_text_field("text", text_opts),
    };
    (b.build(), fields)
}

/// Tokenizes text with the index's analyzer: (term, frequency) pairs sorted by term, and the
/// token count (the field length BM25 normalises by).
pub fn tokenize(analyzer: &mut TextAnalyzer, text: &str) -> (Vec<(String, u32)>, u32) {
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut len = 0u32;
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        len += 1;
        *counts.entry(stream.token().text.clone()).or_default() += 1;
    }
    let mut v: Vec<(String, u32)> = counts.into_iter().collect();
    v.sort();
    (v, len)
}

/// Immutable filters a text search runs inside the index.
#[derive(Debug, Clone, Default)]
pub struct TextFilter<'a> {
    pub agent: Option<&'a str>,
    pub symbol: Option<&'a str>,
    pub kind: Option<Kind>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
}

/// One tail document: the filter columns and the term frequencies of one item.
#[derive(Debug, Clone)]
pub struct TailDoc {
    pub id: ItemId,
    pub time: Ts,
    pub agent: Arc<str>,
    pub symbol: Arc<str>,
    pub kind: Kind,
    pub len: u32,
}

/// An immutable batch of tail documents with its inverted lists.
#[derive(Debug, Clone, Default)]
pub struct TailBatch {
    pub docs: Vec<TailDoc>,
    pub postings: HashMap<String, Vec<(u32, u32)>>,
}

impl TailBatch {
    /// Adds a document with its term frequencies.
    pub fn push(&mut self, doc: TailDoc, terms: &[(String, u32)]) {
        let idx = self.docs.len() as u32;
        for (t, tf) in terms {
            self.postings.entry(t.clone()).or_default().push((idx, *tf));
        }
        self.docs.push(doc);
    }

    /// Merges batches into one, preserving document order.
    pub fn merge(batches: &[Arc<TailBatch>]) -> TailBatch {
        let mut out = TailBatch::default();
        for b in batches {
            let base = out.docs.len() as u32;
            for (t, list) in &b.postings {
                out.postings.entry(t.clone()).or_default().extend(list.iter().map(|(i, tf)| (i + base, *tf)));
            }
            out.docs.extend(b.docs.iter().cloned());
        }
        out
    }

    fn passes(&self, d: &TailDoc, f: &TextFilter<'_>) -> bool {
        f.agent.is_none_or(|a| *d.agent == *a)
            && f.symbol.is_none_or(|s| *d.symbol == *s)
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

/// The tantivy index and its single writer.
pub struct TextIndex {
    pub index: Index,
    /// The RAM directory behind `index` (shared), for checkpoints.
    pub ram: RamDirectory,
    pub fields: Fields,
    writer: IndexWriter,
    reader: IndexReader,
    analyzer: TextAnalyzer,
}

impl TextIndex {
    /// A new empty index in RAM.
    pub fn new() -> Result<Self> {
        let (schema, fields) = schema();
        let ram = RamDirectory::create();
        let index = Index::create(ram.clone(), schema, Default::default())?;
        Self::open(index, ram, fields)
    }

    /// Opens the index held in `ram` (e.g. loaded from a checkpoint); its schema must be
    /// this version's.
    pub fn open_existing(ram: RamDirectory) -> Result<Self> {
        let index = Index::open(ram.clone())?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(super::error::MemoryError::Invalid("text index schema does not match this version".into()));
        }
        Self::open(index, ram, fields)
    }

    fn open(index: Index, ram: RamDirectory, fields: Fields) -> Result<Self> {
        let writer = index.writer_with_num_threads(1, 30_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let analyzer = index.tokenizer_for_field(fields.text)?;
        Ok(TextIndex { index, ram, fields, writer, reader, analyzer })
    }

    /// A copy of the analyzer (tokenizing needs `&mut`).
    pub fn analyzer(&self) -> TextAnalyzer {
        self.analyzer.clone()
    }

    /// Queues a document for the next commit.
    pub fn add(&mut self, id: ItemId, time: Ts, agent: &str, symbol: &str, kind: Kind, text: &str) -> Result<()> {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.id, id);
        doc.add_i64(f.time, time);
        doc.add_text(f.agent, agent);
        doc.add_text(f.symbol, symbol);
        doc.add_text(f.kind, kind.name());
        doc.add_text(f.text, text);
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Queues the deletion of a document.
    pub fn delete(&mut self, id: ItemId) {
        self.writer.delete_term(Term::from_field_u64(self.fields.id, id));
    }

    /// Commits queued documents and deletions and returns a searcher that sees them.
    pub fn commit(&mut self) -> Result<Searcher> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(self.reader.searcher())
    }

    /// A searcher of the last commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }
}

/// Read-only text search over a committed searcher and a tail.
pub struct TextView<'a> {
    pub fields: Fields,
    pub searcher: &'a Searcher,
    pub tail: &'a [Arc<TailBatch>],
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
            self.tail.iter().map(|b| b.postings.get(term).map_or(0, |l| l.len() as u64)).sum()
        }
    }

    /// Top `limit` committed documents by BM25 among those passing `filter`, as (score, id),
    /// ties broken by id.
    pub fn search_committed(
        &self,
        terms: &[String],
        filter: &TextFilter<'_>,
        limit: usize,
    ) -> Result<Vec<(f32, ItemId)>> {
        if terms.is_empty() || self.searcher.num_docs() == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let should: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(Term::from_field_text(f.text, t), IndexRecordOption::WithFreqs));
                (Occur::Should, q)
            })
            .collect();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        let zero =
            |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) { (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))) };
        let term = |field: Field, s: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, s), IndexRecordOption::Basic))
        };
        if let Some(a) = filter.agent {
            clauses.push(zero(term(f.agent, a)));
        }
        if let Some(s) = filter.symbol {
            clauses.push(zero(term(f.symbol, s)));
        }
        if let Some(k) = filter.kind {
            clauses.push(zero(term(f.kind, k.name())));
        }
        if filter.from.is_some() || filter.to.is_some() {
            let lo = filter.from.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_i64(f.time, t)));
            let hi = filter.to.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_i64(f.time, t)));
            clauses.push(zero(Box::new(RangeQuery::new(lo, hi))));
        }
        let query = BooleanQuery::new(clauses);
        let collector = TopDocs::with_limit(limit).tweak_score(move |seg: &SegmentReader| {
            let ids =
                seg.fast_fields().u64("id").expect("`id` is a fast field of every segment").first_or_default_col(0);
            move |doc: DocId, score: Score| (score, std::cmp::Reverse(ids.get_val(doc)))
        });
        let hits = self.searcher.search(&query, &collector)?;
        Ok(hits.into_iter().map(|((s, std::cmp::Reverse(id)), _)| (s, id)).collect())
    }

    /// BM25 scores of tail documents passing `filter` that contain a query term, as
    /// (score, id), scored against the committed statistics.
    pub fn search_tail(&self, terms: &[String], filter: &TextFilter<'_>) -> Vec<(f32, ItemId)> {
        if terms.is_empty() || self.tail.is_empty() {
            return Vec::new();
        }
        let stats = self.stats();
        let committed = self.searcher.total_num_docs().unwrap_or(0) > 0;
        let weights: Vec<Option<Bm25Weight>> = terms
            .iter()
            .map(|t| {
                let df = self.doc_freq(t, committed);
                (df > 0 || committed)
                    .then(|| Bm25Weight::for_one_term_without_explain(df.max(1), stats.docs.max(1), stats.avg_len))
            })
            .collect();
        let mut out = Vec::new();
        for batch in self.tail {
            let mut acc: HashMap<u32, f32> = HashMap::new();
            for (t, w) in terms.iter().zip(&weights) {
                let (Some(list), Some(w)) = (batch.postings.get(t), w) else { continue };
                for &(i, tf) in list {
                    let d = &batch.docs[i as usize];
                    *acc.entry(i).or_default() += w.score(FieldNormReader::fieldnorm_to_id(d.len), tf);
                }
            }
            for (i, s) in acc {
                let d = &batch.docs[i as usize];
                if batch.passes(d, filter) {
                    out.push((s, d.id));
                }
            }
        }
        out
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
