//! Checkpoints: save and load a store as a folder, crash-safe.
//!
//! Layout (format version 1):
//!
//! ```text
//! DIR/manifest.json     format, version, parameters, counters, size + CRC-32 of every file
//! DIR/items.jsonl       one live item per line, with its state (importance, layer, ...)
//! DIR/aggregates.json   the win/loss aggregates and their outcome log
//! DIR/index/...         the tantivy index files
//! ```
//!
//! Saving leaves the live store untouched (no commit, no compaction: saving mid-run
//! changes no later recall), writes everything into `DIR.tmp-<pid>`, fsyncs each file and
//! the folder, then renames it over `DIR` (the old
//! folder is moved aside first and removed last): a crash leaves either the old checkpoint
//! or the new one, never a mix. Loading checks the format and version, then every file's
//! size and CRC-32 before parsing, and that the index holds exactly the items' ids; a
//! missing, truncated, modified or foreign file is an error naming it. Only published state
//! is saved: writes staged since the last publish are not.
//!
//! Deterministic: the same store gives the same bytes. The index is not the live one
//! (whose two indexing threads split documents between segments by timing, under random
//! segment UUIDs) but a copy built for the checkpoint: live items in id order, one thread,
//! one merged segment, named `000…01` (`text::deterministic_names`). Loading reads it like
//! any tantivy index.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tantivy::directory::{Directory, MmapDirectory, RamDirectory};

use super::aggregates::Aggregates;
use super::error::{MemoryError, Result};
use super::item::{ItemExtra, ItemId, Kind, Layer};
use super::ivf::Ivf;
use super::params::MemoryParams;
use super::store::{MemoryStore, Writer};
use super::table::{ItemState, Names, RowKey, Segment, Table};
use super::text::{Analyzer, TextIndex, committed_ids, deterministic_names};
use crate::market::Ts;

/// The checkpoint format version this build writes and reads.
pub(super) const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "quorum-memory";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileSum {
    bytes: u64,
    crc32: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    params: MemoryParams,
    next_id: ItemId,
    now: Ts,
    epoch: u64,
    last_sweep: Ts,
    items: usize,
    files: BTreeMap<String, FileSum>,
}

/// One item line of `items.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredItem {
    id: ItemId,
    time: Ts,
    agent: String,
    symbol: String,
    kind: Kind,
    layer: Layer,
    text: String,
    vector: Vec<f32>,
    importance: f64,
    imp_time: Ts,
    anchor: Ts,
    access: u32,
    #[serde(default)]
    outcome: Option<f64>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    source_id: Option<String>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> MemoryError + 'a {
    move |e| MemoryError::io(path, action, e)
}

/// A writer that counts bytes and CRC-32 as it goes.
struct Summing<W: Write> {
    inner: W,
    hasher: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Summing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_file(path: &Path, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<FileSum> {
    let file = File::create(path).map_err(io(path, "cannot create"))?;
    let mut w = Summing { inner: BufWriter::new(file), hasher: crc32fast::Hasher::new(), bytes: 0 };
    f(&mut w).map_err(io(path, "cannot write"))?;
    w.flush().map_err(io(path, "cannot write"))?;
    let sum = FileSum { bytes: w.bytes, crc32: w.hasher.finalize() };
    let file = w.inner.into_inner().map_err(|e| MemoryError::io(path, "cannot write", e.into_error()))?;
    file.sync_all().map_err(io(path, "cannot fsync"))?;
    Ok(sum)
}

fn sum_of(path: &Path) -> Result<FileSum> {
    let mut f = File::open(path).map_err(io(path, "cannot read"))?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path, "cannot read"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum { bytes, crc32: h.finalize() })
}

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path).and_then(|d| d.sync_all()).map_err(io(path, "cannot fsync"))
}

impl MemoryStore {
    /// Saves the published state to the checkpoint folder `dir` (atomically replaced).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let started = std::time::Instant::now();
        // The live store is left as it is (no commit, no compaction): a run that saves a
        // checkpoint mid-way (the paper runner, every N steps) must recall exactly what one
        // that never saves does. The checkpoint's own index is a copy of the live items.
        let snap = self.snapshot();
        let w = self.writer();
        let tmp = sibling(dir, "tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp, "cannot remove stale temporary folder"))?;
        }
        let index_dir = tmp.join("index");
        std::fs::create_dir_all(&index_dir).map_err(io(&index_dir, "cannot create"))?;
        let mut files = BTreeMap::new();

        let items_path = tmp.join("items.jsonl");
        let mut count = 0usize;
        let sum = write_file(&items_path, |out| {
            for item in snap.items(snap.now()) {
                let pos = w.table.position(item.id).expect("live item has a position");
                let st = w.table.state(pos);
                let line = StoredItem {
                    id: item.id,
                    time: item.time,
                    agent: item.agent,
                    symbol: item.symbol,
                    kind: item.kind,
                    layer: st.layer,
                    text: item.text.to_string(),
                    vector: item.vector,
                    importance: st.importance,
                    imp_time: st.imp_time,
                    anchor: st.anchor,
                    access: st.access,
                    outcome: item.outcome,
                    metadata: item.metadata,
                    source_id: item.source_id,
                };
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
                count += 1;
            }
            Ok(())
        })?;
        files.insert("items.jsonl".to_string(), sum);

        let agg_path = tmp.join("aggregates.json");
        let sum = write_file(&agg_path, |out| Ok(serde_json::to_writer(out, &*w.aggregates)?))?;
        files.insert("aggregates.json".to_string(), sum);

        let mmap = MmapDirectory::open(&index_dir)
            .map_err(|e| MemoryError::Invalid(format!("{}: {e}", index_dir.display())))?;
        let mut docs: Vec<(ItemId, tantivy::TantivyDocument)> = Vec::with_capacity(count);
        for seg in &w.table.segments {
            for i in 0..seg.len() {
                // Live items only: dead ones keep their slot until the store compacts.
                if w.table.position(seg.ids[i]).is_none_or(|pos| !w.table.state(pos).alive) {
                    continue;
                }
                let (agent, symbol) =
                    (&w.names.agents[seg.agent[i] as usize], &w.names.symbols[seg.symbol[i] as usize]);
                docs.push((seg.ids[i], w.text.doc(seg.ids[i], seg.time[i], agent, symbol, seg.kind[i], &seg.text[i])));
            }
        }
        docs.sort_by_key(|d| d.0);
        w.text.checkpoint_copy(docs.into_iter().map(|d| d.1).collect())?.persist(&mmap)?;
        drop(mmap);
        deterministic_names(&index_dir)?;
        let mut names: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(&index_dir).map_err(io(&index_dir, "cannot list"))? {
            let p = entry.map_err(io(&index_dir, "cannot list"))?.path();
            // The live writer's lock file is process state, not index data.
            if p.extension().is_some_and(|e| e == "lock") {
                std::fs::remove_file(&p).map_err(io(&p, "cannot remove"))?;
            } else if p.is_file() {
                names.push(p);
            }
        }
        names.sort();
        for p in names {
            File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p, "cannot fsync"))?;
            let name = format!("index/{}", p.file_name().and_then(|n| n.to_str()).unwrap_or_default());
            files.insert(name, sum_of(&p)?);
        }
        sync_dir(&index_dir)?;

        let manifest = Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            params: self.params().clone(),
            next_id: w.next_id,
            now: w.now,
            epoch: w.epoch,
            last_sweep: w.last_sweep,
            items: count,
            files,
        };
        let mpath = tmp.join("manifest.json");
        write_file(&mpath, |out| Ok(serde_json::to_writer_pretty(out, &manifest)?))?;
        sync_dir(&tmp)?;
        drop(w);

        let old = sibling(dir, "old");
        if dir.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io(&old, "cannot remove"))?;
            }
            std::fs::rename(dir, &old).map_err(io(dir, "cannot move aside"))?;
        }
        std::fs::rename(&tmp, dir).map_err(io(dir, "cannot rename checkpoint into place"))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old, "cannot remove"))?;
        }
        tracing::info!(dir = %dir.display(), items = count, ms = started.elapsed().as_millis() as u64, "memory checkpoint saved");
        Ok(())
    }

    /// Loads a checkpoint folder written by [`MemoryStore::save`].
    pub fn load(dir: &Path) -> Result<MemoryStore> {
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(io(&mpath, "cannot read checkpoint manifest"))?;
        let head: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| MemoryError::corrupt(&mpath, format!("not valid JSON: {e}")))?;
        if head.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(MemoryError::corrupt(
                &mpath,
                format!("not a quorum memory checkpoint (format {:?})", head.get("format")),
            ));
        }
        let version = head.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != FORMAT_VERSION as u64 {
            return Err(MemoryError::corrupt(
                &mpath,
                format!("format version {version}, this build reads version {FORMAT_VERSION}"),
            ));
        }
        let m: Manifest = serde_json::from_value(head).map_err(|e| MemoryError::corrupt(&mpath, e.to_string()))?;
        m.params.validate()?;
        for required in ["items.jsonl", "aggregates.json"] {
            if !m.files.contains_key(required) {
                return Err(MemoryError::corrupt(&mpath, format!("manifest lists no {required}")));
            }
        }
        for (name, want) in &m.files {
            let p = dir.join(name);
            if !p.is_file() {
                return Err(MemoryError::corrupt(&p, "file listed in the manifest is missing"));
            }
            let got = sum_of(&p)?;
            if got.bytes != want.bytes {
                return Err(MemoryError::corrupt(
                    &p,
                    format!("{} bytes, manifest says {} (truncated or modified)", got.bytes, want.bytes),
                ));
            }
            if got.crc32 != want.crc32 {
                return Err(MemoryError::corrupt(
                    &p,
                    format!("CRC-32 {:08x}, manifest says {:08x} (modified)", got.crc32, want.crc32),
                ));
            }
        }

        let p = &m.params;
        let items_path = dir.join("items.jsonl");
        let f = File::open(&items_path).map_err(io(&items_path, "cannot read"))?;
        let mut names = Names::default();
        let mut seg = Segment::default();
        let mut states = Vec::new();
        let mut by_layer = [0usize; 4];
        let mut last_id = 0;
        for (n, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(io(&items_path, "cannot read"))?;
            let it: StoredItem = serde_json::from_str(&line)
                .map_err(|e| MemoryError::corrupt(&items_path, format!("line {}: {e}", n + 1)))?;
            if it.id <= last_id || it.id >= m.next_id {
                return Err(MemoryError::corrupt(&items_path, format!("line {}: id {} out of order", n + 1, it.id)));
            }
            if !it.vector.is_empty() && it.vector.len() != p.dim {
                return Err(MemoryError::corrupt(
                    &items_path,
                    format!("line {}: vector of {} values, dimension is {}", n + 1, it.vector.len(), p.dim),
                ));
            }
            last_id = it.id;
            let (Some(a), Some(s)) = (names.agent(&it.agent), names.symbol(&it.symbol)) else {
                return Err(MemoryError::corrupt(&items_path, "too many agents or symbols"));
            };
            let key = RowKey { id: it.id, time: it.time, agent: a, symbol: s, kind: it.kind };
            let extra = ItemExtra {
                outcome: it.outcome,
                metadata: it.metadata,
                source_id: it.source_id,
                raw_vector: it.vector,
            };
            seg.push_new(key, &it.text, extra, p.dim);
            states.push(ItemState {
                importance: it.importance,
                imp_time: it.imp_time,
                anchor: it.anchor,
                access: it.access,
                layer: it.layer,
                alive: true,
            });
            by_layer[it.layer.index()] += 1;
        }
        if states.len() != m.items {
            return Err(MemoryError::corrupt(
                &items_path,
                format!("{} items, manifest says {}", states.len(), m.items),
            ));
        }
        let agg_path = dir.join("aggregates.json");
        let agg_text = std::fs::read_to_string(&agg_path).map_err(io(&agg_path, "cannot read"))?;
        let aggregates: Aggregates =
            serde_json::from_str(&agg_text).map_err(|e| MemoryError::corrupt(&agg_path, e.to_string()))?;

        let ram = RamDirectory::create();
        for name in m.files.keys().filter(|n| n.starts_with("index/")) {
            let src = dir.join(name);
            let bytes = std::fs::read(&src).map_err(io(&src, "cannot read"))?;
            ram.atomic_write(Path::new(&name["index/".len()..]), &bytes)
                .map_err(io(&src, "cannot load into memory"))?;
        }
        let index_dir = dir.join("index");
        let analyzer = Analyzer::default();
        let text =
            TextIndex::open_existing(ram, &analyzer).map_err(|e| MemoryError::corrupt(&index_dir, e.to_string()))?;
        let searcher = text.searcher();
        let ids = committed_ids(&searcher.searcher).map_err(|e| MemoryError::corrupt(&index_dir, e.to_string()))?;
        if ids != seg.ids {
            return Err(MemoryError::corrupt(
                &index_dir,
                format!("index holds {} documents, items.jsonl {} items: they do not match", ids.len(), seg.ids.len()),
            ));
        }

        let live = states.len();
        let mut writer = Writer::new(p, text, analyzer);
        let mut table = Table::default();
        table.append(seg, states);
        writer.table = table;
        writer.names = Arc::new(names);
        writer.searcher = searcher;
        writer.aggregates = Arc::new(aggregates);
        writer.next_id = m.next_id;
        writer.now = m.now;
        writer.epoch = m.epoch;
        writer.last_sweep = m.last_sweep;
        writer.live = live;
        writer.max_time = writer.table.segments.iter().flat_map(|s| s.time.iter().copied()).max().unwrap_or(i64::MIN);
        writer.by_layer = by_layer;
        if live >= p.ivf_min_items {
            writer.ivf = Some(Arc::new(Ivf::train(&writer.table, p.dim, live)));
        }
        Ok(MemoryStore::from_writer(m.params.clone(), writer))
    }
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "checkpoint".into());
    dir.with_file_name(format!("{name}.{tag}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Kind, MemoryParams, NewItem};

    const T0: i64 = 1_381_152_600_000_000_000;

    fn saved() -> (tempfile::TempDir, MemoryStore) {
        let s = MemoryStore::new(MemoryParams { dim: 2, ..MemoryParams::default() }).unwrap();
        for k in 0..5 {
            let it = NewItem::new(T0 + k, "a", "SPY", Kind::Outcome, format!("vote {k} won")).with_outcome(0.01);
            s.insert(it.with_vector(vec![1.0, k as f32])).unwrap();
        }
        s.publish(T0 + 10).unwrap();
        let dir = tempfile::tempdir().unwrap();
        s.save(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn test_persist_save_load_same_items_and_stats() {
        let (dir, s) = saved();
        let l = MemoryStore::load(dir.path()).unwrap();
        let (a, b) = (s.snapshot(), l.snapshot());
        assert_eq!(a.items(a.now()).collect::<Vec<_>>(), b.items(b.now()).collect::<Vec<_>>());
        assert_eq!(a.agent_stats("a", None, a.now()), b.agent_stats("a", None, b.now()));
        assert_eq!(*a.params(), *b.params());
    }

    /// An empty store (a graph run whose memories all faded, an empty ingest) saves and
    /// loads: its index has no segment to name.
    #[test]
    fn test_persist_empty_store_round_trips() {
        let s = MemoryStore::new(MemoryParams { dim: 2, ..MemoryParams::default() }).unwrap();
        s.publish(T0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        s.save(&dir.path().join("m")).unwrap();
        let l = MemoryStore::load(&dir.path().join("m")).unwrap();
        assert_eq!(l.snapshot().items(T0).count(), 0);
    }

    /// Every file is checked against the manifest's size and CRC-32; the error names it.
    #[test]
    fn test_persist_detects_modified_truncated_and_missing_files() {
        let (dir, _) = saved();
        let items = dir.path().join("items.jsonl");
        let text = std::fs::read_to_string(&items).unwrap();
        std::fs::write(&items, text.replacen("won", "wan", 1)).unwrap();
        let e = MemoryStore::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("items.jsonl") && e.contains("CRC-32"), "{e}");
        std::fs::write(&items, &text[..text.len() / 2]).unwrap();
        let e = MemoryStore::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("items.jsonl") && e.contains("truncated"), "{e}");
        std::fs::remove_file(&items).unwrap();
        let e = MemoryStore::load(dir.path()).err().unwrap().to_string();
        assert!(e.contains("items.jsonl") && e.contains("missing"), "{e}");
    }
}
