//! The tantivy index over item texts: its schema, its writer and the commit rule.
//!
//! `id` and `time` are fast fields only, not indexed: a unique term per document made
//! tantivy build a term dictionary as large as the index on every commit (that was the
//! largest cost of inserting). Agent, symbol and kind are untokenized filter terms; the
//! text field is analysed by [`Analyzer`] (registered as the `quorum` tokenizer). The index
//! lives in RAM (`RamDirectory`), with no stored fields (the store keeps the texts).

use tantivy::directory::RamDirectory;
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use super::analyzer::{Analyzer, QuorumTokenizer};
use super::postings::Committed;
use crate::market::Ts;
use crate::memory::error::{MemoryError, Result};
use crate::memory::item::{ItemId, Kind};

/// Schema fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
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

/// Indexing threads. Two keep up with the publishing thread on this 2-core machine; doc ids
/// then depend on thread timing, but no result does: BM25 statistics are index-wide
/// integers and ties are broken by item id (`search_committed`).
const INDEX_THREADS: usize = 2;

/// The tantivy index and its writer.
pub(crate) struct TextIndex {
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
    pub(crate) fn new(analyzer: &Analyzer) -> Result<Self> {
        let (schema, fields) = schema();
        let ram = RamDirectory::create();
        let index = Index::create(ram.clone(), schema, Default::default())?;
        Self::open(index, ram, fields, analyzer)
    }

    /// Opens the index held in `ram` (e.g. loaded from a checkpoint); its schema must be
    /// this version's.
    pub(crate) fn open_existing(ram: RamDirectory, analyzer: &Analyzer) -> Result<Self> {
        let index = Index::open(ram.clone())?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(MemoryError::Invalid("text index schema does not match this version".into()));
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
    pub(crate) fn doc(
        &self,
        id: ItemId,
        time: Ts,
        agent: &str,
        symbol: &str,
        kind: Kind,
        text: &str,
    ) -> TantivyDocument {
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
    pub(crate) fn add_all(&mut self, docs: Vec<TantivyDocument>) -> Result<()> {
        let mut it = docs.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(512).map(tantivy::indexer::UserOperation::Add).collect();
            self.writer.run(batch)?;
        }
        Ok(())
    }

    /// Queues the deletion of every document (applied at the next commit).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
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
    pub(crate) fn commit(&mut self) -> Result<Committed> {
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
    pub(crate) fn searcher(&self) -> Committed {
        self.current.clone()
    }
}

/// Reads every committed document's id (for checkpoint consistency checks).
pub(crate) fn committed_ids(searcher: &Searcher) -> Result<Vec<ItemId>> {
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
