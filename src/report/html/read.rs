//! Reads a finished run folder back for the report: `summary.json`, `config.toml` and the
//! Parquet artifacts, each into plain vectors. Optional files (`votes`/`weights` of graph
//! runs, `prices.parquet` of older runs, `breakdown.parquet`) read as `None` when absent; a
//! file that is present but unreadable or lacks a column is an error naming the file and
//! the column.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Deserialize;

use super::{PageError, Result};
use crate::market::Ts;
use crate::report::attribution::PnlAttribution;
use crate::report::shapley::ShapleyReport;

/// One strategy of `summary.json`: its name and metrics as JSON (null = undefined).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct StrategyLine {
    pub name: String,
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

/// One confidence bucket of an analyst's reliability table.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Bucket {
    pub votes: u64,
    pub mean_confidence: Option<f64>,
    pub hit_rate: Option<f64>,
}

/// One analyst's calibration (`learning` in `summary.json`).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Learning {
    pub agent: String,
    #[serde(default)]
    pub resolved: u64,
    pub hit_rate: Option<f64>,
    pub brier: Option<f64>,
    #[serde(default)]
    pub reliability: Vec<Bucket>,
    #[serde(default)]
    pub win_rate_outcome_corr: Option<f64>,
    /// Hit rates by what the recalled outcome evidence said (agree, disagree, none).
    #[serde(default)]
    pub evidence: Vec<crate::engine::graph::StanceLine>,
}

/// What the report uses of `summary.json`; the data report stays JSON (shown as given).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Summary {
    pub quorum_version: String,
    pub data: serde_json::Value,
    #[serde(default)]
    pub annualisation: serde_json::Value,
    #[serde(default)]
    pub risk_free_rate: f64,
    pub warmup_until: Option<String>,
    #[serde(default)]
    pub analysts: Vec<String>,
    pub strategies: Vec<StrategyLine>,
    #[serde(default)]
    pub learning: Vec<Learning>,
    pub attribution: Option<PnlAttribution>,
    pub shapley: Option<ShapleyReport>,
    #[serde(default)]
    pub shapley_full: Option<ShapleyReport>,
}

/// `equity.parquet`: the step times and each strategy's equity, strategy under test first,
/// buy-and-hold last.
#[derive(Debug, Clone)]
pub(super) struct Equity {
    pub ts: Vec<Ts>,
    pub curves: Vec<(String, Vec<f64>)>,
}

/// `fills.parquet`.
#[derive(Debug, Clone, Default)]
pub(super) struct Fills {
    pub ts: Vec<Ts>,
    pub symbol: Vec<String>,
    pub buy: Vec<bool>,
    pub price: Vec<f64>,
    pub commission: Vec<f64>,
    pub slippage: Vec<f64>,
}

/// `weights.parquet`: per agent, its weight at each logged step.
#[derive(Debug, Clone)]
pub(super) struct Weights {
    pub ts: Vec<Ts>,
    pub agents: Vec<(String, Vec<f64>)>,
}

/// `prices.parquet`: per symbol, its bars' times and closes.
#[derive(Debug, Clone)]
pub(super) struct Prices {
    pub symbols: Vec<(String, Vec<Ts>, Vec<f64>)>,
}

/// One row of `breakdown.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BreakdownRow {
    pub who: String,
    pub dimension: String,
    pub bucket: String,
    pub judged: u64,
    pub hit_rate: f64,
    pub pnl: f64,
}

/// Everything the report shows of one run folder.
#[derive(Debug, Clone)]
pub(super) struct RunFolder {
    pub dir: PathBuf,
    pub summary: Summary,
    pub config_toml: String,
    pub equity: Equity,
    pub fills: Fills,
    pub weights: Option<Weights>,
    pub prices: Option<Prices>,
    pub breakdown: Option<Vec<BreakdownRow>>,
}

fn bad(path: &Path, message: impl std::fmt::Display) -> PageError {
    PageError::Read { path: path.to_path_buf(), message: message.to_string() }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read ({e})")))
}

fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    ParquetReader::new(file).finish().map_err(|e| bad(path, format!("not a readable Parquet file ({e})")))
}

fn optional_frame(path: &Path) -> Result<Option<DataFrame>> {
    if path.is_file() { read_frame(path).map(Some) } else { Ok(None) }
}

fn column<'a>(df: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| bad(path, format!("missing column `{name}`")))
}

/// A numeric column as f64 (nulls become NaN).
pub(super) fn floats(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<f64>> {
    let c = column(df, path, name)?.cast(&DataType::Float64).map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    let ca = c.f64().map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// A timestamp column as nanoseconds since the epoch.
pub(super) fn times(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Ts>> {
    let c = column(df, path, name)?
        .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))
        .map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    let ca = c.datetime().map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    ca.physical()
        .iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| bad(path, format!("column `{name}`, row {}: empty", i + 1))))
        .collect()
}

/// A string column.
pub(super) fn strings(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>> {
    let c = column(df, path, name)?.cast(&DataType::String).map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    let ca = c.str().map_err(|e| bad(path, format!("column `{name}`: {e}")))?;
    Ok(ca.iter().map(|v| v.unwrap_or_default().to_string()).collect())
}

fn read_summary(dir: &Path) -> Result<Summary> {
    let path = dir.join("summary.json");
    let text = read_text(&path)?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| bad(&path, format!("field `{}`: {}", e.path(), e.inner())))
}

fn read_equity(dir: &Path, summary: &Summary) -> Result<Equity> {
    let path = dir.join("equity.parquet");
    let df = read_frame(&path)?;
    let ts = times(&df, &path, "timestamp")?;
    let first = summary.strategies.first().map_or("strategy", |s| s.name.as_str());
    let last = summary.strategies.last().map_or("buy-and-hold", |s| s.name.as_str());
    let mut curves = vec![(first.to_string(), floats(&df, &path, "equity")?)];
    for name in df.get_column_names() {
        if let Some(baseline) = name.strip_prefix("equity_") {
            curves.push((baseline.to_string(), floats(&df, &path, name)?));
        }
    }
    curves.push((last.to_string(), floats(&df, &path, "benchmark_equity")?));
    Ok(Equity { ts, curves })
}

fn read_fills(dir: &Path) -> Result<Fills> {
    let path = dir.join("fills.parquet");
    let df = read_frame(&path)?;
    Ok(Fills {
        ts: times(&df, &path, "timestamp")?,
        symbol: strings(&df, &path, "symbol")?,
        buy: strings(&df, &path, "side")?.iter().map(|s| s == "buy").collect(),
        price: floats(&df, &path, "price")?,
        commission: floats(&df, &path, "commission")?,
        slippage: floats(&df, &path, "slippage")?,
    })
}

fn read_weights(dir: &Path) -> Result<Option<Weights>> {
    let path = dir.join("weights.parquet");
    let Some(df) = optional_frame(&path)? else { return Ok(None) };
    let (ts, agent, weight) =
        (times(&df, &path, "timestamp")?, strings(&df, &path, "agent")?, floats(&df, &path, "weight")?);
    let mut steps: Vec<Ts> = Vec::new();
    let mut agents: Vec<(String, Vec<f64>)> = Vec::new();
    for i in 0..ts.len() {
        if steps.last() != Some(&ts[i]) {
            steps.push(ts[i]);
        }
        let k = match agents.iter().position(|(a, _)| *a == agent[i]) {
            Some(k) => k,
            None => {
                agents.push((agent[i].clone(), Vec::new()));
                agents.len() - 1
            }
        };
        let w = &mut agents[k].1;
        w.resize(steps.len() - 1, f64::NAN);
        w.push(weight[i]);
    }
    for (_, w) in &mut agents {
        w.resize(steps.len(), f64::NAN);
    }
    Ok(Some(Weights { ts: steps, agents }))
}

fn read_prices(dir: &Path) -> Result<Option<Prices>> {
    let path = dir.join("prices.parquet");
    let Some(df) = optional_frame(&path)? else { return Ok(None) };
    let (ts, sym, close) =
        (times(&df, &path, "timestamp")?, strings(&df, &path, "symbol")?, floats(&df, &path, "close")?);
    let mut symbols: Vec<(String, Vec<Ts>, Vec<f64>)> = Vec::new();
    for i in 0..ts.len() {
        let k = match symbols.iter().position(|(s, _, _)| *s == sym[i]) {
            Some(k) => k,
            None => {
                symbols.push((sym[i].clone(), Vec::new(), Vec::new()));
                symbols.len() - 1
            }
        };
        symbols[k].1.push(ts[i]);
        symbols[k].2.push(close[i]);
    }
    symbols.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(Prices { symbols }))
}

/// `breakdown.parquet` as rows (see the module docs of `report::html` for its layout).
pub(super) fn breakdown_rows(df: &DataFrame, path: &Path) -> Result<Vec<BreakdownRow>> {
    let (who, dim, bucket) = (strings(df, path, "who")?, strings(df, path, "dimension")?, strings(df, path, "bucket")?);
    let (judged, hit, pnl) = (floats(df, path, "judged")?, floats(df, path, "hit_rate")?, floats(df, path, "pnl")?);
    Ok((0..who.len())
        .map(|i| BreakdownRow {
            who: who[i].clone(),
            dimension: dim[i].clone(),
            bucket: bucket[i].clone(),
            judged: judged[i].max(0.0) as u64,
            hit_rate: hit[i],
            pnl: pnl[i],
        })
        .collect())
}

/// Reads the run folder `dir` (its completeness is the caller's check).
pub(super) fn read_run(dir: &Path) -> Result<RunFolder> {
    let summary = read_summary(dir)?;
    if summary.strategies.is_empty() {
        return Err(bad(&dir.join("summary.json"), "field `strategies`: empty"));
    }
    let config_toml = read_text(&dir.join("config.toml"))?;
    let equity = read_equity(dir, &summary)?;
    let fills = read_fills(dir)?;
    let weights = read_weights(dir)?;
    let prices = read_prices(dir)?;
    let p = dir.join("breakdown.parquet");
    let breakdown = optional_frame(&p)?.map(|df| breakdown_rows(&df, &p)).transpose()?;
    Ok(RunFolder { dir: dir.to_path_buf(), summary, config_toml, equity, fills, weights, prices, breakdown })
}
