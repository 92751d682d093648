//! The backtest runner: config in, run folder out. Loads bars, runs the configured strategy
//! and buy-and-hold on the same bars with the same costs (two threads), computes metrics
//! and writes the artifacts. The CLI is a thin shell around [`backtest`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::config::{Config, ConfigError, StrategyName};
use crate::engine::{EngineConfig, RunResult, run};
use crate::market::session::{CRYPTO_DAYS_PER_YEAR, EQUITY_DAYS_PER_YEAR, NyClock, session_day};
use crate::market::{AssetClass, Bars, DataError, LoadReport, load};
use crate::report::artifacts::ReportError;
use crate::report::{Annualisation, RunSummary, StrategyReport, compute, write_run};
use crate::strategy::{BuyAndHold, SmaCross, Strategy, Universe};

/// Errors of a backtest run, by area.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad or missing data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Artifacts could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What a backtest returns to its caller.
#[derive(Debug)]
pub struct BacktestOutput {
    pub summary: RunSummary,
    pub run: RunResult,
    pub benchmark: RunResult,
    pub out_dir: PathBuf,
}

/// The annualisation for loaded bars: calendar bars per session where defined, else the
/// observed mean number of steps per session date; 365 days for crypto, 252 for equities.
pub fn annualisation(bars: &Bars, report: &LoadReport, override_ppy: Option<f64>) -> Annualisation {
    if let Some(n) = override_ppy {
        return Annualisation::fixed(n);
    }
    let crypto = report.asset_classes.contains(&AssetClass::Crypto);
    let days = if crypto { CRYPTO_DAYS_PER_YEAR } else { EQUITY_DAYS_PER_YEAR };
    let per_session = report.bars_per_session.unwrap_or_else(|| {
        let class = if crypto { AssetClass::Crypto } else { AssetClass::Equity };
        let mut clock = NyClock::new();
        let mut dates = BTreeSet::new();
        let mut steps = 0usize;
        for r in bars.steps() {
            steps += 1;
            dates.insert(session_day(&mut clock, class, bars.ts[r.start]));
        }
        steps as f64 / dates.len().max(1) as f64
    });
    Annualisation::new(days, per_session)
}

/// The strategy a config names.
pub fn make_strategy(cfg: &Config) -> Box<dyn Strategy + Send> {
    match cfg.strategy.name {
        StrategyName::SmaCross => Box::new(SmaCross::new(cfg.strategy.sma_cross)),
        StrategyName::BuyAndHold => Box::new(BuyAndHold::new()),
    }
}

/// Runs a whole backtest as `cfg` says and writes its run folder.
pub fn backtest(cfg: &Config, progress: &mut dyn FnMut(usize, usize)) -> Result<BacktestOutput, RunError> {
    cfg.validate()?;
    let (bars, report) = load(&cfg.load_options()?)?;
    let universe =
        Universe { symbols: bars.symbols.clone(), classes: report.asset_classes.clone(), interval: report.interval_ns };
    let engine = EngineConfig { portfolio: cfg.portfolio.clone(), costs: cfg.costs.clone() };
    let mut bench_engine = engine.clone();
    bench_engine.portfolio.flatten_at_close = false;
    let mut strategy = make_strategy(cfg);
    let (run_result, benchmark) = std::thread::scope(|s| {
        let bench = s.spawn(|| run(&bars, &universe, &mut BuyAndHold::new(), &bench_engine, &mut |_, _| {}));
        let main = run(&bars, &universe, &mut strategy, &engine, progress);
        (main, bench.join().expect("benchmark thread"))
    });
    let a = annualisation(&bars, &report, cfg.metrics.periods_per_year);
    let rf = cfg.metrics.risk_free_rate;
    let summary = RunSummary {
        quorum_version: env!("CARGO_PKG_VERSION").to_string(),
        data: report,
        annualisation: a,
        risk_free_rate: rf,
        strategies: vec![
            StrategyReport { name: run_result.strategy.clone(), metrics: compute(&run_result, &a, rf) },
            StrategyReport { name: "buy-and-hold".into(), metrics: compute(&benchmark, &a, rf) },
        ],
    };
    let out_dir = cfg.output.dir.clone();
    write_run(&out_dir, &summary, &run_result, &benchmark, &bars.symbols, &cfg.to_toml())?;
    Ok(BacktestOutput { summary, run: run_result, benchmark, out_dir })
}
