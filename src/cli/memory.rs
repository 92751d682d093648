//! `quorum memory ...`: ingest JSONL into a checkpoint, search it, describe it, benchmark it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::choice::{BAD_ROWS, KINDS, LAYERS, choice};
use quorum::config::Config;
use quorum::market::BadRowPolicy;
use quorum::market::time::{TimeBound, format_ts};
use quorum::memory::jsonl::{parse_item, parse_query, read_lines};
use quorum::memory::{Kind, Layer, MemoryStore, Query, ScoreParts};

/// Memory subcommands.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Add the items of a JSONL file to a checkpoint folder (created if absent).
    Ingest(IngestArgs),
    /// Recall from a checkpoint: top-k hits with their score parts.
    Search(SearchArgs),
    /// Counts by layer, kind, agent and symbol; importance and recency distributions.
    Stats(StatsArgs),
    /// Run a JSONL file of queries against a checkpoint; print latency percentiles and queries/s.
    Bench(BenchArgs),
}

/// `memory ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// JSONL file of items (schema in the README).
    pub file: PathBuf,
    /// Checkpoint folder to create or extend.
    #[arg(long)]
    pub into: PathBuf,
    /// Config file whose `[memory]` section sets the parameters of a new store.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Vector dimension of a new store (default: the first item's vector length, else memory.dim).
    #[arg(long)]
    pub dim: Option<usize>,
    /// What to do with malformed lines.
    #[arg(long, value_parser = choice(BAD_ROWS), default_value = "fail")]
    pub on_bad_row: BadRowPolicy,
}

/// `memory search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Checkpoint folder.
    pub dir: PathBuf,
    /// Query text (BM25); omit for a vector-only query.
    pub text: Option<String>,
    /// Query vector, comma-separated.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub vector: Option<Vec<f32>>,
    /// Only memories of this analyst (e.g. wyckoff).
    #[arg(long)]
    pub agent: Option<String>,
    /// Only memories about this symbol (e.g. SPY).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Only memories of this kind.
    #[arg(long, value_parser = choice(KINDS))]
    pub kind: Option<Kind>,
    /// Only memories in this layer.
    #[arg(long, value_parser = choice(LAYERS))]
    pub layer: Option<Layer>,
    /// Only items at or after this time (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<TimeBound>,
    /// As-of time (default: the checkpoint's last publish).
    #[arg(long)]
    pub at: Option<TimeBound>,
    /// Number of hits.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `memory stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Checkpoint folder.
    pub dir: PathBuf,
    /// Time at which recency and importance are evaluated (default: last publish).
    #[arg(long)]
    pub at: Option<TimeBound>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `memory bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Checkpoint folder.
    pub dir: PathBuf,
    /// JSONL file of queries.
    #[arg(long)]
    pub queries: PathBuf,
    /// Default hits per query.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Passes over the query file (after one warm-up pass).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// IVF lists probed per query (default: the store's `ivf_probe`).
    #[arg(long)]
    pub probe: Option<usize>,
    /// What to do with malformed lines.
    #[arg(long, value_parser = choice(BAD_ROWS), default_value = "fail")]
    pub on_bad_row: BadRowPolicy,
}

/// Runs a memory subcommand.
pub fn run(cmd: MemoryCommand) -> Result<()> {
    match cmd {
        MemoryCommand::Ingest(a) => ingest(&a),
        MemoryCommand::Search(a) => search(&a),
        MemoryCommand::Stats(a) => stats(&a),
        MemoryCommand::Bench(a) => bench(&a),
    }
}

fn is_checkpoint(dir: &Path) -> bool {
    dir.join("manifest.json").is_file()
}

fn open(dir: &Path) -> Result<MemoryStore> {
    quorum::run::check_memory_dir(dir)?;
    if !is_checkpoint(dir) {
        bail!(
            "{}: not a memory checkpoint (no manifest.json); create one with `quorum memory ingest FILE --into {}`",
            dir.display(),
            dir.display()
        );
    }
    Ok(MemoryStore::load(dir)?)
}

fn ingest(a: &IngestArgs) -> Result<()> {
    let started = Instant::now();
    let (items, skipped) = read_lines(&a.file, a.on_bad_row, parse_item)?;
    let store = if is_checkpoint(&a.into) {
        MemoryStore::load(&a.into)?
    } else {
        let mut params = Config::load(a.config.as_deref())?.memory;
        if let Some(d) = a.dim.or_else(|| items.iter().map(|(_, i)| i.vector.len()).find(|&n| n > 0)) {
            params.dim = d;
        }
        MemoryStore::new(params)?
    };
    let mut items = items;
    items.sort_by_key(|(line, it)| (it.time, *line));
    let mut bad: BTreeMap<String, usize> = skipped;
    let mut accepted = 0usize;
    let mut latest = i64::MIN;
    for (line, item) in items {
        let t = item.time;
        if let Err(e) = store.insert(item) {
            match a.on_bad_row {
                BadRowPolicy::Fail => bail!("{}: line {line}: {e}", a.file.display()),
                BadRowPolicy::Skip => {
                    *bad.entry("item".into()).or_default() += 1;
                    continue;
                }
            }
        }
        accepted += 1;
        latest = latest.max(t);
    }
    let now = latest.max(store.snapshot().now());
    let report = store.publish_bulk(now)?;
    store.save(&a.into).with_context(|| format!("saving {}", a.into.display()))?;
    let c = store.snapshot().counts();
    println!(
        "ingested {accepted} items into {} ({} live: short {}, mid {}, long {}, reflection {}; evicted {}) in {:.2?}",
        a.into.display(),
        c.live,
        c.by_layer[0],
        c.by_layer[1],
        c.by_layer[2],
        c.by_layer[3],
        report.evicted,
        started.elapsed()
    );
    if !bad.is_empty() {
        println!("skipped lines: {}", bad.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "));
    }
    Ok(())
}

#[derive(Serialize)]
struct HitOut {
    id: u64,
    score: f64,
    parts: ScoreParts,
    time: String,
    agent: String,
    symbol: String,
    kind: Kind,
    layer: Layer,
    text: String,
    source_id: Option<String>,
}

fn search(a: &SearchArgs) -> Result<()> {
    let store = open(&a.dir)?;
    let snap = store.snapshot();
    if a.text.as_deref().is_none_or(|t| t.trim().is_empty()) && a.vector.is_none() {
        bail!("give a query text, --vector, or both");
    }
    if let Some(v) = &a.vector {
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            bail!("--vector value {} is {x}: every value must be a finite number", i + 1);
        }
        if v.len() != store.params().dim {
            bail!("--vector has {} values, this store's dimension is {}", v.len(), store.params().dim);
        }
    }
    if a.k == 0 {
        bail!("-k must be at least 1");
    }
    let at = a.at.as_ref().map_or(snap.now(), TimeBound::start);
    let q = Query {
        text: a.text.clone(),
        vector: a.vector.clone(),
        agent: a.agent.clone(),
        // Symbols are upper case everywhere (the loader's rule): `--symbol spy` finds SPY.
        symbol: a.symbol.as_ref().map(|s| s.to_ascii_uppercase()),
        kind: a.kind,
        layer: a.layer,
        from: a.from.as_ref().map(TimeBound::start),
        at,
        k: a.k,
        probe: None,
    };
    let hits = snap.recall(&q)?;
    let out: Vec<HitOut> = hits
        .iter()
        .filter_map(|h| {
            let it = snap.item(h.id, at)?;
            Some(HitOut {
                id: h.id,
                score: h.score,
                parts: h.parts,
                time: format_ts(it.time),
                agent: it.agent,
                symbol: it.symbol,
                kind: it.kind,
                layer: it.layer,
                text: it.text.to_string(),
                source_id: it.source_id,
            })
        })
        .collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{} hits as of {}", out.len(), format_ts(at));
    println!(
        "{:>8} {:>6} {:>6} {:>6} {:>6} {:>6}  {:<20} {:<10} {:<6} {:<11} text",
        "id", "score", "text", "vector", "recent", "import", "time", "agent", "symbol", "kind/layer"
    );
    for h in out {
        println!(
            "{:>8} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.1}  {:<20} {:<10} {:<6} {:<11} {}",
            h.id,
            h.score,
            h.parts.text,
            h.parts.vector,
            h.parts.recency,
            h.parts.importance,
            h.time,
            h.agent,
            h.symbol,
            format!("{}/{}", h.kind.name(), h.layer.name()),
            h.text
        );
    }
    Ok(())
}

#[derive(Serialize, Default)]
struct Distribution {
    min: f64,
    p10: f64,
    p50: f64,
    p90: f64,
    max: f64,
}

fn distribution(mut v: Vec<f64>) -> Distribution {
    if v.is_empty() {
        return Distribution::default();
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Distribution { min: v[0], p10: q(0.1), p50: q(0.5), p90: q(0.9), max: v[v.len() - 1] }
}

#[derive(Serialize)]
struct StatsOut {
    at: String,
    live: usize,
    by_layer: BTreeMap<String, usize>,
    by_kind: BTreeMap<String, usize>,
    by_agent: BTreeMap<String, usize>,
    by_symbol: BTreeMap<String, usize>,
    importance: Distribution,
    recency: Distribution,
    outcomes_by_agent: BTreeMap<String, quorum::memory::AgentStats>,
}

fn stats(a: &StatsArgs) -> Result<()> {
    let store = open(&a.dir)?;
    let snap = store.snapshot();
    let at = a.at.as_ref().map_or(snap.now(), TimeBound::start);
    let mut out = StatsOut {
        at: format_ts(at),
        live: 0,
        by_layer: BTreeMap::new(),
        by_kind: BTreeMap::new(),
        by_agent: BTreeMap::new(),
        by_symbol: BTreeMap::new(),
        importance: Distribution::default(),
        recency: Distribution::default(),
        outcomes_by_agent: BTreeMap::new(),
    };
    let (mut imp, mut rec) = (Vec::new(), Vec::new());
    for it in snap.items(at) {
        out.live += 1;
        *out.by_layer.entry(it.layer.name().into()).or_default() += 1;
        *out.by_kind.entry(it.kind.name().into()).or_default() += 1;
        *out.by_agent.entry(it.agent.clone()).or_default() += 1;
        *out.by_symbol.entry(it.symbol.clone()).or_default() += 1;
        imp.push(it.importance);
        rec.push(it.recency);
    }
    out.importance = distribution(imp);
    out.recency = distribution(rec);
    for agent in snap.aggregates().agents() {
        out.outcomes_by_agent.insert(agent.to_string(), snap.agent_stats(agent, None, at.max(snap.now())));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{} live items as of {}", out.live, out.at);
    let show = |name: &str, m: &BTreeMap<String, usize>| {
        println!("  by {name}: {}", m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    };
    show("layer", &out.by_layer);
    show("kind", &out.by_kind);
    show("agent", &out.by_agent);
    show("symbol", &out.by_symbol);
    for (name, d) in [("importance", &out.importance), ("recency", &out.recency)] {
        println!("  {name}: min {:.3}  p10 {:.3}  p50 {:.3}  p90 {:.3}  max {:.3}", d.min, d.p10, d.p50, d.p90, d.max);
    }
    for (agent, s) in &out.outcomes_by_agent {
        println!(
            "  outcomes {agent}: wins {:.2}, losses {:.2}, mean return {:.5}, win rate (Beta 1,1) {:.3}",
            s.wins,
            s.losses,
            s.mean_return,
            s.win_rate(1.0, 1.0)
        );
    }
    Ok(())
}

fn bench(a: &BenchArgs) -> Result<()> {
    let store = open(&a.dir)?;
    let snap = store.snapshot();
    let (mut queries, skipped) = read_lines(&a.queries, a.on_bad_row, |l| parse_query(l, snap.now(), a.k))?;
    if a.probe == Some(0) {
        bail!("--probe must be at least 1");
    }
    queries.iter_mut().for_each(|(_, q)| q.probe = a.probe);
    if queries.is_empty() {
        bail!("{}: no queries", a.queries.display());
    }
    for (line, q) in &queries {
        if let Some(v) = &q.vector
            && v.len() != store.params().dim
        {
            bail!(
                "{}: line {line}: field `vector`: {} values, this store's dimension is {}",
                a.queries.display(),
                v.len(),
                store.params().dim
            );
        }
    }
    // Warm-up pass, which also measures the approximate vector index against every list
    // probed (the exact cosine top-N).
    let (mut hits, mut agree, mut exact_hits) = (0usize, 0usize, 0usize);
    for (_, q) in &queries {
        let got = snap.recall(q)?;
        let exact = snap.recall(&Query { probe: Some(usize::MAX), ..q.clone() })?;
        hits += got.len();
        exact_hits += exact.len();
        agree += got.iter().filter(|h| exact.iter().any(|e| e.id == h.id)).count();
    }
    let mut lat = Vec::with_capacity(queries.len() * a.repeat.max(1));
    let started = Instant::now();
    for _ in 0..a.repeat.max(1) {
        for (_, q) in &queries {
            let t = Instant::now();
            std::hint::black_box(snap.recall(q)?);
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let total = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "{} queries x {} passes on {} live items: p50 {:.1} us, p99 {:.1} us, max {:.1} us, {:.0} queries/s ({} hits in the warm-up pass; {} build)",
        queries.len(),
        a.repeat.max(1),
        snap.counts().live,
        q(0.5),
        q(0.99),
        lat[lat.len() - 1],
        lat.len() as f64 / total,
        hits,
        quorum::memory::simd_build()
    );
    match snap.ivf_lists() {
        Some(lists) => println!(
            "recall@k vs exact vector search: {:.3} ({agree} of {exact_hits} hits; IVF {lists} lists, probe {})",
            agree as f64 / exact_hits.max(1) as f64,
            a.probe.unwrap_or(store.params().ivf_probe)
        ),
        None => println!("vector search is exact (fewer live items than ivf_min_items)"),
    }
    if !skipped.is_empty() {
        println!("skipped lines: {}", skipped.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "));
    }
    Ok(())
}
