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
        Self::open(index, fields, analyzer)
    }

    /// Opens the index held in `ram` (e.g. loaded from a checkpoint); its schema must be
    /// this version's.
    pub(crate) fn open_existing(ram: RamDirectory, analyzer: &Analyzer) -> Result<Self> {
        let index = Index::open(ram)?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(MemoryError::Invalid("text index schema does not match this version".into()));
        }
        Self::open(index, fields, analyzer)
    }

    fn open(index: Index, fields: Fields, analyzer: &Analyzer) -> Result<Self> {
        index.tokenizers().register("quorum", TextAnalyzer::from(QuorumTokenizer::new(analyzer)));
        let writer: IndexWriter = index.writer_with_num_threads(INDEX_THREADS, INDEX_THREADS * 30_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let current = Committed::new(reader.searcher(), fields, None)?;
        Ok(TextIndex { index, fields, writer, reader, current })
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

    /// A fresh index of `docs` (in the order given) for a checkpoint, built so the same
    /// items give the same bytes: one indexing thread, one commit, every segment merged
    /// into one, unreferenced files collected. The segment's random UUID is the only
    /// difference left between two builds; [`deterministic_names`] replaces it.
    pub(crate) fn checkpoint_copy(&self, docs: Vec<TantivyDocument>) -> Result<RamDirectory> {
        let ram = RamDirectory::create();
        let index = Index::create(ram.clone(), self.index.schema(), Default::default())?;
        if let Some(tok) = self.index.tokenizers().get("quorum") {
            index.tokenizers().register("quorum", tok);
        }
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 60_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        for doc in docs {
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let ids: Vec<_> = index.searchable_segment_ids()?;
        if ids.len() > 1 {
            writer.merge(&ids).wait()?;
        }
        writer.garbage_collect_files().wait()?;
        writer.wait_merging_threads()?;
        Ok(ram)
    }

    /// The searcher of the last commit.
    pub(crate) fn searcher(&self) -> Committed {
        self.current.clone()
    }
}

/// Renames the single segment of a checkpoint index in `dir` to a fixed id (all zeros but
/// the last digit) and rewrites `meta.json` and `.managed.json` to match, so a checkpoint's
/// index files are identical across runs. The id is a name only: tantivy reads it from
/// `meta.json`.
pub(crate) fn deterministic_names(dir: &std::path::Path) -> Result<()> {
    const FIXED: &str = "00000000000000000000000000000001";
    let io = |e: std::io::Error| MemoryError::Invalid(format!("{}: {e}", dir.display()));
    let meta_path = dir.join("meta.json");
    let meta = std::fs::read_to_string(&meta_path).map_err(io)?;
    let v: serde_json::Value =
        serde_json::from_str(&meta).map_err(|e| MemoryError::Invalid(format!("{}: {e}", meta_path.display())))?;
    let ids: Vec<String> = v["segments"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["segment_id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let (id, plain) = match ids.as_slice() {
        // An empty store has no segment: nothing to rename.
        [] => (String::from(FIXED), String::from(FIXED)),
        [id] => (id.clone(), id.replace('-', "")),
        _ => {
            return Err(MemoryError::Invalid(format!("{}: expected one segment, found {}", dir.display(), ids.len())));
        }
    };
    for e in std::fs::read_dir(dir).map_err(io)? {
        let p = e.map_err(io)?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if let Some(rest) = name.strip_prefix(plain.as_str()).filter(|_| plain != FIXED) {
            std::fs::rename(&p, dir.join(format!("{FIXED}{rest}"))).map_err(io)?;
        }
    }
    for f in ["meta.json", ".managed.json"] {
        let p = dir.join(f);
        if !p.is_file() {
            continue;
        }
        let mut text = std::fs::read_to_string(&p).map_err(io)?.replace(id.as_str(), FIXED).replace(&plain, FIXED);
        if f == ".managed.json" {
            // A set, written in hash order: sort it.
            let mut names: Vec<String> =
                serde_json::from_str(&text).map_err(|e| MemoryError::Invalid(format!("{}: {e}", p.display())))?;
            names.sort();
            text = serde_json::to_string(&names).expect("strings serialize");
        }
        std::fs::write(&p, text).map_err(io)?;
    }
    Ok(())
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
