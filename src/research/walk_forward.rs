//! Walk-forward evaluation of the analyst graph (`quorum walk-forward`, issue 17, item 1).
//!
//! # Folds
//!
//! The loaded bars' steps (one per timestamp, every symbol together) are cut into folds.
//! Windows are measured in bars (steps), days (dates with bars: the New York session date
//! for equities, the UTC date for crypto) or months (calendar months of those dates), so
//! `--train 3d --test 1d` means three trading days, then one, on minute or hourly data
//! alike. Fold k (from 0) starts at `origin_k`, `--step` after `origin_{k−1}` (default: the
//! test window), and with `t_k = origin_k + train`:
//!
//! - test = `[t_k, t_k + test)`;
//! - train = `[origin_k, t_k − embargo)`, or `[first step, t_k − embargo)` with `--anchored`;
//! - the last fold is the last whose test window is complete; later steps are in no test
//!   window (the plan says how many).
//!
//! `--embargo N` drops the last N bars of every training window, so N bars separate the last
//! bar training sees from the first one traded (López de Prado, *Advances in Financial
//! Machine Learning*, 2018, ch. 7.4, purging and embargo). Test windows never overlap (a
//! step shorter than the test window is refused), so the out-of-sample curve is one curve.
//!
//! # What a fold runs
//!
//! 1. **Train:** the graph runs over its window with trading and metrics held back to the
//!    window's last bar (`graph.warmup_until`; an order at the last bar has no next bar to
//!    fill at, so nothing trades). The analysts perceive, write memories and resolve
//!    outcomes; the run folder's `memory/` is the memory as it stood at the end of training.
//! 2. **Test:** a run from that checkpoint over the test window, with every baseline and
//!    buy-and-hold. The embargo bars are in neither run: the memory the test starts from is
//!    exactly the memory at the end of training, and the gap is a gap for learning and
//!    trading alike. The checkpoint holds the memory, not the analysts' perception state
//!    (indicator windows, pending outcomes: see README "Parity with the backtest"), so the
//!    analysts' indicators start cold at each test window: the first bars of a window are
//!    partly neutral (wyckoff's lookback is 60 bars). A perception-only pre-roll (indicators
//!    fed, memory untouched) is the fix, not yet built.
//!
//! **Purge.** An outcome is resolved at the bar its horizon ends, from bars the run has seen,
//! and a training run's data ends `embargo` bars before the test window. So no outcome whose
//! horizon reaches past the training window (into the embargo or the test window) is in the
//! memory a test starts from: López de Prado's purge (ibid., 7.4.1) holds by construction.
//! The tests check it on the real sample: every item of a fold's training memory is timed
//! before its test window, and so is the checkpoint's clock.
//!
//! **Memory carries forward** by default, as a live system's would: fold k's training resumes
//! from fold k−1's training checkpoint and covers the bars since (fold k−1's embargo and test
//! window included: a live system learns from the period it traded), so training memory is
//! anchored whatever `--anchored` says, and the memory's own decay is what forgets.
//! `--fresh-memory` starts every fold's training from an empty memory (or from
//! `graph.memory_from`) over its own window only; then `--anchored` chooses the window.
//!
//! Every fold's runs annualise with the whole data's periods per year (unless
//! `metrics.periods_per_year` is set), so their Sharpe ratios compare.
//!
//! # Output
//!
//! `OUT/fold-NNN/train` and `OUT/fold-NNN/test` (run folders), `folds.parquet` (one row per
//! fold and strategy: the windows and the test window's metrics), `equity.parquet` (the
//! stitched out-of-sample equity of every strategy), `walk-forward.json` (the plan and the
//! stitched metrics; not `summary.json`, so that no reader takes the folder for a run
//! folder), `config.toml`, and [`MARKER`] last. The stitched curve chains the test
//! windows' returns: each window starts at the equity the previous one ended with, and
//! nothing is earned between windows. Its return, Sharpe, Sortino and drawdown are
//! [`crate::report::compute`]'s over the stitched curve; trades, fills and costs are summed
//! over the folds (each fold trades from `portfolio.initial_cash`, so costs are in that
//! scale).
//!
//! A walk-forward folder is replaced whole by the next run into it: the old one is removed
//! (only if it is a walk-forward folder or empty; its mark last, so a kill mid-removal
//! leaves a folder still known as one) and a mark written, so a killed run leaves a folder
//! without [`MARKER`]. Everything that can be checked before a fold runs is checked before
//! the old folder goes: the config, the data, the analyst profiles and news, the starting
//! memory, and that no input (data, profiles, news, memory) lies inside the folder. Not
//! staged and swapped like a run folder (the folds' own run folders are): a failed rerun
//! leaves the new, unfinished folder, not the old result; and there is no lock, so two
//! walk-forwards into one folder at once are the user's to avoid. Written here by hand: the fold arithmetic is a few
//! lines over our own engine, and no crate runs purged walk-forward over a stateful graph.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::Datelike;
use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};

use crate::agents::Registry;
use crate::config::{Config, ShapleyMode, StrategyName};
use crate::engine::{BacktestOutput, RunError, annualisation, backtest_with, since};
use crate::market::session::{NyClock, day_to_date, session_day};
use crate::market::time::format_ts;
use crate::market::{AssetClass, Bars, LoadReport, TimeBound, Ts, load};
use crate::report::{Annualisation, ReportError, compute, frame, time_column, write_parquet, write_text};
use crate::run::{EquityCurve, RunResult};

/// Folds a walk-forward may have (each writes two run folders).
const MAX_FOLDS: usize = 10_000;

/// Written last into a finished walk-forward folder.
pub const MARKER: &str = "walk-forward.complete";
/// Written first: only folders holding it (or empty ones) are replaced by a walk-forward.
const MARK: &str = ".quorum-walk-forward";

/// A window length: bars (steps), days or months.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    /// This many steps.
    Bars(usize),
    /// This many dates with bars (session dates for equities, UTC dates for crypto).
    Days(usize),
    /// This many calendar months with bars.
    Months(usize),
}

impl FromStr for Span {
    type Err = String;

    /// `390b` (or `bars`), `3d` (`days`), `1mo` (`months`); at least 1.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let cut = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (count, unit) = t.split_at(cut);
        let n: usize =
            count.parse().map_err(|_| format!("{s:?}: expected a count and a unit, e.g. 390b, 3d or 1mo"))?;
        if n == 0 {
            return Err(format!("{s:?}: a window is at least 1"));
        }
        match unit.trim() {
            "b" | "bar" | "bars" => Ok(Span::Bars(n)),
            "d" | "day" | "days" => Ok(Span::Days(n)),
            "mo" | "month" | "months" => Ok(Span::Months(n)),
            u => Err(format!("{s:?}: unknown unit {u:?}; use b (bars), d (days) or mo (months)")),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::Bars(n) => write!(f, "{n}b"),
            Span::Days(n) => write!(f, "{n}d"),
            Span::Months(n) => write!(f, "{n}mo"),
        }
    }
}

/// The steps of the data, with each step's day and month.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Each step's time.
    pub ts: Vec<Ts>,
    day: Vec<i64>,
    month: Vec<i64>,
}

impl Timeline {
    /// The timeline of steps at `ts` (sorted); days are session dates, or UTC dates if
    /// `crypto`.
    pub fn new(ts: Vec<Ts>, crypto: bool) -> Self {
        let class = if crypto { AssetClass::Crypto } else { AssetClass::Equity };
        let mut clock = NyClock::new();
        let day = ts.iter().map(|&t| session_day(&mut clock, class, t)).collect();
        Timeline::with_days(ts, day)
    }

    /// The timeline of loaded bars: one step per timestamp; UTC days when every symbol is
    /// crypto, else session dates.
    pub fn of(bars: &Bars, report: &LoadReport) -> Self {
        let crypto = !report.asset_classes.is_empty() && report.asset_classes.iter().all(|c| *c == AssetClass::Crypto);
        Timeline::new(bars.steps().map(|r| bars.ts[r.start]).collect(), crypto)
    }

    /// A timeline whose step `i` falls on day `day[i]` (days since 1970-01-01,
    /// non-decreasing).
    pub fn with_days(ts: Vec<Ts>, day: Vec<i64>) -> Self {
        let month = day
            .iter()
            .map(|&d| {
                let date = day_to_date(d);
                i64::from(date.year()) * 12 + i64::from(date.month0())
            })
            .collect();
        Timeline { ts, day, month }
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// No steps.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Number of distinct days.
    pub fn days(&self) -> usize {
        self.day.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!self.day.is_empty())
    }

    /// The step just after `span` counted from step `from` (the day or month holding `from`
    /// counts as the first), or `None` if the data ends before the span does. The data's
    /// last day or month counts as whole: the data ends where it was cut.
    pub fn end(&self, from: usize, span: Span) -> Option<usize> {
        let (keys, n) = match span {
            Span::Bars(n) => return from.checked_add(n).filter(|&e| e <= self.len()),
            Span::Days(n) => (&self.day, n),
            Span::Months(n) => (&self.month, n),
        };
        if from >= keys.len() {
            return None;
        }
        let mut seen = 1;
        for i in from + 1..keys.len() {
            if keys[i] != keys[i - 1] {
                seen += 1;
                if seen > n {
                    return Some(i);
                }
            }
        }
        (seen == n).then_some(keys.len())
    }
}

/// How to cut the data into folds and what each fold's training starts from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalkForward {
    /// Training window.
    pub train: Span,
    /// Test window.
    pub test: Span,
    /// From one fold's start to the next; `None`: the test window.
    pub step: Option<Span>,
    /// Every training window starts at the first step.
    pub anchored: bool,
    /// Bars dropped from the end of each training window.
    pub embargo: usize,
    /// Every fold trains from an empty memory (or `graph.memory_from`), not the last fold's.
    pub fresh_memory: bool,
}

/// One fold, in steps of the [`Timeline`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// 1-based.
    pub index: usize,
    /// The training window (after the embargo).
    pub train: Range<usize>,
    /// What the fold's training run covers: the training window, or with memory carried
    /// forward, the steps since the previous fold's training ended.
    pub learn: Range<usize>,
    /// The test window.
    pub test: Range<usize>,
}

/// The folds of a walk-forward.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// In time order.
    pub folds: Vec<Fold>,
    /// Steps after the last test window (in no test window).
    pub unused_tail: usize,
}

/// Why the data cannot be cut as asked.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Not even one fold fits.
    #[error(
        "the data ({steps} steps over {days} days) is shorter than one training window ({train}) plus one test \
         window ({test}); load more data or use shorter windows"
    )]
    TooShort {
        /// Steps loaded.
        steps: usize,
        /// Days loaded.
        days: usize,
        /// `--train`.
        train: Span,
        /// `--test`.
        test: Span,
    },
    /// The embargo eats a training window.
    #[error("--embargo {embargo} leaves fold {fold} no training bars (its window has {bars})")]
    Embargo {
        /// `--embargo`.
        embargo: usize,
        /// The fold.
        fold: usize,
        /// Its training window's bars before the embargo.
        bars: usize,
    },
    /// More folds than anyone means (two run folders each).
    #[error("more than {max} folds (--test {test}, --step {step}): use longer windows")]
    TooMany {
        /// The limit.
        max: usize,
        /// `--test`.
        test: Span,
        /// The step.
        step: Span,
    },
    /// Test windows would overlap.
    #[error(
        "--step {step} is shorter than --test {test}: fold {fold}'s test window would overlap fold {prev}'s, and \
         the stitched out-of-sample curve needs disjoint windows"
    )]
    Overlap {
        /// The step.
        step: Span,
        /// The test window.
        test: Span,
        /// The later fold.
        fold: usize,
        /// The earlier fold.
        prev: usize,
    },
}

impl WalkForward {
    /// The folds of `tl`.
    pub fn plan(&self, tl: &Timeline) -> Result<Plan, PlanError> {
        let step = self.step.unwrap_or(self.test);
        let mut folds: Vec<Fold> = Vec::new();
        let mut origin = 0;
        while let Some(t) = tl.end(origin, self.train) {
            let Some(test_end) = tl.end(t, self.test) else { break };
            let index = folds.len() + 1;
            let start = if self.anchored { 0 } else { origin };
            if t - start <= self.embargo {
                return Err(PlanError::Embargo { embargo: self.embargo, fold: index, bars: t - start });
            }
            let train = start..t - self.embargo;
            if let Some(prev) = folds.last()
                && prev.test.end > t
            {
                return Err(PlanError::Overlap { step, test: self.test, fold: index, prev: prev.index });
            }
            let learn = match folds.last() {
                Some(prev) if !self.fresh_memory => prev.train.end..train.end,
                _ => train.clone(),
            };
            folds.push(Fold { index, train, learn, test: t..test_end });
            if folds.len() > MAX_FOLDS {
                return Err(PlanError::TooMany { max: MAX_FOLDS, test: self.test, step });
            }
            match tl.end(origin, step) {
                Some(next) if next < tl.len() => origin = next,
                _ => break,
            }
        }
        let Some(last) = folds.last() else {
            return Err(PlanError::TooShort { steps: tl.len(), days: tl.days(), train: self.train, test: self.test });
        };
        let unused_tail = tl.len() - last.test.end;
        Ok(Plan { folds, unused_tail })
    }
}

/// Why a walk-forward failed.
#[derive(Debug, thiserror::Error)]
pub enum WalkForwardError {
    /// Config, data or the first load failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The data cannot be cut as asked.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A fold's run failed.
    #[error("fold {fold} ({phase} run, {window}): {source}")]
    Fold {
        /// 1-based.
        fold: usize,
        /// `train` or `test`.
        phase: &'static str,
        /// Its window.
        window: String,
        /// What failed.
        #[source]
        source: Box<RunError>,
    },
    /// The output folder cannot be used or written.
    #[error("{path}: {message}")]
    Target {
        /// The folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A summary file could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Only the analyst graph learns.
    #[error(
        "walk-forward evaluates the analyst graph (strategy.name = \"graph\"), which learns from its memory; \
         {0:?} has nothing to train (its runs are the test runs' baselines)"
    )]
    NotGraph(String),
    /// Folds set their own warm-up.
    #[error("graph.warmup_until (--warmup-until) cannot be set for a walk-forward: every fold sets its own")]
    Warmup,
}

/// One fold's test window, per strategy.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    /// The fold.
    pub fold: Fold,
    /// First and last bar of the training window, and of the test window (RFC 3339).
    pub train_from: String,
    /// Last training bar.
    pub train_to: String,
    /// First bar the training run covered (the previous fold's training end when memory is
    /// carried forward).
    pub learn_from: String,
    /// First test bar.
    pub test_from: String,
    /// Last test bar.
    pub test_to: String,
    /// The test window's metrics per strategy (the one under test, baselines, buy-and-hold).
    pub strategies: Vec<crate::report::StrategyReport>,
}

/// A strategy's stitched out-of-sample result.
#[derive(Debug, Clone, Serialize)]
pub struct Stitched {
    /// Strategy name.
    pub name: String,
    /// Total return of the stitched curve.
    pub total_return: f64,
    /// Its CAGR.
    pub cagr: f64,
    /// Its annualised volatility.
    pub volatility: f64,
    /// Its Sharpe ratio.
    pub sharpe: f64,
    /// Its Sortino ratio.
    pub sortino: f64,
    /// Its maximum drawdown.
    pub max_drawdown: f64,
    /// Equity at its end.
    pub final_equity: f64,
    /// Folds whose test window returned more than 0.
    pub positive_folds: usize,
    /// Mean of the folds' test-window returns.
    pub mean_fold_return: f64,
    /// Trades over every test window.
    pub trades: usize,
    /// Fills over every test window.
    pub fills: usize,
    /// Costs over every test window.
    pub total_costs: f64,
    /// The stitched equity, one value per test step ([`WalkForwardOutput::ts`]; in
    /// `equity.parquet`, not in `walk-forward.json`).
    #[serde(skip)]
    pub equity: Vec<f64>,
}

/// A finished walk-forward.
#[derive(Debug, Clone, Serialize)]
pub struct WalkForwardOutput {
    /// The folder written.
    pub out_dir: PathBuf,
    /// How the data was cut.
    pub spec: WalkForward,
    /// The folds.
    pub plan: Plan,
    /// Per fold, its test window's results.
    pub folds: Vec<FoldResult>,
    /// Per strategy, the stitched out-of-sample result.
    pub stitched: Vec<Stitched>,
    /// Periods per year every fold annualised with.
    pub periods_per_year: f64,
    /// The test steps' times, stitched (in `equity.parquet`).
    #[serde(skip)]
    pub ts: Vec<Ts>,
}

/// Runs the walk-forward `spec` over the data of `cfg` into `cfg.output.dir`; `progress` gets
/// a line as each run starts.
pub fn walk_forward(
    cfg: &Config,
    spec: &WalkForward,
    registry: &Registry,
    progress: &mut dyn FnMut(&str),
) -> Result<WalkForwardOutput, WalkForwardError> {
    cfg.validate().map_err(RunError::from)?;
    if cfg.strategy.name != StrategyName::Graph {
        let name = toml::Value::try_from(cfg.strategy.name).map(|v| v.to_string()).unwrap_or_default();
        return Err(WalkForwardError::NotGraph(name.trim_matches('"').to_string()));
    }
    if cfg.graph.warmup_until.is_some() {
        return Err(WalkForwardError::Warmup);
    }
    let out = crate::run::normalise(&cfg.output.dir).map_err(RunError::from)?;
    // Checked before the old folder is removed: the analysts' inputs and the starting
    // memory, and that no input lies inside the folder that is about to be replaced.
    crate::engine::graph_inputs(cfg, registry)?;
    if let Some(m) = &cfg.graph.memory_from {
        crate::run::check_memory_dir(m).map_err(RunError::from)?;
    }
    let inputs =
        [Some(&cfg.data.path), Some(&cfg.graph.agents_dir), cfg.graph.news.as_ref(), cfg.graph.memory_from.as_ref()];
    for input in inputs.into_iter().flatten() {
        let input = crate::run::normalise(input).unwrap_or_else(|_| input.clone());
        if input.starts_with(&out) {
            return Err(WalkForwardError::Target {
                path: out.clone(),
                message: format!(
                    "{} is inside it, and a walk-forward replaces its folder whole; choose another --out",
                    input.display()
                ),
            });
        }
    }
    let (bars, report) = load(&cfg.load_options().map_err(RunError::from)?).map_err(RunError::from)?;
    let tl = Timeline::of(&bars, &report);
    let a = annualisation(&bars, &report, cfg.metrics.periods_per_year);
    drop(bars);
    let plan = spec.plan(&tl)?;
    prepare(&out)?;
    let width = plan.folds.len().to_string().len().max(3);
    let mut results = Vec::with_capacity(plan.folds.len());
    let mut segments: Vec<Vec<RunResult>> = Vec::new();
    let mut carried: Option<PathBuf> = cfg.graph.memory_from.clone();
    let n = plan.folds.len();
    for f in &plan.folds {
        let dir = out.join(format!("fold-{:0width$}", f.index));
        let window = |r: &Range<usize>| format!("{} .. {}", format_ts(tl.ts[r.start]), format_ts(tl.ts[r.end - 1]));
        // Train.
        progress(&format!("fold {}/{n}: train on {} ({} bars)", f.index, window(&f.learn), f.learn.len()));
        let mut train = fold_config(cfg, &tl, f.learn.clone(), &dir.join("train"), a.periods_per_year);
        train.graph.warmup_until = Some(bound(tl.ts[f.learn.end - 1]));
        train.graph.ablation = false;
        train.graph.shapley = ShapleyMode::Off;
        train.output.report = false;
        train.graph.memory_from = if spec.fresh_memory { cfg.graph.memory_from.clone() } else { carried.clone() };
        let fail = |phase: &'static str, r: &Range<usize>, e: RunError| WalkForwardError::Fold {
            fold: f.index,
            phase,
            window: window(r),
            source: Box::new(e),
        };
        backtest_with(&train, registry, &mut |_, _, _| {}).map_err(|e| fail("train", &f.learn, e))?;
        let memory = dir.join("train").join("memory");
        carried = Some(memory.clone());
        // Test: the test window alone (the embargo bars are in neither run).
        progress(&format!("fold {}/{n}: test on {} ({} bars)", f.index, window(&f.test), f.test.len()));
        let mut test = fold_config(cfg, &tl, f.test.clone(), &dir.join("test"), a.periods_per_year);
        test.graph.memory_from = Some(memory);
        let done = backtest_with(&test, registry, &mut |_, _, _| {}).map_err(|e| fail("test", &f.test, e))?;
        segments.push(measured_runs(&done, tl.ts[f.test.start]));
        results.push(FoldResult {
            fold: f.clone(),
            train_from: format_ts(tl.ts[f.train.start]),
            train_to: format_ts(tl.ts[f.train.end - 1]),
            learn_from: format_ts(tl.ts[f.learn.start]),
            test_from: format_ts(tl.ts[f.test.start]),
            test_to: format_ts(tl.ts[f.test.end - 1]),
            strategies: done.summary.strategies,
        });
    }
    let (ts, curves) = stitch(cfg.portfolio.initial_cash, &segments);
    let stitched =
        curves.into_iter().enumerate().map(|(k, curve)| summarise(k, &ts, curve, cfg, &a, &results)).collect();
    let output = WalkForwardOutput {
        out_dir: out.clone(),
        spec: spec.clone(),
        plan,
        folds: results,
        stitched,
        periods_per_year: a.periods_per_year,
        ts,
    };
    write_outputs(&out, cfg, &output)?;
    Ok(output)
}

/// `cfg` over the steps `r` of `tl`, written to `dir`, annualised with `ppy`.
fn fold_config(cfg: &Config, tl: &Timeline, r: Range<usize>, dir: &Path, ppy: f64) -> Config {
    let mut c = cfg.clone();
    c.data.from = Some(bound(tl.ts[r.start]));
    // The end is exclusive at the next step's label (an RFC 3339 end is exclusive just after
    // its time): the loader bounds raw bars before it resamples, so a bound at the last
    // step's own label would cut that step's bucket to its first raw bar. The last window
    // keeps the user's own end.
    if r.end < tl.len() {
        c.data.to = Some(bound(tl.ts[r.end] - 1));
    }
    c.metrics.periods_per_year = Some(cfg.metrics.periods_per_year.unwrap_or(ppy));
    c.output.dir = dir.to_path_buf();
    c
}

fn bound(t: Ts) -> TimeBound {
    TimeBound::parse(&format_ts(t)).expect("format_ts writes RFC 3339")
}

/// Every strategy's run of a test, measured from the test window's first bar (the order of
/// `summary.strategies`: the one under test, baselines, buy-and-hold).
fn measured_runs(out: &BacktestOutput, from: Ts) -> Vec<RunResult> {
    std::iter::once(&out.run)
        .chain(&out.baselines)
        .chain(std::iter::once(&out.benchmark))
        .map(|r| since(r, from))
        .collect()
}

/// The stitched out-of-sample curves: per strategy, each fold's equity scaled so that its
/// window starts where the previous one ended (the first at `initial`).
fn stitch(initial: f64, segments: &[Vec<RunResult>]) -> (Vec<Ts>, Vec<Vec<f64>>) {
    let k = segments.first().map_or(0, Vec::len);
    let mut ts = Vec::new();
    let mut curves = vec![Vec::new(); k];
    for fold in segments {
        ts.extend_from_slice(&fold[0].equity.ts);
        for (s, r) in fold.iter().enumerate() {
            let start = curves[s].last().copied().unwrap_or(initial);
            let base = r.initial_cash;
            curves[s].extend(r.equity.equity.iter().map(|e| start * e / base));
        }
    }
    (ts, curves)
}

/// Strategy `k`'s stitched figures: the metrics of its stitched `curve` and sums over `folds`.
fn summarise(k: usize, ts: &[Ts], curve: Vec<f64>, cfg: &Config, a: &Annualisation, folds: &[FoldResult]) -> Stitched {
    let name = folds[0].strategies[k].name.clone();
    let r = RunResult {
        strategy: name.clone(),
        initial_cash: cfg.portfolio.initial_cash,
        equity: EquityCurve {
            ts: ts.to_vec(),
            equity: curve.to_vec(),
            cash: curve.to_vec(),
            gross: vec![0.0; curve.len()],
            net: vec![0.0; curve.len()],
        },
        fills: Vec::new(),
        trades: Vec::new(),
        positions: Vec::new(),
    };
    let m = compute(&r, a, cfg.metrics.risk_free_rate);
    let per: Vec<&crate::report::Metrics> = folds.iter().map(|f| &f.strategies[k].metrics).collect();
    Stitched {
        name,
        total_return: m.total_return,
        cagr: m.cagr,
        volatility: m.volatility,
        sharpe: m.sharpe,
        sortino: m.sortino,
        max_drawdown: m.max_drawdown,
        final_equity: curve.last().copied().unwrap_or(cfg.portfolio.initial_cash),
        positive_folds: per.iter().filter(|m| m.total_return > 0.0).count(),
        mean_fold_return: per.iter().map(|m| m.total_return).sum::<f64>() / per.len().max(1) as f64,
        trades: per.iter().map(|m| m.trades).sum(),
        fills: per.iter().map(|m| m.fills).sum(),
        total_costs: per.iter().map(|m| m.total_costs).sum(),
        equity: curve,
    }
}

/// Makes `out` an empty walk-forward folder ([`super::claim_folder`]).
fn prepare(out: &Path) -> Result<(), WalkForwardError> {
    super::claim_folder(out, MARK, "walk-forward")
        .map_err(|message| WalkForwardError::Target { path: out.to_path_buf(), message })
}

/// `folds.parquet`, `equity.parquet`, `walk-forward.json`, `config.toml`, then the marker.
fn write_outputs(out: &Path, cfg: &Config, o: &WalkForwardOutput) -> Result<(), WalkForwardError> {
    let p = out.join("folds.parquet");
    write_parquet(&p, folds_frame(&p, &o.folds)?)?;
    let p = out.join("equity.parquet");
    let mut cols = vec![time_column("timestamp", &o.ts)];
    cols.extend(o.stitched.iter().map(|s| Column::new(s.name.as_str().into(), &s.equity)));
    write_parquet(&p, frame(&p, cols)?)?;
    #[derive(Serialize)]
    struct Summary<'a> {
        quorum_version: &'a str,
        spec: &'a WalkForward,
        periods_per_year: f64,
        unused_tail_steps: usize,
        folds: &'a [FoldResult],
        stitched: &'a [Stitched],
    }
    let s = Summary {
        quorum_version: env!("CARGO_PKG_VERSION"),
        spec: &o.spec,
        periods_per_year: o.periods_per_year,
        unused_tail_steps: o.plan.unused_tail,
        folds: &o.folds,
        stitched: &o.stitched,
    };
    let json = serde_json::to_string_pretty(&s).expect("summary serializes");
    write_text(&out.join("walk-forward.json"), &(json + "\n"))?;
    write_text(&out.join("config.toml"), &cfg.to_toml())?;
    write_text(&out.join(MARKER), "")?;
    Ok(())
}

/// One row per fold and strategy.
fn folds_frame(path: &Path, folds: &[FoldResult]) -> Result<DataFrame, ReportError> {
    let rows: Vec<(&FoldResult, &crate::report::StrategyReport)> =
        folds.iter().flat_map(|f| f.strategies.iter().map(move |s| (f, s))).collect();
    let times = |pick: &dyn Fn(&FoldResult) -> &str| -> Vec<Ts> {
        rows.iter().map(|(f, _)| TimeBound::parse(pick(f)).map_or(0, |b| b.start())).collect()
    };
    let metric = |name: &str, pick: &dyn Fn(&crate::report::Metrics) -> f64| -> Column {
        Column::new(name.into(), rows.iter().map(|(_, s)| pick(&s.metrics)).collect::<Vec<f64>>())
    };
    let count = |name: &str, pick: &dyn Fn(&crate::report::Metrics) -> usize| -> Column {
        Column::new(name.into(), rows.iter().map(|(_, s)| pick(&s.metrics) as u64).collect::<Vec<u64>>())
    };
    frame(
        path,
        vec![
            Column::new("fold".into(), rows.iter().map(|(f, _)| f.fold.index as u32).collect::<Vec<u32>>()),
            Column::new("strategy".into(), rows.iter().map(|(_, s)| s.name.as_str()).collect::<Vec<&str>>()),
            time_column("train_from", &times(&|f| &f.train_from)),
            time_column("train_to", &times(&|f| &f.train_to)),
            time_column("learn_from", &times(&|f| &f.learn_from)),
            time_column("test_from", &times(&|f| &f.test_from)),
            time_column("test_to", &times(&|f| &f.test_to)),
            Column::new("test_bars".into(), rows.iter().map(|(f, _)| f.fold.test.len() as u64).collect::<Vec<u64>>()),
            metric("total_return", &|m| m.total_return),
            metric("sharpe", &|m| m.sharpe),
            metric("sortino", &|m| m.sortino),
            metric("max_drawdown", &|m| m.max_drawdown),
            metric("win_rate", &|m| m.win_rate),
            metric("profit_factor", &|m| m.profit_factor),
            count("trades", &|m| m.trades),
            count("fills", &|m| m.fills),
            metric("total_costs", &|m| m.total_costs),
            metric("final_equity", &|m| m.final_equity),
        ],
    )
}

/// The terminal summary: per strategy, the stitched out-of-sample figures.
pub fn render(o: &WalkForwardOutput) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f = &o.plan.folds;
    let _ = writeln!(
        s,
        "walk-forward: {} folds, train {} / test {} / step {}{}{}, embargo {} bars, memory {}",
        f.len(),
        o.spec.train,
        o.spec.test,
        o.spec.step.unwrap_or(o.spec.test),
        if o.spec.anchored { ", anchored" } else { "" },
        if o.plan.unused_tail > 0 {
            format!(", {} steps after the last test window unused", o.plan.unused_tail)
        } else {
            String::new()
        },
        o.spec.embargo,
        if o.spec.fresh_memory { "fresh per fold" } else { "carried forward" },
    );
    let _ = writeln!(
        s,
        "out of sample, the test windows stitched ({} bars):",
        f.iter().map(|x| x.test.len()).sum::<usize>()
    );
    let w = o.stitched.iter().map(|x| x.name.len()).max().unwrap_or(8).max(10) + 2;
    let _ = write!(s, "{:<24}", "");
    for x in &o.stitched {
        let _ = write!(s, "{:>w$}", x.name);
    }
    s.push('\n');
    let pct = |v: f64| if v.is_finite() { format!("{:.2}%", v * 100.0) } else { "–".into() };
    let num = |v: f64| if v.is_finite() { format!("{v:.2}") } else { "–".into() };
    type Cell<'a> = &'a dyn Fn(&Stitched) -> String;
    let rows: [(&str, Cell<'_>); 10] = [
        ("Total return", &|x| pct(x.total_return)),
        ("Sharpe", &|x| num(x.sharpe)),
        ("Sortino", &|x| num(x.sortino)),
        ("Max drawdown", &|x| pct(x.max_drawdown)),
        ("Volatility (ann.)", &|x| pct(x.volatility)),
        ("Folds positive", &|x| format!("{}/{}", x.positive_folds, f.len())),
        ("Mean fold return", &|x| pct(x.mean_fold_return)),
        ("Trades", &|x| x.trades.to_string()),
        ("Total costs", &|x| num(x.total_costs)),
        ("Final equity", &|x| num(x.final_equity)),
    ];
    for (label, cell) in rows {
        let _ = write!(s, "{label:<24}");
        for x in &o.stitched {
            let _ = write!(s, "{:>w$}", cell(x));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * 1_000_000_000;

    /// `days` days of `per_day` steps each.
    fn timeline(days: usize, per_day: usize) -> Timeline {
        let mut ts = Vec::new();
        let mut day = Vec::new();
        for d in 0..days {
            for k in 0..per_day {
                ts.push(d as i64 * DAY + k as i64 * 60_000_000_000);
                day.push(15_000 + d as i64);
            }
        }
        Timeline::with_days(ts, day)
    }

    fn spec(train: &str, test: &str) -> WalkForward {
        WalkForward {
            train: train.parse().unwrap(),
            test: test.parse().unwrap(),
            step: None,
            anchored: false,
            embargo: 0,
            fresh_memory: false,
        }
    }

    #[test]
    fn test_span_parse_and_errors() {
        assert_eq!("390b".parse::<Span>(), Ok(Span::Bars(390)));
        assert_eq!("3days".parse::<Span>(), Ok(Span::Days(3)));
        assert_eq!("2mo".parse::<Span>(), Ok(Span::Months(2)));
        assert_eq!(Span::Months(2).to_string(), "2mo");
        for bad in ["", "d", "0d", "3w", "-1d", "1.5d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?} accepted");
        }
        assert!("3w".parse::<Span>().unwrap_err().contains("unknown unit \"w\""));
    }

    /// Six days of 4 steps, 3 days to train, 1 to test: three folds, rolling, each test the
    /// day after its training, memory resuming where the last training ended.
    #[test]
    fn test_plan_rolling_days() {
        let tl = timeline(6, 4);
        let p = spec("3d", "1d").plan(&tl).unwrap();
        let got: Vec<_> = p.folds.iter().map(|f| (f.train.clone(), f.learn.clone(), f.test.clone())).collect();
        assert_eq!(got, vec![(0..12, 0..12, 12..16), (4..16, 12..16, 16..20), (8..20, 16..20, 20..24)]);
        assert_eq!(p.unused_tail, 0);
        let fresh =
            WalkForward { fresh_memory: true, anchored: true, embargo: 2, ..spec("3d", "1d") }.plan(&tl).unwrap();
        let got: Vec<_> = fresh.folds.iter().map(|f| (f.train.clone(), f.learn.clone(), f.test.clone())).collect();
        assert_eq!(got, vec![(0..10, 0..10, 12..16), (0..14, 0..14, 16..20), (0..18, 0..18, 20..24)]);
    }

    #[test]
    fn test_plan_refusals() {
        let many = spec("1b", "1b").plan(&timeline(1, 20_005)).unwrap_err();
        assert!(matches!(many, PlanError::TooMany { max: 10_000, .. }), "{many}");
        let tl = timeline(3, 4);
        assert!(matches!(spec("3d", "1d").plan(&tl), Err(PlanError::TooShort { steps: 12, days: 3, .. })));
        let e = WalkForward { embargo: 8, ..spec("2b", "1d") }.plan(&timeline(4, 4)).unwrap_err();
        assert!(matches!(e, PlanError::Embargo { embargo: 8, fold: 1, bars: 2 }), "{e}");
        let e = WalkForward { step: Some(Span::Bars(2)), ..spec("1d", "1d") }.plan(&timeline(4, 4)).unwrap_err();
        assert!(matches!(e, PlanError::Overlap { fold: 2, prev: 1, .. }), "{e}");
    }

    /// Months count calendar months with bars (the data's last one counts as whole); a test
    /// window the data cannot fill is dropped and its steps reported unused.
    #[test]
    fn test_plan_months_and_tail() {
        // 2011-01-01 is day 14975; 100 days, one step a day: January 31 days, February 28,
        // March 31, April 10.
        let ts: Vec<Ts> = (0..100).map(|d| (14_975 + d) * DAY).collect();
        let day: Vec<i64> = (0..100).map(|d| 14_975 + d).collect();
        let tl = Timeline::with_days(ts, day);
        let p = spec("1mo", "1mo").plan(&tl).unwrap();
        let tests: Vec<_> = p.folds.iter().map(|f| f.test.clone()).collect();
        assert_eq!(tests, vec![31..59, 59..90, 90..100]);
        assert_eq!(p.unused_tail, 0);
        let p = spec("1mo", "2mo").plan(&tl).unwrap();
        let tests: Vec<_> = p.folds.iter().map(|f| f.test.clone()).collect();
        assert_eq!(tests, vec![31..90], "February and March; April alone is not two months");
        assert_eq!(p.unused_tail, 10);
    }
}
