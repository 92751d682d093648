//! Run configuration: TOML files in `config/`, overridden by CLI flags.
//!
//! Precedence: built-in defaults (identical to `config/default.toml`, a test checks it) ←
//! a `--config FILE` (partial files allowed: missing keys keep their defaults) ← flags.
//! Values are parsed when the file is read: times (`data.from`, `graph.warmup_until`) are
//! [`TimeBound`]s and timeframes (`data.resample`) [`Timeframe`]s, not strings carried
//! along. Unknown keys and unparsable values are errors naming the file, the key's path
//! (`data.from`) and the line (serde `deny_unknown_fields`, `serde_path_to_error`);
//! out-of-range values are errors naming the key and value ([`Config::validate`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::composer::ComposerConfig;
use crate::error::InvalidValue;
use crate::market::LoadOptions;
use crate::market::Split;
use crate::market::session::default_crypto_quotes;
use crate::market::time::{TimeBound, Timeframe};
use crate::market::{BadRowPolicy, SessionMode};
use crate::memory::MemoryParams;
use crate::portfolio::{CostConfig, PortfolioConfig};
use crate::strategy::SmaParams;

/// Errors of the configuration area.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read config")]
    Io {
        /// The config file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown key, wrong type, unparsable
    /// time, ...); `key` is the path of the table or value where it failed.
    #[error("{path}: {key}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// Path of the failing table or value (e.g. `data.from`), or `(document)`.
        key: String,
        /// The TOML parser's message (with the line).
        message: String,
    },
    /// A value is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
}

/// Result of the configuration area.
pub type Result<T> = std::result::Result<T, ConfigError>;

/// Which strategy a backtest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyName {
    /// The analyst graph: analyst actors, shared memory, composer.
    #[default]
    Graph,
    /// SMA(fast) / SMA(slow) crossover.
    SmaCross,
    /// Equal-weight buy-and-hold.
    BuyAndHold,
}

/// How a graph run computes its analysts' Shapley values (`report::shapley`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapleyMode {
    /// Not computed.
    Off,
    /// Each coalition re-runs the composer and portfolio over the logged votes (fast).
    #[default]
    Replay,
    /// Replay, and each coalition also re-runs the whole graph with its own memory.
    Full,
}

/// `[data]`: what bars to load and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A bar file (.csv or .parquet) or a folder of them; relative to the working directory.
    pub path: PathBuf,
    /// Keep only these symbols; empty keeps all (CLI `--symbols`).
    pub symbols: Vec<String>,
    /// Start, inclusive (a date: that UTC day's midnight).
    pub from: Option<TimeBound>,
    /// End, exclusive (a date: the whole UTC day included).
    pub to: Option<TimeBound>,
    /// Time-of-day filter: regular session for equities, or every bar.
    pub session: SessionMode,
    /// Resample to this coarser timeframe (e.g. `5m`); `None` keeps the source's.
    pub resample: Option<Timeframe>,
    /// Stop at the first bad row, or skip bad rows and count them by reason.
    pub on_bad_row: BadRowPolicy,
    /// Folder of Lean factor files (`<symbol>.csv`) whose split factors back-adjust bars.
    pub factor_files: Option<PathBuf>,
    /// Explicit splits, applied to bars before each ex-date (prices / ratio, volume × ratio).
    pub splits: Vec<Split>,
    /// Run even when a split is detected that no adjustment covers (it is then traded as a
    /// price move, with a warning). Off by default: such a run is wrong.
    pub allow_unadjusted: bool,
    /// Quote suffixes that mark a symbol as crypto (24/7, 365 days a year), e.g. `USDT`.
    pub crypto_quotes: Vec<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            path: PathBuf::from("data/bars"),
            symbols: Vec::new(),
            from: None,
            to: None,
            session: SessionMode::Auto,
            resample: None,
            on_bad_row: BadRowPolicy::Fail,
            factor_files: None,
            splits: Vec::new(),
            allow_unadjusted: false,
            crypto_quotes: default_crypto_quotes(),
        }
    }
}

/// `[strategy]`: which strategy and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Which strategy the backtest runs (`graph`, `sma-cross`, `buy-and-hold`).
    pub name: StrategyName,
    /// Windows of the SMA crossover (`[strategy.sma_cross]`).
    pub sma_cross: SmaParams,
}

/// `[graph]`: the analyst graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    /// Folder of analyst profiles (`*.toml`).
    pub agents_dir: PathBuf,
    /// Run only this analyst (its profile may be disabled).
    pub only: Option<String>,
    /// A news file (timestamp,tickers,source,headline) for the Sentiment analyst.
    pub news: Option<PathBuf>,
    /// Smallest |direction| of a vote that is judged by the learning loop.
    pub min_vote: f64,
    /// Warm memory (and weights) until this time; report metrics only after it.
    pub warmup_until: Option<TimeBound>,
    /// Start from a saved memory checkpoint instead of an empty memory.
    pub memory_from: Option<PathBuf>,
    /// Shapley values of the analysts: off, replay (every run) or full (and replay).
    pub shapley: ShapleyMode,
    /// Also run the memory ablation (`no-recall`: the analysts without recall).
    pub ablation: bool,
    /// Where the analyst actors run: on the driver's thread (`shared`) or an arbiter
    /// (thread) each (`spread`).
    pub actors: ActorPlacement,
}

/// Where the analyst actors run (`graph.actors`; see `engine::graph::actors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorPlacement {
    /// On the driver's thread: no cross-thread wake-up per message.
    #[default]
    Shared,
    /// One arbiter (thread) per analyst: analysts recall in parallel.
    Spread,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            agents_dir: PathBuf::from("agents"),
            only: None,
            news: None,
            min_vote: 0.05,
            warmup_until: None,
            memory_from: None,
            shapley: ShapleyMode::Replay,
            ablation: true,
            actors: ActorPlacement::Shared,
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Annual risk-free rate for Sharpe and Sortino.
    pub risk_free_rate: f64,
    /// Override the calendar-derived periods per year.
    pub periods_per_year: Option<f64>,
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Run folder.
    pub dir: PathBuf,
    /// Write `report.html` into the run folder (`--no-report` turns it off).
    pub report: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { dir: PathBuf::from("runs/latest"), report: true }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[data]`: what bars to load and how.
    pub data: DataConfig,
    /// `[portfolio]`: starting cash, position and gross limits, shorting, end-of-day flattening.
    pub portfolio: PortfolioConfig,
    /// `[costs]`: commission, slippage, impact and participation limits.
    pub costs: CostConfig,
    /// `[strategy]`: which strategy and its parameters.
    pub strategy: StrategyConfig,
    /// `[metrics]`: risk-free rate and periods per year.
    pub metrics: MetricsConfig,
    /// `[output]`: the run folder.
    pub output: OutputConfig,
    /// `[memory]`: parameters of the shared memory store.
    pub memory: MemoryParams,
    /// `[graph]`: the analyst graph (profiles, news, learning threshold, warm-up).
    pub graph: GraphConfig,
    /// `[composer]`: how analyst votes are weighted into targets.
    pub composer: ComposerConfig,
    /// `[alpaca]`: Alpaca's URLs and the client's limits (`quorum paper --broker alpaca`).
    pub alpaca: crate::alpaca::AlpacaConfig,
}

fn check(ok: bool, key: &str, value: impl std::fmt::Display, reason: &str) -> Result<()> {
    if ok { Ok(()) } else { Err(InvalidValue::new(key, value, reason).into()) }
}

impl Config {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config> {
        let parse_err = |key: String, e: toml::de::Error| ConfigError::Parse {
            path: origin.to_path_buf(),
            key,
            message: e.to_string().trim_end().to_string(),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| parse_err("(document)".into(), e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            parse_err(key, e.into_inner())
        })
    }

    /// Reads a config file (defaults when `None`).
    pub fn load(path: Option<&Path>) -> Result<Config> {
        match path {
            None => Ok(Config::default()),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Io { path: p.to_path_buf(), source })?;
                Config::from_toml(&text, p)
            }
        }
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }

    /// Checks every range; the error names the key and value.
    pub fn validate(&self) -> Result<()> {
        let p = &self.portfolio;
        check(
            p.initial_cash.is_finite() && p.initial_cash > 0.0,
            "portfolio.initial_cash",
            p.initial_cash,
            "must be > 0",
        )?;
        check(
            p.max_position > 0.0 && p.max_position <= 10.0,
            "portfolio.max_position",
            p.max_position,
            "must be in (0, 10] (fraction of equity)",
        )?;
        check(p.max_gross > 0.0 && p.max_gross <= 10.0, "portfolio.max_gross", p.max_gross, "must be in (0, 10]")?;
        let c = &self.costs;
        for (key, v) in [
            ("costs.commission_bps", c.commission_bps),
            ("costs.commission_per_share", c.commission_per_share),
            ("costs.commission_min", c.commission_min),
            ("costs.slippage_bps", c.slippage_bps),
            ("costs.impact_bps", c.impact_bps),
        ] {
            check(v.is_finite() && v >= 0.0, key, v, "must be a finite number >= 0")?;
        }
        check(
            c.max_participation > 0.0 && c.max_participation <= 1.0,
            "costs.max_participation",
            c.max_participation,
            "must be in (0, 1]",
        )?;
        let s = &self.strategy.sma_cross;
        check(s.fast >= 1, "strategy.sma_cross.fast", s.fast, "must be >= 1")?;
        check(s.slow > s.fast, "strategy.sma_cross.slow", s.slow, "must be greater than strategy.sma_cross.fast")?;
        let m = &self.metrics;
        check(
            m.risk_free_rate.is_finite() && m.risk_free_rate > -1.0 && m.risk_free_rate < 1.0,
            "metrics.risk_free_rate",
            m.risk_free_rate,
            "must be in (-1, 1) (annual, 0.05 = 5%)",
        )?;
        if let Some(n) = m.periods_per_year {
            check(n.is_finite() && n > 0.0, "metrics.periods_per_year", n, "must be > 0")?;
        }
        self.memory.validate()?;
        self.composer.validate()?;
        self.alpaca.validate()?;
        let g = &self.graph;
        check(
            g.min_vote.is_finite() && (0.0..1.0).contains(&g.min_vote),
            "graph.min_vote",
            g.min_vote,
            "must be in [0, 1)",
        )?;
        for (i, sp) in self.data.splits.iter().enumerate() {
            check(sp.ratio.is_finite() && sp.ratio > 0.0, &format!("data.splits[{i}].ratio"), sp.ratio, "must be > 0")?;
        }
        self.load_options().map(|_| ())
    }

    /// The warm-up end time, if any.
    pub fn warmup_until(&self) -> Option<i64> {
        self.graph.warmup_until.as_ref().map(TimeBound::start)
    }

    /// The loader options this config describes.
    pub fn load_options(&self) -> Result<LoadOptions> {
        let d = &self.data;
        let from = d.from.as_ref().map(TimeBound::start);
        let to = d.to.as_ref().map(TimeBound::end);
        if let (Some(f), Some(t), Some(text)) = (from, to, &d.to) {
            check(f < t, "data.to", format!("{:?}", text.as_str()), "must be after data.from")?;
        }
        Ok(LoadOptions {
            path: d.path.clone(),
            on_bad_row: d.on_bad_row,
            symbols: d.symbols.clone(),
            from,
            to,
            session: d.session,
            resample: d.resample.as_ref().map(Timeframe::ns),
            splits: d.splits.clone(),
            factor_files: d.factor_files.clone(),
            allow_unadjusted: d.allow_unadjusted,
            crypto_quotes: d.crypto_quotes.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_default_toml_file_equals_builtin_defaults() {
        let text = include_str!("../config/default.toml");
        let cfg = Config::from_toml(text, Path::new("config/default.toml")).unwrap();
        assert_eq!(cfg, Config::default());
        cfg.validate().unwrap();
    }

    #[test]
    fn test_unknown_key_is_named() {
        let e = Config::from_toml("[costs]\nslipage_bps = 2\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(e.contains("slipage_bps") && e.contains("x.toml"), "{e}");
    }

    #[test]
    fn test_out_of_range_values_are_named() {
        let cases: [(&str, &str); 6] = [
            ("[costs]\nslippage_bps = -1\n", "costs.slippage_bps"),
            ("[costs]\nmax_participation = 0\n", "costs.max_participation"),
            ("[portfolio]\ninitial_cash = 0\n", "portfolio.initial_cash"),
            ("[strategy.sma_cross]\nfast = 50\nslow = 20\n", "strategy.sma_cross.slow"),
            ("[data]\nfrom = \"2013-10-09\"\nto = \"2013-10-08\"\n", "data.to"),
            ("[composer]\nfloor = 0\n", "composer.floor"),
        ];
        for (text, key) in cases {
            let cfg = Config::from_toml(text, Path::new("x.toml")).unwrap();
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn test_times_and_timeframes_parsed_when_read() {
        let cfg = Config::from_toml(
            "[data]\nfrom = \"2013-10-07\"\nresample = \"5m\"\n[graph]\nwarmup_until = \"2013-10-08T14:00:00Z\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(cfg.data.resample.as_ref().map(Timeframe::ns), Some(5 * crate::market::time::NS_PER_MIN));
        assert_eq!(cfg.warmup_until(), crate::market::time::parse_rfc3339("2013-10-08T14:00:00Z"));
        assert!(cfg.to_toml().contains("from = \"2013-10-07\""), "written back as given");
        let cases: [(&str, &str); 3] = [
            ("[data]\nfrom = \"last tuesday\"\n", "data.from"),
            ("[data]\nresample = \"5x\"\n", "data.resample"),
            ("\n[graph]\nwarmup_until = \"soon\"\n", "graph.warmup_until"),
        ];
        for (text, key) in cases {
            let e = Config::from_toml(text, Path::new("x.toml")).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("x.toml") && e.contains("line"), "{text}: {e}");
        }
    }

    #[test]
    fn test_partial_file_keeps_defaults_and_roundtrips() {
        let cfg = Config::from_toml("[portfolio]\nallow_short = false\n", Path::new("x.toml")).unwrap();
        assert!(!cfg.portfolio.allow_short);
        assert_eq!(cfg.costs, CostConfig::default());
        let back = Config::from_toml(&cfg.to_toml(), Path::new("y.toml")).unwrap();
        assert_eq!(back, cfg);
    }

    /// Every key of every section of `config/default.toml`, set alone (at its default) in a
    /// file, loads and validates: any subset of any table may be given, layers included.
    #[test]
    fn test_every_key_alone_loads() {
        let text = include_str!("../config/default.toml");
        let doc: toml::Table = text.parse().unwrap();
        fn walk(path: &[String], t: &toml::Table, out: &mut Vec<String>) {
            for (k, v) in t {
                match v {
                    toml::Value::Table(sub) => {
                        walk(&[path, std::slice::from_ref(k)].concat(), sub, out);
                    }
                    _ if path.is_empty() => out.push(format!("{k} = {v}\n")),
                    _ => out.push(format!("[{}]\n{k} = {v}\n", path.join("."))),
                }
            }
        }
        let mut files = Vec::new();
        walk(&[], &doc, &mut files);
        assert!(files.len() > 60, "{}", files.len());
        for f in &files {
            let cfg = Config::from_toml(f, Path::new("one.toml")).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(cfg, Config::default(), "{f}");
            cfg.validate().unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        let cfg = Config::from_toml("[memory.short]\ncapacity = 7\n", Path::new("x.toml")).unwrap();
        assert_eq!(cfg.memory.short.capacity, 7);
        assert_eq!(cfg.memory.short.recency_hours, crate::memory::MemoryParams::default().short.recency_hours);
    }
}
