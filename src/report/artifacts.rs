//! Run artifacts: the run folder a backtest leaves behind.
//!
//! - `summary.json`: data report, annualisation, warm-up, analysts, and the metrics of the
//!   strategy, its baselines and buy-and-hold;
//! - `equity.parquet`: per step, equity/cash/gross/net of the strategy, buy-and-hold equity
//!   and each baseline's equity;
//! - `trades.parquet`: round trips; `fills.parquet`: executions;
//! - `votes.parquet`, `weights.parquet`: every vote and the composer's weights per step
//!   (graph runs);
//! - `attribution.json`, `attribution.parquet`: who earned what, Shapley values, hit rates,
//!   calibration and memory evidence per analyst; `breakdown.parquet`: per analyst and the
//!   book, by symbol, regime, time of day and day (graph runs);
//! - `prices.parquet`: the close of every bar the run used (after the session filter,
//!   resampling and split adjustment), for the report's price charts;
//! - `config.toml`: the resolved configuration (defaults + file + flags);
//! - `memory/`: the memory checkpoint, written by the runner with `MemoryStore::save`
//!   (graph runs).
//!
//! Same inputs give byte-identical files: no wall-clock time or host name is written, maps
//! are ordered, floats are printed by `serde_json`'s shortest round-trip formatting.
//! Timestamps are `Datetime(ns, UTC)` bar starts.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::metrics::{Annualisation, Metrics};
use crate::market::{Bars, LoadReport, Ts};
use crate::run::{RunResult, VoteLog, WeightLog};

/// Errors writing artifacts.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be written.
    #[error("{path}: cannot write")]
    Io {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// polars could not build or write a frame.
    #[error("{path}: cannot write Parquet: {message}")]
    Parquet {
        /// The Parquet file being written.
        path: PathBuf,
        /// The polars error.
        message: String,
    },
    /// The HTML report could not be built or written.
    #[error(transparent)]
    Page(#[from] super::html::PageError),
}

/// Result of the reporting area.
pub(super) type Result<T> = std::result::Result<T, ReportError>;

/// One strategy's line in the summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StrategyReport {
    /// Strategy name: the one under test, a baseline, or `buy-and-hold`.
    pub name: String,
    /// Its performance over the reported steps (after any warm-up).
    pub metrics: Metrics,
}

/// The content of `summary.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    /// Version of quorum that wrote the file (`CARGO_PKG_VERSION`).
    pub quorum_version: String,
    /// What was loaded: files, symbols, bars, skipped rows, time range.
    pub data: LoadReport,
    /// How per-bar figures were annualised (days per year, bars per session).
    pub annualisation: Annualisation,
    /// Annual risk-free rate used for Sharpe and Sortino (`metrics.risk_free_rate`).
    pub risk_free_rate: f64,
    /// Metrics cover only steps at or after this time (memory warmed before).
    pub warmup_until: Option<String>,
    /// The analysts of a graph run, in roster order.
    pub analysts: Vec<String>,
    /// The strategy under test first, then the baselines, buy-and-hold last.
    pub strategies: Vec<StrategyReport>,
    /// Graph runs: per analyst, whether its posterior win rate at each vote predicted the
    /// vote's result (see `engine::graph` learning).
    pub learning: Vec<crate::engine::graph::AnalystCalibration>,
    /// Graph runs: the strategy under test's P&L split among the analysts
    /// (`report::attribution`); also written alone to `attribution.json`.
    pub attribution: Option<super::attribution::PnlAttribution>,
    /// Graph runs: exact Shapley and leave-one-out values of each analyst (replay mode,
    /// `report::shapley`).
    pub shapley: Option<super::shapley::ShapleyReport>,
    /// Graph runs with `--shapley full`: the same values with each coalition re-running the
    /// whole graph with its own memory.
    pub shapley_full: Option<super::shapley::ShapleyReport>,
}

/// What a graph run adds to the run folder.
pub struct GraphArtifacts<'a> {
    /// Every analyst vote of the run.
    pub votes: &'a VoteLog,
    /// Memory-based analyst weights at each step (logged whatever the composer mode).
    pub weights: &'a WeightLog,
    /// Analyst names in roster order (the index a vote's `agent` refers to).
    pub agents: &'a [String],
    /// Per analyst and the book: by symbol, regime, time of day and day.
    pub breakdown: &'a [super::breakdown::BreakdownRow],
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

fn io_err(path: &Path, source: std::io::Error) -> ReportError {
    ReportError::Io { path: path.to_path_buf(), source }
}

/// A `Datetime(ns, UTC)` column.
pub(crate) fn time_column(name: &str, ts: &[Ts]) -> Column {
    Series::new(name.into(), ts).into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)).into_column()
}

/// Writes `df` as Parquet to `path` (via a temporary file and a rename).
pub(crate) fn write_parquet(path: &Path, mut df: DataFrame) -> Result<()> {
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    ParquetWriter::new(file).finish(&mut df).map_err(|e| parquet_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Rows per Parquet row group of [`write_parquet_rows`]: half polars' default (512²). A
/// group's frame (strings included) and its encoding buffers are what the votes add to the
/// run's peak; halving the group cut the hourly run's peak RSS by ~30 MiB (issue 16: from
/// 472–500 to 442–468 MiB over eight runs), at the same speed. Files of up to 131,072 rows
/// (the shipped sample's and spy_1m_2011's votes) are unchanged; the hourly set's 1M votes
/// are the same rows in 8 groups instead of 4.
const ROW_GROUP: usize = 256 * 512;

/// Writes `n` rows as Parquet to `path`, building the frame one row group of [`ROW_GROUP`]
/// rows at a time with `rows(range)`, so the whole frame is never in memory: the hourly
/// 5-symbol run's 1M votes as one frame (strings included) set the run's peak RSS (544 MiB;
/// 443 MiB this way, issue 16). Up to [`ROW_GROUP`] rows the file is the one
/// [`write_parquet`] writes; past it the rows are the same, in row groups of [`ROW_GROUP`].
///
/// Tried and dropped (issue 16): building the next group on a second thread while this
/// one writes the last. Building and writing take ~140 and ~160 ms of the hourly run's 1M
/// votes each, but the second frame alive and the other thread's allocator heap raised
/// the run's peak RSS by ~50 MiB, past its 512 MiB target.
pub(super) fn write_parquet_rows(
    path: &Path,
    n: usize,
    rows: impl Fn(std::ops::Range<usize>) -> Result<DataFrame>,
) -> Result<()> {
    if n <= ROW_GROUP {
        return write_parquet(path, rows(0..n)?);
    }
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    let first = rows(0..ROW_GROUP)?;
    let mut w = ParquetWriter::new(file).batched(first.schema()).map_err(|e| parquet_err(path, e))?;
    w.write_batch(&first).map_err(|e| parquet_err(path, e))?;
    drop(first);
    for start in (ROW_GROUP..n).step_by(ROW_GROUP) {
        let df = rows(start..(start + ROW_GROUP).min(n))?;
        w.write_batch(&df).map_err(|e| parquet_err(path, e))?;
    }
    w.finish().map_err(|e| parquet_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Builds a frame from equal-length columns.
pub(crate) fn frame(path: &Path, columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new_infer_height(columns).map_err(|e| parquet_err(path, e))
}

/// Writes text to `path` via a temporary file and a rename.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

fn equity_frame(path: &Path, run: &RunResult, baselines: &[RunResult], benchmark: &RunResult) -> Result<DataFrame> {
    let e = &run.equity;
    debug_assert_eq!(e.ts, benchmark.equity.ts);
    let mut cols = vec![
        time_column("timestamp", &e.ts),
        Column::new("equity".into(), &e.equity),
        Column::new("cash".into(), &e.cash),
        Column::new("gross_exposure".into(), &e.gross),
        Column::new("net_exposure".into(), &e.net),
        Column::new("benchmark_equity".into(), &benchmark.equity.equity),
    ];
    for b in baselines {
        cols.push(Column::new(format!("equity_{}", b.strategy).into(), &b.equity.equity));
    }
    frame(path, cols)
}

fn votes_frame(
    path: &Path,
    g: &GraphArtifacts<'_>,
    symbols: &[String],
    range: std::ops::Range<usize>,
) -> Result<DataFrame> {
    let v = &g.votes.votes[range];
    let ts: Vec<Ts> = v.iter().map(|x| x.ts).collect();
    frame(
        path,
        vec![
            time_column("timestamp", &ts),
            Column::new("symbol".into(), v.iter().map(|x| symbols[x.symbol as usize].as_str()).collect::<Vec<_>>()),
            Column::new("agent".into(), v.iter().map(|x| g.agents[x.agent].as_str()).collect::<Vec<_>>()),
            Column::new("direction".into(), v.iter().map(|x| x.direction).collect::<Vec<_>>()),
            Column::new("confidence".into(), v.iter().map(|x| x.confidence).collect::<Vec<_>>()),
            Column::new("evidence".into(), v.iter().map(|x| x.memory.evidence).collect::<Vec<_>>()),
            Column::new("evidence_n".into(), v.iter().map(|x| x.memory.outcomes).collect::<Vec<_>>()),
            memory_ids_column(v),
            Column::new("rationale".into(), v.iter().map(|x| x.rationale.as_str()).collect::<Vec<_>>()),
        ],
    )
}

/// Each vote's recalled memory ids, comma-separated, built in one reused buffer (a
/// `String` per id and per row was a fifth of building the frame).
fn memory_ids_column(v: &[crate::agents::Vote]) -> Column {
    use std::fmt::Write as _;
    let mut col = StringChunkedBuilder::new("memory_ids".into(), v.len());
    let mut buf = String::new();
    for x in v {
        buf.clear();
        for (k, id) in x.memory_ids.iter().enumerate() {
            if k > 0 {
                buf.push(',');
            }
            write!(buf, "{id}").expect("writing to a String");
        }
        col.append_value(&buf);
    }
    col.finish().into_column()
}

fn weights_frame(path: &Path, g: &GraphArtifacts<'_>) -> Result<DataFrame> {
    let w = &g.weights.weights;
    let n = g.weights.agents.max(1);
    let ts: Vec<Ts> = (0..w.len()).map(|i| g.weights.ts[i / n]).collect();
    frame(
        path,
        vec![
            time_column("timestamp", &ts),
            Column::new("agent".into(), w.iter().map(|x| g.agents[x.agent].as_str()).collect::<Vec<_>>()),
            Column::new("weight".into(), w.iter().map(|x| x.weight).collect::<Vec<_>>()),
            Column::new("win_rate".into(), w.iter().map(|x| x.win_rate).collect::<Vec<_>>()),
            Column::new("wins".into(), w.iter().map(|x| x.wins).collect::<Vec<_>>()),
            Column::new("losses".into(), w.iter().map(|x| x.losses).collect::<Vec<_>>()),
            Column::new("edge".into(), w.iter().map(|x| x.edge).collect::<Vec<_>>()),
            Column::new("mean_outcome".into(), w.iter().map(|x| x.mean_outcome).collect::<Vec<_>>()),
        ],
    )
}

/// One row per analyst: its P&L share and the calibration of its votes.
fn attribution_frame(
    path: &Path,
    att: &super::attribution::PnlAttribution,
    learning: &[crate::engine::graph::AnalystCalibration],
) -> Result<DataFrame> {
    let cal = |name: &str| learning.iter().find(|l| l.agent == name);
    let at_horizon = |h: usize| -> Column {
        let rates: Vec<Option<f64>> = att
            .agents
            .iter()
            .map(|a| a.hit_rate_by_horizon.iter().find(|x| x.horizon == h).and_then(|x| x.hit_rate))
            .collect();
        Column::new(format!("hit_rate_h{h}").into(), rates)
    };
    let opt = |f: fn(&crate::engine::graph::AnalystCalibration) -> Option<f64>| -> Vec<Option<f64>> {
        att.agents.iter().map(|a| cal(&a.agent).and_then(f)).collect()
    };
    frame(
        path,
        vec![
            Column::new("agent".into(), att.agents.iter().map(|a| a.agent.as_str()).collect::<Vec<_>>()),
            Column::new("pnl".into(), att.agents.iter().map(|a| a.pnl).collect::<Vec<_>>()),
            Column::new("costs".into(), att.agents.iter().map(|a| a.costs).collect::<Vec<_>>()),
            Column::new("votes".into(), att.agents.iter().map(|a| a.votes as u64).collect::<Vec<_>>()),
            Column::new("mean_confidence".into(), att.agents.iter().map(|a| a.mean_confidence).collect::<Vec<_>>()),
            Column::new("mean_weight".into(), att.agents.iter().map(|a| a.mean_weight).collect::<Vec<_>>()),
            Column::new(
                "horizon".into(),
                att.agents.iter().map(|a| cal(&a.agent).map(|c| c.horizon as u64)).collect::<Vec<_>>(),
            ),
            Column::new(
                "judged".into(),
                att.agents.iter().map(|a| cal(&a.agent).map(|c| c.resolved as u64)).collect::<Vec<_>>(),
            ),
            Column::new("hit_rate".into(), opt(|c| c.hit_rate)),
            Column::new("brier".into(), opt(|c| c.brier)),
            Column::new("win_rate_outcome_corr".into(), opt(|c| c.win_rate_outcome_corr)),
            Column::new("hit_rate_evidence_agree".into(), opt(|c| c.evidence.first().and_then(|s| s.hit_rate))),
            Column::new("hit_rate_evidence_disagree".into(), opt(|c| c.evidence.get(1).and_then(|s| s.hit_rate))),
            Column::new("hit_rate_evidence_none".into(), opt(|c| c.evidence.get(2).and_then(|s| s.hit_rate))),
        ]
        .into_iter()
        .chain(super::attribution::HORIZONS.map(at_horizon))
        .collect(),
    )
}

fn breakdown_frame(path: &Path, rows: &[super::breakdown::BreakdownRow]) -> Result<DataFrame> {
    frame(
        path,
        vec![
            Column::new("who".into(), rows.iter().map(|r| r.who.as_str()).collect::<Vec<_>>()),
            Column::new("dimension".into(), rows.iter().map(|r| r.dimension).collect::<Vec<_>>()),
            Column::new("bucket".into(), rows.iter().map(|r| r.bucket.as_str()).collect::<Vec<_>>()),
            Column::new("votes".into(), rows.iter().map(|r| r.votes).collect::<Vec<_>>()),
            Column::new("judged".into(), rows.iter().map(|r| r.judged).collect::<Vec<_>>()),
            Column::new("hits".into(), rows.iter().map(|r| r.hits).collect::<Vec<_>>()),
            Column::new("hit_rate".into(), rows.iter().map(|r| r.hit_rate).collect::<Vec<_>>()),
            Column::new("pnl".into(), rows.iter().map(|r| r.pnl).collect::<Vec<_>>()),
            Column::new("costs".into(), rows.iter().map(|r| r.costs).collect::<Vec<_>>()),
        ],
    )
}

fn trades_frame(path: &Path, run: &RunResult, symbols: &[String]) -> Result<DataFrame> {
    let t = &run.trades;
    let name: Vec<&str> = t.iter().map(|x| symbols[x.symbol as usize].as_str()).collect();
    let entry: Vec<Ts> = t.iter().map(|x| x.entry_ts).collect();
    let exit: Vec<Ts> = t.iter().map(|x| x.exit_ts).collect();
    let f = |g: fn(&crate::portfolio::Trade) -> f64| -> Vec<f64> { t.iter().map(g).collect() };
    frame(
        path,
        vec![
            Column::new("symbol".into(), name),
            Column::new("direction".into(), t.iter().map(|x| x.direction as i32).collect::<Vec<_>>()),
            time_column("entry_time", &entry),
            time_column("exit_time", &exit),
            Column::new("peak_quantity".into(), f(|x| x.peak_qty)),
            Column::new("entry_price".into(), f(|x| x.entry_price)),
            Column::new("exit_price".into(), f(|x| x.exit_price)),
            Column::new("pnl".into(), f(|x| x.pnl)),
            Column::new("return".into(), f(|x| x.ret)),
            Column::new("commission".into(), f(|x| x.commission)),
            Column::new("fills".into(), t.iter().map(|x| x.fills).collect::<Vec<u32>>()),
            Column::new("open".into(), t.iter().map(|x| x.open).collect::<Vec<bool>>()),
        ],
    )
}

fn fills_frame(path: &Path, run: &RunResult, symbols: &[String]) -> Result<DataFrame> {
    let fl = &run.fills;
    let ts: Vec<Ts> = fl.iter().map(|f| f.ts).collect();
    let decided: Vec<Ts> = fl.iter().map(|f| f.decided_at).collect();
    frame(
        path,
        vec![
            time_column("timestamp", &ts),
            time_column("decided_at", &decided),
            Column::new("symbol".into(), fl.iter().map(|f| symbols[f.symbol as usize].as_str()).collect::<Vec<_>>()),
            Column::new("side".into(), fl.iter().map(|f| if f.qty > 0.0 { "buy" } else { "sell" }).collect::<Vec<_>>()),
            Column::new("quantity".into(), fl.iter().map(|f| f.qty.abs()).collect::<Vec<_>>()),
            Column::new("price".into(), fl.iter().map(|f| f.price).collect::<Vec<_>>()),
            Column::new("commission".into(), fl.iter().map(|f| f.commission).collect::<Vec<_>>()),
            Column::new("slippage".into(), fl.iter().map(|f| f.slippage).collect::<Vec<_>>()),
        ],
    )
}

/// The bars the run used: `timestamp, symbol, close`, one row per bar.
fn prices_frame(path: &Path, bars: &Bars) -> Result<DataFrame> {
    frame(
        path,
        vec![
            time_column("timestamp", &bars.ts),
            Column::new(
                "symbol".into(),
                bars.sym.iter().map(|&s| bars.symbols[s as usize].as_str()).collect::<Vec<_>>(),
            ),
            Column::new("close".into(), &bars.close),
        ],
    )
}

/// Everything a run folder holds, as the runner has it at the end of a run.
pub struct RunArtifacts<'a> {
    /// `summary.json`.
    pub summary: &'a RunSummary,
    /// The strategy under test (equity, trades, fills).
    pub run: &'a RunResult,
    /// Baselines whose equity goes beside the strategy's in `equity.parquet`.
    pub baselines: &'a [RunResult],
    /// Buy-and-hold on the same bars (`benchmark_equity`).
    pub benchmark: &'a RunResult,
    /// Symbol names by id.
    pub symbols: &'a [String],
    /// The bars the run used (their closes go to `prices.parquet`).
    pub bars: &'a Bars,
    /// The resolved configuration as TOML (`config.toml`).
    pub config_toml: &'a str,
    /// Votes and weights of a graph run.
    pub graph: Option<GraphArtifacts<'a>>,
}

/// Writes the run folder `dir`: summary, equity, trades, fills, the resolved config, and
/// for graph runs votes and weights. `beside` runs once every file but the votes is
/// written, while the votes still are (the votes, a million rows on the hourly set, take
/// longest; the run folder's page reads every file but them).
pub fn write_run(dir: &Path, a: &RunArtifacts<'_>, beside: impl FnOnce() -> Result<()>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let json = serde_json::to_string_pretty(a.summary).expect("summary serializes");
    write_text(&dir.join("summary.json"), &(json + "\n"))?;
    crate::run::fault("artifacts");
    // The votes on a thread of their own, beside the other files; each file is written
    // whole by one thread, so the bytes do not depend on the split.
    std::thread::scope(|s| {
        let votes = a.graph.as_ref().map(|g| {
            s.spawn(move || {
                let p = dir.join("votes.parquet");
                write_parquet_rows(&p, g.votes.votes.len(), |r| votes_frame(&p, g, a.symbols, r))
            })
        });
        let rest = write_tables(dir, a).and_then(|()| beside());
        let votes = votes.map_or(Ok(()), |h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        rest.and(votes)
    })
}

/// Every file of [`write_run`] but the summary and the votes.
fn write_tables(dir: &Path, a: &RunArtifacts<'_>) -> Result<()> {
    let p = dir.join("equity.parquet");
    write_parquet(&p, equity_frame(&p, a.run, a.baselines, a.benchmark)?)?;
    if let Some(att) = &a.summary.attribution {
        let file = super::attribution::AttributionFile {
            pnl: att.clone(),
            shapley: a.summary.shapley.clone(),
            shapley_full: a.summary.shapley_full.clone(),
            learning: a.summary.learning.clone(),
        };
        let json = serde_json::to_string_pretty(&file).expect("attribution serializes");
        write_text(&dir.join("attribution.json"), &(json + "\n"))?;
        let p = dir.join("attribution.parquet");
        write_parquet(&p, attribution_frame(&p, att, &a.summary.learning)?)?;
    }
    if let Some(g) = &a.graph {
        let p = dir.join("weights.parquet");
        write_parquet(&p, weights_frame(&p, g)?)?;
        let p = dir.join("breakdown.parquet");
        write_parquet(&p, breakdown_frame(&p, g.breakdown)?)?;
    }
    let p = dir.join("trades.parquet");
    write_parquet(&p, trades_frame(&p, a.run, a.symbols)?)?;
    let p = dir.join("fills.parquet");
    write_parquet(&p, fills_frame(&p, a.run, a.symbols)?)?;
    let p = dir.join("prices.parquet");
    write_parquet(&p, prices_frame(&p, a.bars)?)?;
    write_text(&dir.join("config.toml"), a.config_toml)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row group by row group, the rows read back are the frame's, across several groups
    /// and a short last one, and a frame of at most one group is the file `write_parquet`
    /// writes, byte for byte.
    #[test]
    fn test_write_parquet_rows_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let frame_of = |r: std::ops::Range<usize>| -> Result<DataFrame> {
            let p = dir.path().join("x");
            frame(
                &p,
                vec![
                    Column::new("i".into(), r.clone().map(|i| i as u64).collect::<Vec<_>>()),
                    Column::new("s".into(), r.map(|i| format!("row {}", i % 977)).collect::<Vec<_>>()),
                ],
            )
        };
        let n = 2 * ROW_GROUP + 5;
        let p = dir.path().join("rows.parquet");
        write_parquet_rows(&p, n, frame_of).unwrap();
        let back = ParquetReader::new(File::open(&p).unwrap()).finish().unwrap();
        assert!(back.equals(&frame_of(0..n).unwrap()), "the rows read back are the frame's");
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_parquet_rows(&a, 1000, frame_of).unwrap();
        write_parquet(&b, frame_of(0..1000).unwrap()).unwrap();
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    }
}
