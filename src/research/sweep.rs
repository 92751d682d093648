//! Parameter sweeps in shards (`quorum sweep`, issue 17, items 2–4).
//!
//! # The grid
//!
//! A TOML file:
//!
//! ```toml
//! config = "config/default.toml"   # optional base config (else the defaults)
//! [set]                            # fixed overrides, any config key
//! "data.path" = "data/bars"
//! [grid]                           # every combination of these values
//! "composer.cap" = [0.4, 0.6]
//! "costs.commission_bps" = [0.5, 1.0]
//! [random]                         # optional: a seeded sample of the grid instead
//! samples = 3
//! seed = 7
//! [walk_forward]                   # optional: each point a walk-forward
//! train = "2d"
//! test = "1d"
//! embargo = 15
//! [overfit]
//! blocks = 8                       # CSCV blocks for PBO (default 8)
//! ```
//!
//! Keys are dotted config keys (`quorum config` prints them all); a key the config does not
//! have, or a value of the wrong type, is an error naming it. Grid keys vary in key order
//! (sorted), the last fastest; a random sample draws distinct points with the seeded
//! SplitMix64 ([`crate::rng`]) and keeps them in grid order. Paths are relative to the
//! working directory, as everywhere in quorum.
//!
//! # Plan, run, merge: the shard protocol
//!
//! - `plan` writes the sweep folder: `grid.toml` (the file as given), `plan.json`, each
//!   point's resolved `points/pNNNN/config.toml`, and `manifest.parquet`, one row per point
//!   and fold (`shard`, `point`, `fold`, `params`). A shard is one point: with memory carried
//!   forward its folds depend on each other, so they run in order in one process.
//! - `run --shard K` (K from the flag, else `JOB_COMPLETION_INDEX` of a Kubernetes Indexed
//!   Job, else `SLURM_ARRAY_TASK_ID` of a Slurm array) runs point K into
//!   `points/pNNNN/run`, then writes `shards/shard-NNNN.returns.parquet` and
//!   `shards/shard-NNNN.parquet`, each to a temporary name renamed into place, the second
//!   last: it is the shard's completion mark. A shard whose result exists is skipped, so a
//!   retried or duplicated shard is harmless; a killed one leaves no result and reruns whole.
//! - `merge` refuses a sweep with a missing shard (naming them), reads every shard's files
//!   with polars and writes `leaderboard.parquet` and `leaderboard.json`, each shard in
//!   point order, so the result does not depend on which shard ran first, where, or with
//!   what `-j`.
//!
//! The local `quorum sweep GRID.toml -j N` is this protocol: it plans, runs `quorum sweep
//! run DIR --shard K` as child processes, N at a time, and merges.
//!
//! # What a point reports
//!
//! The strategy under test (the first column of the run's table: `composed` for the graph):
//! its metrics over the measured run (a walk-forward: the stitched out-of-sample curve), and
//! its per-step returns, from which the merge computes the per-period Sharpe ratio, skew and
//! kurtosis, the Deflated Sharpe Ratio against the number of points and the variance of
//! their Sharpe ratios, and the sweep's PBO over the points' returns ([`super::overfit`]).
//! The leaderboard is sorted by annualised Sharpe (ties: grid order); the DSR column says
//! how much of the best one survives the selection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::overfit::{Moments, Pbo, deflated_sharpe, pbo};
use super::walk_forward::{Span, WalkForward, walk_forward};
use crate::agents::Registry;
use crate::config::Config;
use crate::engine::{RunError, backtest_with, since};
use crate::market::{TimeBound, Ts};
use crate::report::{ReportError, frame, time_column, write_parquet};

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The grid file is wrong.
    #[error("{path}: {message}")]
    Grid {
        /// The grid file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A point's config is refused.
    #[error("point {point} ({params}): {source}")]
    Point {
        /// The point.
        point: usize,
        /// Its overrides.
        params: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The shard index is missing or out of range.
    #[error("{0}")]
    Shard(String),
    /// Shards without a result.
    #[error(
        "{dir}: shard(s) {missing} have no result yet; run them (quorum sweep run {dir} --shard K) and merge again"
    )]
    Missing {
        /// The sweep folder.
        dir: PathBuf,
        /// Their indices.
        missing: String,
    },
    /// A Parquet file could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> SweepError {
    SweepError::File { path: path.to_path_buf(), message: e.to_string() }
}

/// The walk-forward of every point (`[walk_forward]` of the grid).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalkForwardSection {
    train: String,
    test: String,
    step: Option<String>,
    #[serde(default)]
    anchored: bool,
    #[serde(default)]
    embargo: usize,
    #[serde(default)]
    fresh_memory: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomSection {
    samples: usize,
    seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverfitSection {
    #[serde(default = "default_blocks")]
    blocks: usize,
}

impl Default for OverfitSection {
    /// A grid without `[overfit]` gets the same 8 blocks as an empty one.
    fn default() -> Self {
        OverfitSection { blocks: default_blocks() }
    }
}

fn default_blocks() -> usize {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    config: Option<PathBuf>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    grid: toml::Table,
    random: Option<RandomSection>,
    walk_forward: Option<WalkForwardSection>,
    #[serde(default)]
    overfit: OverfitSection,
}

/// A planned sweep (`plan.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPlan {
    /// Each point's overrides (grid keys only), as TOML values rendered to text.
    pub points: Vec<BTreeMap<String, String>>,
    /// Folds per point (1 without a walk-forward).
    pub folds: usize,
    /// The walk-forward of every point, if any.
    pub walk_forward: Option<WalkForward>,
    /// CSCV blocks for PBO.
    pub blocks: usize,
    /// SHA-256 of what the results depend on: quorum's version, the grid, every point's
    /// resolved config, and the size and modification time of every file under the points'
    /// data, analyst profiles and news. A folder is reused only with the same fingerprint,
    /// and merge takes only shard results written under it.
    pub fingerprint: String,
    /// `--holdout-from`: every point's data ends before it.
    #[serde(default)]
    pub holdout_from: Option<String>,
    /// Each point's own `data.to` before the holdout cut it (`None`: the data's end).
    #[serde(default)]
    pub holdout_to: Vec<Option<String>>,
}

impl SweepPlan {
    /// Shards (one per point).
    pub fn shards(&self) -> usize {
        self.points.len()
    }

    /// A point's overrides as one line, `key=value` joined by spaces.
    pub fn params(&self, point: usize) -> String {
        self.points[point].iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// Written first into a sweep folder: only such folders (or empty ones) are replaced.
const MARK: &str = ".quorum-sweep";

fn point_dir(dir: &Path, point: usize) -> PathBuf {
    dir.join("points").join(format!("p{point:04}"))
}

fn shard_file(dir: &Path, shard: usize, suffix: &str) -> PathBuf {
    dir.join("shards").join(format!("shard-{shard:04}{suffix}"))
}

/// Points a grid may have (the plan lists them all).
const MAX_POINTS: usize = 100_000;
/// CSCV blocks at most: C(16, 8) = 12,870 splits.
const MAX_BLOCKS: usize = 16;

/// The leaves of `t` as (dotted key, value).
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            v => out.push((key, v.clone())),
        }
    }
}

/// Sets the dotted `key` of `table` to `value`, creating tables on the way.
fn set_key(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|s| !s.is_empty()).ok_or_else(|| format!("{key:?}: an empty key"))?;
    let mut t = table;
    for p in parts {
        let entry = t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry.as_table_mut().ok_or_else(|| format!("{key:?}: {p:?} is a value, not a section"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// Reads a grid file and plans its points: the base config with each point's overrides,
/// checked by the config's own parser and validation.
pub fn read_grid(path: &Path, holdout: Option<&TimeBound>) -> Result<Grid, SweepError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    let grid_err = |message: String| SweepError::Grid { path: path.to_path_buf(), message };
    let g: GridFile = toml::from_str(&text).map_err(|e| grid_err(e.to_string().trim_end().to_string()))?;
    let base = Config::load(g.config.as_deref()).map_err(|e| grid_err(e.to_string()))?;
    let mut base_table: toml::Table = base.to_toml().parse().expect("the config's own TOML parses");
    // `composer.cap = 0.4` unquoted (or a `[set.composer]` header) parses as a table:
    // each leaf is set on its own, so the section's other keys keep the base's values.
    let mut leaves = Vec::new();
    flatten("", &g.set, &mut leaves);
    // `agents.NAME.KEY` keys set analyst profile parameters, not config keys.
    let (fixed_agents, leaves): (Vec<_>, Vec<_>) = leaves.into_iter().partition(|(k, _)| k.starts_with("agents."));
    for (k, v) in leaves {
        set_key(&mut base_table, &k, v).map_err(|m| grid_err(format!("[set] {m}")))?;
    }
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (k, v) in &g.grid {
        if v.is_table() {
            return Err(grid_err(format!(
                "[grid] {k:?} is a section: quote dotted keys, e.g. \"{k}.cap\" = [0.4, 0.6]"
            )));
        }
        let values = v.as_array().ok_or_else(|| grid_err(format!("[grid] {k:?}: expected an array of values")))?;
        if values.is_empty() {
            return Err(grid_err(format!("[grid] {k:?}: no values")));
        }
        axes.push((k.clone(), values.clone()));
    }
    axes.sort_by(|a, b| a.0.cmp(&b.0));
    let total = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()).filter(|&n| n <= MAX_POINTS))
        .ok_or_else(|| grid_err(format!("[grid]: more than {MAX_POINTS} points; use [random] on a smaller grid")))?;
    if !(2..=MAX_BLOCKS).contains(&g.overfit.blocks) || !g.overfit.blocks.is_multiple_of(2) {
        return Err(grid_err(format!(
            "[overfit] blocks = {}: an even number from 2 to {MAX_BLOCKS} (CSCV tries C(blocks, blocks/2) splits)",
            g.overfit.blocks
        )));
    }
    let mut indices: Vec<usize> = (0..total).collect();
    if let Some(r) = &g.random {
        if r.samples == 0 {
            return Err(grid_err("[random] samples: at least 1".into()));
        }
        // Fisher–Yates with the seeded generator, the first `samples` kept in grid order.
        let mut rng = crate::rng::SplitMix64(r.seed);
        for i in (1..indices.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            indices.swap(i, j);
        }
        indices.truncate(r.samples.min(total));
        indices.sort_unstable();
    }
    let walk = match &g.walk_forward {
        None => None,
        Some(w) => {
            let span = |key: &str, s: &str| -> Result<Span, SweepError> {
                s.parse().map_err(|e: String| grid_err(format!("[walk_forward] {key}: {e}")))
            };
            Some(WalkForward {
                train: span("train", &w.train)?,
                test: span("test", &w.test)?,
                step: w.step.as_deref().map(|s| span("step", s)).transpose()?,
                anchored: w.anchored,
                embargo: w.embargo,
                fresh_memory: w.fresh_memory,
            })
        }
    };
    let mut points = Vec::new();
    let mut configs = Vec::new();
    let mut holdout_to = Vec::new();
    let mut agents = Vec::new();
    for (point, &idx) in indices.iter().enumerate() {
        let mut rest = idx;
        let mut chosen: Vec<(String, toml::Value)> = Vec::new();
        for (k, values) in axes.iter().rev() {
            chosen.push((k.clone(), values[rest % values.len()].clone()));
            rest /= values.len();
        }
        chosen.reverse();
        let mut table = base_table.clone();
        for (k, v) in chosen.iter().filter(|(k, _)| !k.starts_with("agents.")) {
            set_key(&mut table, k, v.clone()).map_err(|m| grid_err(format!("[grid] {m}")))?;
        }
        let agent_keys: Vec<(String, toml::Value)> = fixed_agents
            .iter()
            .cloned()
            .chain(chosen.iter().filter(|(k, _)| k.starts_with("agents.")).cloned())
            .collect();
        let params: BTreeMap<String, String> = chosen.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        let line = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        let bad =
            |e: Box<dyn std::error::Error + Send + Sync>| SweepError::Point { point, params: line.clone(), source: e };
        let mut cfg = Config::from_toml(&toml::to_string(&table).expect("a table serializes"), path)
            .map_err(|e| bad(Box::new(e)))?;
        holdout_to.push(cfg.data.to.as_ref().map(|t| t.as_str().to_string()));
        if let Some(h) = holdout {
            if cfg.data.from.as_ref().is_some_and(|f| f.start() >= h.start()) {
                return Err(grid_err(format!(
                    "--holdout-from {} is not after data.from {}: nothing is left to sweep",
                    h.as_str(),
                    cfg.data.from.as_ref().map_or("", |f| f.as_str())
                )));
            }
            super::hold_out(&mut cfg, h);
        }
        cfg.validate().map_err(|e| bad(Box::new(e)))?;
        // What a walk-forward would refuse in every shard, refused here, before anything runs.
        if walk.is_some() && cfg.strategy.name != crate::config::StrategyName::Graph {
            return Err(grid_err("[walk_forward] evaluates the analyst graph: strategy.name must be \"graph\"".into()));
        }
        if walk.is_some() && cfg.graph.warmup_until.is_some() {
            return Err(grid_err("[walk_forward] sets every fold's warm-up: remove graph.warmup_until".into()));
        }
        agents.push(if agent_keys.is_empty() {
            None
        } else {
            Some(profiles_with(&cfg.graph.agents_dir, &agent_keys).map_err(|e| bad(e.into()))?)
        });
        points.push(params);
        configs.push(cfg);
    }
    let folds = 1; // completed by `plan` from the data when there is a walk-forward
    let fingerprint = fingerprint(&text, &configs);
    let holdout_from = holdout.map(|h| h.as_str().to_string());
    let plan = SweepPlan {
        points,
        folds,
        walk_forward: walk,
        blocks: g.overfit.blocks,
        fingerprint,
        holdout_from,
        holdout_to,
    };
    Ok(Grid { text, plan, configs, agents })
}

/// A grid read and resolved: its text, plan, every point's config and, for points that set
/// analyst profile parameters, the profile files they run with.
pub struct Grid {
    /// The file as given.
    pub text: String,
    /// The plan (folds filled in by [`plan`]).
    pub plan: SweepPlan,
    /// Every point's config.
    pub configs: Vec<Config>,
    /// Per point: (file name, text) of every profile in its agents folder, when it sets
    /// `agents.NAME.KEY` keys.
    pub agents: Vec<Option<Vec<(String, String)>>>,
}

/// The profiles of `dir` with `keys` (`agents.NAME.KEY`, dotted further for `params`) set,
/// each checked by the profile parser and its analyst kind, as (file name, text).
fn profiles_with(dir: &Path, keys: &[(String, toml::Value)]) -> Result<Vec<(String, String)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut tables: Vec<(PathBuf, toml::Table)> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        tables.push((f.clone(), text.parse().map_err(|e| format!("{}: {e}", f.display()))?));
    }
    for (key, value) in keys {
        let rest = &key["agents.".len()..];
        let (name, leaf) = rest.split_once('.').ok_or_else(|| format!("{key:?}: expected agents.NAME.KEY"))?;
        let (_, t) = tables
            .iter_mut()
            .find(|(_, t)| t.get("name").and_then(|v| v.as_str()) == Some(name))
            .ok_or_else(|| format!("{key:?}: no analyst profile named {name:?} in {}", dir.display()))?;
        set_key(t, leaf, value.clone())?;
    }
    let registry = Registry::default();
    let mut out = Vec::new();
    for (path, t) in tables {
        let text = toml::to_string(&t).expect("a table serializes");
        let profile = crate::agents::parse_profile(&path, &text, &registry).map_err(|e| e.to_string())?;
        registry.build(&profile).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push((path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), text));
    }
    Ok(out)
}

/// See [`SweepPlan::fingerprint`].
fn fingerprint(grid: &str, configs: &[Config]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(grid);
    let mut inputs: Vec<PathBuf> = Vec::new();
    for c in configs {
        h.update(c.to_toml());
        inputs.push(c.data.path.clone());
        inputs.push(c.graph.agents_dir.clone());
        inputs.extend(c.graph.news.clone());
        inputs.extend(c.data.factor_files.clone());
    }
    inputs.sort();
    inputs.dedup();
    let mut stack = inputs;
    let mut files = Vec::new();
    while let Some(p) = stack.pop() {
        match std::fs::read_dir(&p) {
            Ok(rd) => stack.extend(rd.flatten().map(|e| e.path())),
            Err(_) => files.push(p),
        }
    }
    files.sort();
    for f in files {
        let meta = std::fs::metadata(&f).ok();
        let len = meta.as_ref().map_or(0, |m| m.len());
        let mtime = meta.and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.update(format!("{}\0{len}\0{:?}\0", f.display(), mtime));
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes `dir` an empty sweep folder (missing, empty, or an earlier sweep folder, removed).
fn prepare(dir: &Path) -> Result<(), SweepError> {
    let dir = crate::run::normalise(dir).map_err(|e| file_err(dir, e))?;
    super::claim_folder(&dir, MARK, "sweep").map_err(|m| file_err(&dir, m))?;
    std::fs::create_dir_all(dir.join("shards")).map_err(|e| file_err(&dir, e))
}

/// Plans the sweep of `grid` into `dir`: the folder, every point's config, the manifest.
/// A folder already planned from the same grid text is kept (its finished shards stay
/// done); any other sweep folder is replaced.
pub fn plan(grid: &Path, dir: &Path, holdout: Option<&TimeBound>) -> Result<SweepPlan, SweepError> {
    let Grid { text, plan: mut p, configs, agents } = read_grid(grid, holdout)?;
    if let Some(w) = &p.walk_forward {
        // Every point cuts the same folds unless its data keys differ; the first's count
        // is the manifest's (a point whose data differs reports its own in its folder).
        let cfg = &configs[0];
        let (bars, report) = crate::market::load(&cfg.load_options().map_err(|e| file_err(grid, e))?)
            .map_err(|e| file_err(&cfg.data.path, e))?;
        let tl = super::Timeline::of(&bars, &report);
        p.folds = w.plan(&tl).map_err(|e| file_err(grid, e))?.folds.len();
    }
    // The same grid over the same configs and inputs: keep the folder and its results.
    if let Ok(old) = read_plan(dir)
        && old.fingerprint == p.fingerprint
    {
        return Ok(old);
    }
    prepare(dir)?;
    write_atomic(&dir.join("grid.toml"), text.as_bytes())?;
    for (point, cfg) in configs.iter().enumerate() {
        let pd = point_dir(dir, point);
        std::fs::create_dir_all(&pd).map_err(|e| file_err(&pd, e))?;
        let mut c = cfg.clone();
        c.output.dir = pd.join("run");
        if let Some(files) = &agents[point] {
            let ad = pd.join("agents");
            std::fs::create_dir_all(&ad).map_err(|e| file_err(&ad, e))?;
            for (name, text) in files {
                write_atomic(&ad.join(name), text.as_bytes())?;
            }
            c.graph.agents_dir = ad;
        }
        write_atomic(&pd.join("config.toml"), c.to_toml().as_bytes())?;
    }
    let rows: Vec<(usize, usize)> = (0..p.points.len()).flat_map(|pt| (1..=p.folds).map(move |f| (pt, f))).collect();
    let path = dir.join("manifest.parquet");
    let df = frame(
        &path,
        vec![
            Column::new("shard".into(), rows.iter().map(|r| r.0 as u32).collect::<Vec<u32>>()),
            Column::new("point".into(), rows.iter().map(|r| r.0 as u32).collect::<Vec<u32>>()),
            Column::new("fold".into(), rows.iter().map(|r| r.1 as u32).collect::<Vec<u32>>()),
            Column::new("params".into(), rows.iter().map(|r| p.params(r.0)).collect::<Vec<String>>()),
        ],
    )?;
    write_parquet(&path, df)?;
    // The plan last: a folder with plan.json is a complete plan.
    let json = serde_json::to_string_pretty(&p).expect("plan serializes");
    write_atomic(&dir.join("plan.json"), (json + "\n").as_bytes())?;
    Ok(p)
}

/// The plan of a planned sweep folder.
pub fn read_plan(dir: &Path) -> Result<SweepPlan, SweepError> {
    let path = dir.join("plan.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| file_err(&path, format!("cannot read ({e}); is this a folder `quorum sweep plan` wrote?")))?;
    serde_json::from_str(&text).map_err(|e| file_err(&path, e))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

/// The shard to run: `flag`, else `JOB_COMPLETION_INDEX`, else `SLURM_ARRAY_TASK_ID`.
pub fn shard_index(flag: Option<usize>) -> Result<usize, SweepError> {
    if let Some(k) = flag {
        return Ok(k);
    }
    for var in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] {
        if let Ok(v) = std::env::var(var) {
            return v.trim().parse().map_err(|_| SweepError::Shard(format!("{var}={v:?}: not a shard index")));
        }
    }
    Err(SweepError::Shard(
        "no shard: pass --shard K, or run under a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array \
         (SLURM_ARRAY_TASK_ID)"
            .into(),
    ))
}

/// What `run_shard` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardOutcome {
    /// It ran and wrote its result.
    Ran,
    /// Its result already existed.
    Skipped,
    /// Another process holds the shard's lock (a duplicate running now).
    Busy,
}

/// A unique temporary name beside `path` (host, process, time: duplicates of one shard on
/// two machines, or two containers that are both PID 1, do not share it).
#[allow(clippy::disallowed_methods)] // the wall clock names a temporary file, never a result
fn temp_beside(path: &Path) -> PathBuf {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.tmp-{}-{}-{nanos}", host.trim(), std::process::id()))
}

/// Writes `df` to a unique temporary file, fsyncs it and renames it to `path`.
fn publish_parquet(path: &Path, mut df: DataFrame) -> Result<(), SweepError> {
    let tmp = temp_beside(path);
    let file = std::fs::File::create(&tmp).map_err(|e| file_err(&tmp, e))?;
    ParquetWriter::new(&file).finish(&mut df).map_err(|e| file_err(&tmp, e))?;
    file.sync_all().map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

/// Runs shard `k` of the planned sweep in `dir` (see the module doc).
pub fn run_shard(dir: &Path, k: usize, registry: &Registry) -> Result<ShardOutcome, SweepError> {
    let p = read_plan(dir)?;
    if k >= p.shards() {
        return Err(SweepError::Shard(format!(
            "shard {k}: {} has {} shards (0..={})",
            dir.display(),
            p.shards(),
            p.shards().saturating_sub(1)
        )));
    }
    let done = shard_file(dir, k, ".parquet");
    if done.is_file() {
        return Ok(ShardOutcome::Skipped);
    }
    // One process per shard at a time (flock; on a shared filesystem, only as good as its
    // locks): a duplicate started while the shard runs leaves it alone.
    let lock_path = shard_file(dir, k, ".lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| file_err(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(ShardOutcome::Busy),
        Err(std::fs::TryLockError::Error(e)) => return Err(file_err(&lock_path, e)),
    }
    if done.is_file() {
        return Ok(ShardOutcome::Skipped);
    }
    let pd = point_dir(dir, k);
    let mut cfg = Config::load(Some(&pd.join("config.toml"))).map_err(|e| file_err(&pd, e))?;
    // The run goes inside the sweep folder as given now, wherever the plan was written from
    // (and so do the point's own analyst profiles, when it sets any).
    cfg.output.dir = pd.join("run");
    if pd.join("agents").is_dir() {
        cfg.graph.agents_dir = pd.join("agents");
    }
    let params = p.params(k);
    let fail =
        |e: Box<dyn std::error::Error + Send + Sync>| SweepError::Point { point: k, params: params.clone(), source: e };
    // (name, total return, annualised Sharpe, max drawdown, trades, costs), and the curve.
    let (metrics, ts, equity, a) = match &p.walk_forward {
        Some(w) => {
            let mut o = walk_forward(&cfg, w, registry, &mut |_| {}).map_err(|e| fail(Box::new(e)))?;
            let s = o.stitched.swap_remove(0);
            let m = (s.name, s.total_return, s.sharpe, s.max_drawdown, s.trades as u64, s.total_costs);
            (m, o.ts, s.equity, crate::report::Annualisation::fixed(o.periods_per_year))
        }
        None => {
            let o = backtest_with(&cfg, registry, &mut |_, _, _| {}).map_err(|e: RunError| fail(Box::new(e)))?;
            let s = &o.summary.strategies[0];
            let m = &s.metrics;
            let r = match cfg.warmup_until() {
                Some(t) => since(&o.run, t),
                None => o.run.clone(),
            };
            let out = (s.name.clone(), m.total_return, m.sharpe, m.max_drawdown, m.trades as u64, m.total_costs);
            (out, r.equity.ts.clone(), r.equity.equity.clone(), o.summary.annualisation)
        }
    };
    // The returns the ranked Sharpe is computed on (`report::metrics`): step to step, less
    // the per-period risk-free rate; each stamped with the step it ends at.
    let rf = crate::report::metrics::sharpe::per_period_rf(cfg.metrics.risk_free_rate, &a);
    let returns: Vec<f64> =
        crate::report::metrics::returns::period_returns(&equity).into_iter().map(|r| r - rf).collect();
    let ts: Vec<Ts> = ts.into_iter().skip(1).collect();
    let rp = shard_file(dir, k, ".returns.parquet");
    let df = frame(
        &rp,
        vec![
            Column::new("point".into(), vec![k as u32; ts.len()]),
            time_column("timestamp", &ts),
            Column::new("return".into(), returns),
        ],
    )?;
    publish_parquet(&rp, df)?;
    let (name, total_return, sharpe, max_drawdown, trades, costs) = metrics;
    let df = frame(
        &done,
        vec![
            Column::new("point".into(), vec![k as u32]),
            Column::new("params".into(), vec![params.clone()]),
            Column::new("strategy".into(), vec![name]),
            Column::new("total_return".into(), vec![total_return]),
            Column::new("sharpe".into(), vec![sharpe]),
            Column::new("max_drawdown".into(), vec![max_drawdown]),
            Column::new("trades".into(), vec![trades]),
            Column::new("total_costs".into(), vec![costs]),
            Column::new("fingerprint".into(), vec![p.fingerprint.clone()]),
        ],
    )?;
    publish_parquet(&done, df)?;
    Ok(ShardOutcome::Ran)
}

fn read_parquet(path: &Path) -> Result<DataFrame, SweepError> {
    let f = std::fs::File::open(path).map_err(|e| file_err(path, format!("cannot open: {e}")))?;
    ParquetReader::new(f).finish().map_err(|e| file_err(path, e))
}

/// One row of the leaderboard.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Rank by annualised Sharpe (1 = best; ties in grid order).
    pub rank: usize,
    /// The point (grid order).
    pub point: usize,
    /// Its overrides.
    pub params: String,
    /// The strategy measured.
    pub strategy: String,
    /// Total return (a walk-forward: out of sample, stitched).
    pub total_return: f64,
    /// Annualised Sharpe.
    pub sharpe: f64,
    /// Per-period Sharpe of its returns.
    pub sharpe_per_period: f64,
    /// Skewness of its returns.
    pub skew: f64,
    /// Kurtosis of its returns.
    pub kurtosis: f64,
    /// Returns.
    pub returns: usize,
    /// Deflated Sharpe Ratio given every point tried.
    pub dsr: f64,
    /// Maximum drawdown.
    pub max_drawdown: f64,
    /// Trades.
    pub trades: u64,
    /// Costs.
    pub total_costs: f64,
}

/// A merged sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Leaderboard {
    /// Best first.
    pub entries: Vec<Entry>,
    /// Points tried (the DSR's N).
    pub trials: usize,
    /// Variance of the points' per-period Sharpe ratios (the DSR's V).
    pub sharpe_variance: f64,
    /// PBO by CSCV, or why it could not be computed.
    pub pbo: Option<Pbo>,
    /// Why PBO is missing.
    pub pbo_note: Option<String>,
}

/// Merges the shards of the sweep in `dir` into `leaderboard.parquet` and `.json`.
pub fn merge(dir: &Path) -> Result<Leaderboard, SweepError> {
    let p = read_plan(dir)?;
    let missing: Vec<String> =
        (0..p.shards()).filter(|&k| !shard_file(dir, k, ".parquet").is_file()).map(|k| k.to_string()).collect();
    if !missing.is_empty() {
        return Err(SweepError::Missing { dir: dir.to_path_buf(), missing: missing.join(", ") });
    }
    let mut rows = Vec::new();
    let mut returns: Vec<Vec<f64>> = Vec::new();
    let mut timeline: Option<Vec<i64>> = None;
    let mut same_timeline = true;
    for k in 0..p.shards() {
        let path = shard_file(dir, k, ".parquet");
        let df = read_parquet(&path)?;
        let s = |c: &str| df.column(c).and_then(|c| c.str().map(|a| a.get(0).unwrap_or("").to_string()));
        let f = |c: &str| df.column(c).and_then(|c| c.f64().map(|a| a.get(0).unwrap_or(f64::NAN)));
        let u = |c: &str| df.column(c).and_then(|c| c.u64().map(|a| a.get(0).unwrap_or(0)));
        let row = (|| -> PolarsResult<_> {
            Ok((
                s("params")?,
                s("strategy")?,
                f("total_return")?,
                f("sharpe")?,
                f("max_drawdown")?,
                u("trades")?,
                f("total_costs")?,
            ))
        })()
        .map_err(|e| file_err(&path, e))?;
        // A result written under another plan (the folder was planned again since), or for
        // another point, is not this sweep's.
        let (own_point, own_print) =
            (|| -> PolarsResult<_> { Ok((df.column("point")?.u32()?.get(0), s("fingerprint")?)) })()
                .map_err(|e| file_err(&path, e))?;
        if own_point != Some(k as u32) || own_print != p.fingerprint {
            return Err(file_err(
                &path,
                format!("written for another plan or point; delete shards/shard-{k:04}.* and run shard {k} again"),
            ));
        }
        rows.push(row);
        let rp = shard_file(dir, k, ".returns.parquet");
        let rdf = read_parquet(&rp)?;
        let r: Vec<f64> = rdf
            .column("return")
            .and_then(|c| c.f64().map(|a| a.into_no_null_iter().collect()))
            .map_err(|e| file_err(&rp, e))?;
        let ts: Vec<i64> = rdf
            .column("timestamp")
            .and_then(|c| c.cast(&DataType::Int64))
            .and_then(|c| c.i64().map(|a| a.into_no_null_iter().collect()))
            .map_err(|e| file_err(&rp, e))?;
        match &timeline {
            None => timeline = Some(ts),
            Some(t) => same_timeline &= *t == ts,
        }
        returns.push(r);
    }
    let moments: Vec<Moments> = returns.iter().map(|r| Moments::of(r)).collect();
    let srs: Vec<f64> = moments.iter().map(Moments::sharpe).collect();
    let trials = srs.len();
    let mean = srs.iter().sum::<f64>() / trials as f64;
    let sharpe_variance =
        if trials > 1 { srs.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (trials - 1) as f64 } else { 0.0 };
    let mut entries: Vec<Entry> = rows
        .into_iter()
        .enumerate()
        .map(|(point, (params, strategy, total_return, sharpe, max_drawdown, trades, total_costs))| Entry {
            rank: 0,
            point,
            params,
            strategy,
            total_return,
            sharpe,
            sharpe_per_period: srs[point],
            skew: moments[point].skew,
            kurtosis: moments[point].kurtosis,
            returns: moments[point].n,
            // Sharpe ratios of returns per 1m and per 5m bar do not compare: no DSR across
            // timelines.
            dsr: if same_timeline { deflated_sharpe(&moments[point], trials, sharpe_variance) } else { f64::NAN },
            max_drawdown,
            trades,
            total_costs,
        })
        .collect();
    // NaN Sharpe (a flat run) sorts last.
    let key = |e: &Entry| if e.sharpe.is_nan() { f64::NEG_INFINITY } else { e.sharpe };
    entries.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.point.cmp(&b.point)));
    for (i, e) in entries.iter_mut().enumerate() {
        e.rank = i + 1;
    }
    let (pbo, pbo_note) = if !same_timeline {
        (None, Some("the points' returns are on different timelines (their data differ): no PBO".to_string()))
    } else {
        match pbo(&returns, p.blocks) {
            Ok(x) => (Some(x), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let board = Leaderboard { entries, trials, sharpe_variance, pbo, pbo_note };
    let path = dir.join("leaderboard.parquet");
    let e = &board.entries;
    let df = frame(
        &path,
        vec![
            Column::new("rank".into(), e.iter().map(|x| x.rank as u32).collect::<Vec<u32>>()),
            Column::new("point".into(), e.iter().map(|x| x.point as u32).collect::<Vec<u32>>()),
            Column::new("params".into(), e.iter().map(|x| x.params.as_str()).collect::<Vec<&str>>()),
            Column::new("strategy".into(), e.iter().map(|x| x.strategy.as_str()).collect::<Vec<&str>>()),
            Column::new("total_return".into(), e.iter().map(|x| x.total_return).collect::<Vec<f64>>()),
            Column::new("sharpe".into(), e.iter().map(|x| x.sharpe).collect::<Vec<f64>>()),
            Column::new("sharpe_per_period".into(), e.iter().map(|x| x.sharpe_per_period).collect::<Vec<f64>>()),
            Column::new("skew".into(), e.iter().map(|x| x.skew).collect::<Vec<f64>>()),
            Column::new("kurtosis".into(), e.iter().map(|x| x.kurtosis).collect::<Vec<f64>>()),
            Column::new("returns".into(), e.iter().map(|x| x.returns as u64).collect::<Vec<u64>>()),
            Column::new("dsr".into(), e.iter().map(|x| x.dsr).collect::<Vec<f64>>()),
            Column::new("max_drawdown".into(), e.iter().map(|x| x.max_drawdown).collect::<Vec<f64>>()),
            Column::new("trades".into(), e.iter().map(|x| x.trades).collect::<Vec<u64>>()),
            Column::new("total_costs".into(), e.iter().map(|x| x.total_costs).collect::<Vec<f64>>()),
        ],
    )?;
    write_parquet(&path, df)?;
    let json = serde_json::to_string_pretty(&board).expect("leaderboard serializes");
    write_atomic(&dir.join("leaderboard.json"), (json + "\n").as_bytes())?;
    Ok(board)
}

/// How the best point fared on the held-out period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holdout {
    /// How the point was chosen.
    pub rule: String,
    /// The point.
    pub point: usize,
    /// Its overrides.
    pub params: String,
    /// The holdout's start.
    pub holdout_from: String,
    /// How many times the holdout has now been looked at (1: a clean out-of-sample test).
    pub evaluations: u32,
    /// The strategy measured.
    pub strategy: String,
    /// (total return, annualised Sharpe, max drawdown, trades) in the sweep.
    pub sweep: (f64, f64, f64, u64),
    /// The same on the holdout.
    pub holdout: (f64, f64, f64, u64),
}

/// The rule that picks the point to evaluate on the holdout.
pub const HOLDOUT_RULE: &str = "rank 1 of the leaderboard: the best annualised Sharpe, ties in grid order";

/// Runs the leaderboard's best point ([`HOLDOUT_RULE`]) once on the held-out period: its
/// config over all the data up to its own end, memory warmed and nothing traded or measured
/// before `holdout_from` (`graph.warmup_until`; a walk-forward point's memory is then
/// trained on everything before the holdout, continuously). Writes the run to
/// `DIR/holdout/run` and the comparison to `DIR/holdout.json`, counting evaluations: a second
/// look at a holdout is no longer a clean test, and the file says so.
pub fn evaluate_holdout(dir: &Path, board: &Leaderboard, registry: &Registry) -> Result<Holdout, SweepError> {
    let p = read_plan(dir)?;
    let Some(from) = &p.holdout_from else {
        return Err(SweepError::Shard(format!(
            "{}: planned without --holdout-from: there is no held-out period to evaluate",
            dir.display()
        )));
    };
    let best = board.entries.first().ok_or_else(|| SweepError::Shard("an empty leaderboard".into()))?;
    let pd = point_dir(dir, best.point);
    let mut cfg = Config::load(Some(&pd.join("config.toml"))).map_err(|e| file_err(&pd, e))?;
    let bound = |s: &str| TimeBound::parse(s).map_err(|e| file_err(&dir.join("plan.json"), e));
    cfg.data.to = p.holdout_to.get(best.point).cloned().flatten().map(|s| bound(&s)).transpose()?;
    cfg.graph.warmup_until = Some(bound(from)?);
    cfg.output.dir = dir.join("holdout").join("run");
    let params = p.params(best.point);
    let o = backtest_with(&cfg, registry, &mut |_, _, _| {}).map_err(|e| SweepError::Point {
        point: best.point,
        params: params.clone(),
        source: Box::new(e),
    })?;
    let m = &o.summary.strategies[0].metrics;
    let path = dir.join("holdout.json");
    let before: u32 = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Holdout>(&t).ok())
        .map_or(0, |h| h.evaluations);
    let h = Holdout {
        rule: HOLDOUT_RULE.into(),
        point: best.point,
        params,
        holdout_from: from.clone(),
        evaluations: before + 1,
        strategy: o.summary.strategies[0].name.clone(),
        sweep: (best.total_return, best.sharpe, best.max_drawdown, best.trades),
        holdout: (m.total_return, m.sharpe, m.max_drawdown, m.trades as u64),
    };
    let json = serde_json::to_string_pretty(&h).expect("holdout serializes");
    write_atomic(&path, (json + "\n").as_bytes())?;
    Ok(h)
}

/// The holdout next to the sweep, for the terminal.
pub fn render_holdout(h: &Holdout) -> String {
    use std::fmt::Write as _;
    let pct = |v: f64| if v.is_finite() { format!("{:.2}%", v * 100.0) } else { "–".into() };
    let num = |v: f64| if v.is_finite() { format!("{v:.2}") } else { "–".into() };
    let mut s = String::new();
    let _ = writeln!(s, "holdout from {}: point {} ({}), {}", h.holdout_from, h.point, h.params, h.rule);
    let _ = writeln!(s, "{:<14}{:>12}{:>12}", "", "sweep", "holdout");
    let _ = writeln!(s, "{:<14}{:>12}{:>12}", "Total return", pct(h.sweep.0), pct(h.holdout.0));
    let _ = writeln!(s, "{:<14}{:>12}{:>12}", "Sharpe", num(h.sweep.1), num(h.holdout.1));
    let _ = writeln!(s, "{:<14}{:>12}{:>12}", "Max drawdown", pct(h.sweep.2), pct(h.holdout.2));
    let _ = writeln!(s, "{:<14}{:>12}{:>12}", "Trades", h.sweep.3, h.holdout.3);
    if h.evaluations > 1 {
        let _ = writeln!(
            s,
            "warning: this holdout has now been evaluated {} times; after the first look it is no longer held out",
            h.evaluations
        );
    }
    s
}

/// The terminal leaderboard (the best `top`).
pub fn render(board: &Leaderboard, top: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let pct = |v: f64| if v.is_finite() { format!("{:.2}%", v * 100.0) } else { "–".into() };
    let num = |v: f64| if v.is_finite() { format!("{v:.2}") } else { "–".into() };
    let _ = writeln!(
        s,
        "{:>4}  {:>10} {:>7} {:>6} {:>8} {:>7}  params",
        "rank", "return", "Sharpe", "DSR", "max DD", "trades"
    );
    for e in board.entries.iter().take(top) {
        let _ = writeln!(
            s,
            "{:>4}  {:>10} {:>7} {:>6} {:>8} {:>7}  {}",
            e.rank,
            pct(e.total_return),
            num(e.sharpe),
            num(e.dsr),
            pct(e.max_drawdown),
            e.trades,
            if e.params.is_empty() { "(base config)" } else { &e.params }
        );
    }
    if board.entries.len() > top {
        let _ = writeln!(s, "… {} more in leaderboard.parquet", board.entries.len() - top);
    }
    let _ = match (&board.pbo, &board.pbo_note) {
        (Some(p), _) => writeln!(
            s,
            "{} points tried; PBO {:.2} ({} CSCV splits of {} blocks): the share of splits whose in-sample best was at \
             or below the median out of sample",
            board.trials,
            p.pbo,
            p.logits.len(),
            p.blocks
        ),
        (None, Some(n)) => writeln!(s, "{} points tried; PBO not computed: {n}", board.trials),
        (None, None) => Ok(()),
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(text: &str) -> Result<(String, SweepPlan, Vec<Config>), SweepError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grid.toml");
        std::fs::write(&p, text).unwrap();
        read_grid(&p, None).map(|g| (g.text, g.plan, g.configs))
    }

    /// `agents.NAME.KEY` sets one analyst's profile parameter per point: its files carry the
    /// value, the other profiles are unchanged; an unknown profile or a bad value is named.
    #[test]
    fn test_grid_over_profile_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grid.toml");
        std::fs::write(&p, "[grid]\n\"agents.hedge.horizon\" = [5, 20]\n\"agents.wyckoff.params.lookback\" = [40]\n")
            .unwrap();
        let g = read_grid(&p, None).unwrap();
        assert_eq!(g.plan.params(1), "agents.hedge.horizon=20 agents.wyckoff.params.lookback=40");
        let files = g.agents[1].as_ref().unwrap();
        let hedge: toml::Table = files.iter().find(|(n, _)| n == "hedge.toml").unwrap().1.parse().unwrap();
        assert_eq!(hedge["horizon"].as_integer(), Some(20));
        let wyckoff: toml::Table = files.iter().find(|(n, _)| n == "wyckoff.toml").unwrap().1.parse().unwrap();
        assert_eq!(wyckoff["params"]["lookback"].as_integer(), Some(40));
        let markov = files.iter().find(|(n, _)| n == "markov.toml").unwrap().1.clone();
        let shipped: toml::Table = std::fs::read_to_string("agents/markov.toml").unwrap().parse().unwrap();
        assert_eq!(markov.parse::<toml::Table>().unwrap(), shipped, "other profiles unchanged");
        std::fs::write(&p, "[grid]\n\"agents.nobody.horizon\" = [5]\n").unwrap();
        let e = read_grid(&p, None).err().unwrap().to_string();
        assert!(e.contains("no analyst profile named \"nobody\""), "{e}");
        std::fs::write(&p, "[grid]\n\"agents.hedge.horizon\" = [\"soon\"]\n").unwrap();
        let e = read_grid(&p, None).err().unwrap().to_string();
        assert!(e.contains("hedge.toml") && e.contains("horizon"), "{e}");
    }

    /// Keys vary in sorted order, the last fastest; values land in the config; a grid
    /// without `[overfit]` gets 8 blocks.
    #[test]
    fn test_grid_order_values_and_defaults() {
        let (_, p, cfgs) =
            grid("[grid]\n\"composer.gain\" = [5.0, 10.0]\n\"composer.band\" = [0.1, 0.2, 0.3]\n").unwrap();
        assert_eq!(p.blocks, 8);
        assert_eq!(p.points.len(), 6);
        assert_eq!(p.params(0), "composer.band=0.1 composer.gain=5.0");
        assert_eq!(p.params(1), "composer.band=0.1 composer.gain=10.0");
        assert_eq!(p.params(5), "composer.band=0.3 composer.gain=10.0");
        assert_eq!((cfgs[5].composer.band, cfgs[5].composer.gain), (0.3, 10.0));
    }

    /// A seeded sample: the same seed, the same points, in grid order, distinct.
    #[test]
    fn test_random_sample_seeded_distinct_ordered() {
        let text = "[grid]\n\"composer.band\" = [0.1, 0.2, 0.3, 0.4]\n\"composer.gain\" = [1.0, 2.0, 3.0]\n\
                    [random]\nsamples = 5\nseed = 7\n";
        let (_, a, _) = grid(text).unwrap();
        let (_, b, _) = grid(text).unwrap();
        assert_eq!(a.points, b.points);
        assert_eq!(a.points.len(), 5);
        let mut seen = a.points.clone();
        seen.dedup();
        assert_eq!(seen.len(), 5, "distinct");
        let (_, c, _) = grid(&text.replace("seed = 7", "seed = 8")).unwrap();
        assert_ne!(a.points, c.points, "another seed, another sample");
    }

    /// Unknown keys, wrong types, bad ranges and bad spans are errors naming them.
    #[test]
    fn test_grid_errors_name_the_key() {
        let err = |t: &str| grid(t).unwrap_err().to_string();
        assert!(err("[grid]\n\"composer.nope\" = [1]\n").contains("composer.nope"));
        assert!(err("[grid]\n\"composer.band\" = 0.1\n").contains("expected an array"));
        assert!(err("[grid]\n\"composer.band\" = []\n").contains("no values"));
        assert!(err("[grid]\n\"composer.band\" = [\"wide\"]\n").contains("composer.band"));
        assert!(err("[set]\n\"portfolio.initial_cash\" = -5.0\n").contains("portfolio.initial_cash"));
        assert!(err("[walk_forward]\ntrain = \"3w\"\ntest = \"1d\"\n").contains("[walk_forward] train"));
        assert!(err("[grid]\n\"composer.band\" = [0.1]\n[random]\nsamples = 0\nseed = 1\n").contains("samples"));
        assert!(err("[grid]\ncomposer.band = [0.1]\n").contains("quote dotted keys"));
        assert!(err("[overfit]\nblocks = 5\n").contains("an even number"));
        let wf = "[walk_forward]\ntrain = \"2d\"\ntest = \"1d\"\n";
        assert!(err(&format!("[set]\n\"strategy.name\" = \"sma-cross\"\n{wf}")).contains("must be \"graph\""));
        assert!(err(&format!("[set]\n\"graph.warmup_until\" = \"2013-10-08\"\n{wf}")).contains("warm-up"));
    }

    /// `[set]` with an unquoted dotted key (a TOML table) sets that leaf only: the section's
    /// other keys keep the base config's values.
    #[test]
    fn test_set_unquoted_dotted_key_sets_one_leaf() {
        let (_, _, cfgs) = grid("[set]\ncomposer.cap = 0.5\n[set.costs]\nslippage_bps = 3.0\n").unwrap();
        let base = Config::default();
        assert_eq!(cfgs[0].composer.cap, 0.5);
        assert_eq!(cfgs[0].composer.band, base.composer.band);
        assert_eq!(cfgs[0].costs.slippage_bps, 3.0);
        assert_eq!(cfgs[0].costs.impact_bps, base.costs.impact_bps);
    }
}
