//! `quorum backtest`: flags onto the config, the runner, the summary table.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::choice::{BAD_ROWS, COMPOSERS, SESSIONS, SHAPLEY, STRATEGIES, choice};
use quorum::config::{Config, StrategyName};
use quorum::engine::{Phase, backtest};
use quorum::market::time::{TimeBound, Timeframe};
use quorum::market::{BadRowPolicy, SessionMode};
use quorum::report::table::render;

/// Flags of `quorum backtest`; each overrides its config key.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Bar file or folder (data.path) [default: data/bars]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// TOML config file (see config/default.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder to write (output.dir) [default: runs/latest]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Comma-separated symbols to keep (data.symbols).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,
    /// Start, inclusive: YYYY-MM-DD or RFC 3339 (data.from).
    #[arg(long)]
    pub from: Option<TimeBound>,
    /// End: YYYY-MM-DD (whole day included) or RFC 3339, exclusive (data.to).
    #[arg(long)]
    pub to: Option<TimeBound>,
    /// Strategy to run (strategy.name).
    #[arg(long, value_parser = choice(STRATEGIES))]
    pub strategy: Option<StrategyName>,
    /// SMA fast window in bars (strategy.sma_cross.fast).
    #[arg(long)]
    pub fast: Option<usize>,
    /// SMA slow window in bars (strategy.sma_cross.slow).
    #[arg(long)]
    pub slow: Option<usize>,
    /// Resample to a timeframe such as 5m, 15m, 1h (data.resample).
    #[arg(long)]
    pub resample: Option<Timeframe>,
    /// Session filter (data.session).
    #[arg(long, value_parser = choice(SESSIONS))]
    pub session: Option<SessionMode>,
    /// What to do with bad rows (data.on_bad_row).
    #[arg(long, value_parser = choice(BAD_ROWS))]
    pub on_bad_row: Option<BadRowPolicy>,
    /// Folder of Lean factor files for split adjustment (data.factor_files).
    #[arg(long)]
    pub factor_files: Option<PathBuf>,
    /// Run even if a split is left unadjusted, trading it as a price move (data.allow_unadjusted).
    #[arg(long)]
    pub allow_unadjusted: bool,
    /// Starting cash (portfolio.initial_cash).
    #[arg(long, allow_negative_numbers = true)]
    pub cash: Option<f64>,
    /// Forbid short positions (portfolio.allow_short = false).
    #[arg(long)]
    pub long_only: bool,
    /// Flatten equities before each session close (portfolio.flatten_at_close = true).
    #[arg(long)]
    pub flatten_at_close: bool,
    /// Composer weighting (composer.mode).
    #[arg(long, value_parser = choice(COMPOSERS))]
    pub composer: Option<quorum::composer::ComposerMode>,
    /// Run a single analyst by name (graph.only): a profile name in the agents folder; the
    /// shipped ones are hedge, liquidity, markov, markov_slow, sentiment, wyckoff.
    #[arg(long)]
    pub only: Option<String>,
    /// Folder of analyst profiles (graph.agents_dir).
    #[arg(long)]
    pub agents: Option<PathBuf>,
    /// News file for the Sentiment analyst (graph.news).
    #[arg(long)]
    pub news: Option<PathBuf>,
    /// Warm memory until this time, report after it (graph.warmup_until).
    #[arg(long)]
    pub warmup_until: Option<TimeBound>,
    /// Start from a memory checkpoint, e.g. an earlier run's memory/ (graph.memory_from).
    #[arg(long)]
    pub memory_from: Option<PathBuf>,
    /// Shapley values of the analysts (graph.shapley).
    #[arg(long, value_parser = choice(SHAPLEY))]
    pub shapley: Option<quorum::config::ShapleyMode>,
    /// Skip the memory ablation column `no-recall` (graph.ablation = false).
    #[arg(long)]
    pub no_ablation: bool,
    /// Do not write report.html into the run folder (output.report = false).
    #[arg(long)]
    pub no_report: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Show progress even when stderr is not a terminal (plain lines, at most one a second).
    #[arg(long)]
    pub progress: bool,
}

impl BacktestArgs {
    /// The config file overridden by these flags (not yet validated).
    pub fn resolve(&self) -> Result<Config> {
        let mut cfg = Config::load(self.config.as_deref())?;
        let d = &mut cfg.data;
        if let Some(v) = &self.data {
            d.path = v.clone();
        }
        if let Some(v) = &self.symbols {
            d.symbols = v.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        if let Some(v) = &self.from {
            d.from = Some(v.clone());
        }
        if let Some(v) = &self.to {
            d.to = Some(v.clone());
        }
        if let Some(v) = &self.resample {
            d.resample = Some(v.clone());
        }
        if let Some(v) = self.session {
            d.session = v;
        }
        if let Some(v) = self.on_bad_row {
            d.on_bad_row = v;
        }
        if let Some(v) = &self.factor_files {
            d.factor_files = Some(v.clone());
        }
        if self.allow_unadjusted {
            d.allow_unadjusted = true;
        }
        if let Some(v) = &self.out {
            cfg.output.dir = v.clone();
        }
        if self.no_report {
            cfg.output.report = false;
        }
        if let Some(v) = self.strategy {
            cfg.strategy.name = v;
        }
        if let Some(v) = self.fast {
            cfg.strategy.sma_cross.fast = v;
        }
        if let Some(v) = self.slow {
            cfg.strategy.sma_cross.slow = v;
        }
        if let Some(v) = self.cash {
            cfg.portfolio.initial_cash = v;
        }
        if self.long_only {
            cfg.portfolio.allow_short = false;
        }
        if self.flatten_at_close {
            cfg.portfolio.flatten_at_close = true;
        }
        if let Some(v) = self.composer {
            cfg.composer.mode = v;
        }
        let g = &mut cfg.graph;
        if let Some(v) = &self.only {
            g.only = Some(v.clone());
        }
        if let Some(v) = &self.agents {
            g.agents_dir = v.clone();
        }
        if let Some(v) = &self.news {
            g.news = Some(v.clone());
        }
        if let Some(v) = &self.warmup_until {
            g.warmup_until = Some(v.clone());
        }
        if let Some(v) = &self.memory_from {
            g.memory_from = Some(v.clone());
        }
        if let Some(v) = self.shapley {
            g.shapley = v;
        }
        if self.no_ablation {
            g.ablation = false;
        }
        Ok(cfg)
    }
}

/// What the user sees while a backtest runs, in three phases: loading (a spinner), the bar
/// loop (a bar with bars/s and an ETA, updated every 1,024 steps, a few times a second at
/// the graph's speed; the ETA is measured from the first step, not from the start of
/// loading), then baselines, artifacts and the memory checkpoint (a spinner). On a terminal
/// by default; when stderr is not a terminal, nothing unless `--progress`, which then prints
/// a plain line at most once a second.
enum Progress {
    Hidden,
    Bar { pb: ProgressBar, running: bool },
    Lines { started: Option<Instant>, last: Instant },
}

impl Progress {
    fn new(quiet: bool, forced: bool, what: &str) -> Progress {
        if quiet {
            return Progress::Hidden;
        }
        if !std::io::stderr().is_terminal() {
            return if forced {
                eprintln!("quorum: loading {what}");
                Progress::Lines { started: None, last: Instant::now() }
            } else {
                Progress::Hidden
            };
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        as_spinner(&pb, &format!("loading {what}"));
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress::Bar { pb, running: false }
    }

    fn tick(&mut self, phase: Phase, done: usize, total: usize) {
        if phase == Phase::Coalitions {
            return self.coalitions(done, total);
        }
        match self {
            Progress::Hidden => {}
            Progress::Bar { pb, running } => {
                if !*running && done < total {
                    *running = true;
                    as_bar(pb, "{spinner} running {bar:40} {pos}/{len} bars ({per_sec}, eta {eta})", total);
                }
                pb.set_position(done as u64);
                if *running && done >= total {
                    *running = false;
                    as_spinner(pb, "baselines, artifacts, memory checkpoint");
                }
            }
            Progress::Lines { started, last } => {
                let t0 = *started.get_or_insert_with(Instant::now);
                if (last.elapsed().as_secs_f64() >= 1.0 && done > 0) || done >= total {
                    *last = Instant::now();
                    let secs = t0.elapsed().as_secs_f64().max(1e-9);
                    let rate = done as f64 / secs;
                    let eta = if rate > 0.0 { (total - done.min(total)) as f64 / rate } else { f64::NAN };
                    eprintln!("quorum: {done}/{total} bars ({:.0} bars/s, eta {eta:.0}s)", rate);
                    if done >= total {
                        eprintln!("quorum: baselines, artifacts, memory checkpoint");
                    }
                }
            }
        }
    }

    /// Full-mode Shapley: one tick per coalition whose whole graph has run.
    fn coalitions(&mut self, done: usize, total: usize) {
        match self {
            Progress::Hidden => {}
            Progress::Bar { pb, .. } => {
                if done == 0 {
                    as_bar(pb, "{spinner} Shapley (full mode) {bar:40} {pos}/{len} coalitions (eta {eta})", total);
                }
                pb.set_position(done as u64);
                if done >= total {
                    as_spinner(pb, "artifacts, memory checkpoint");
                }
            }
            Progress::Lines { .. } => eprintln!("quorum: Shapley (full mode) {done}/{total} coalitions"),
        }
    }

    fn finish(self) {
        if let Progress::Bar { pb, .. } = self {
            pb.finish_and_clear();
        }
    }
}

/// Turns `pb` into a bar of `total` drawn with `template`, its ETA measured from now.
fn as_bar(pb: &ProgressBar, template: &str, total: usize) {
    pb.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    pb.set_length(total as u64);
    pb.reset_eta();
}

/// Turns `pb` into a spinner showing `message` and the time elapsed.
fn as_spinner(pb: &ProgressBar, message: &str) {
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(message.to_string());
}

/// Runs `quorum backtest`.
pub fn cmd_backtest(args: &BacktestArgs) -> Result<()> {
    let cfg = args.resolve()?;
    let started = Instant::now();
    let mut progress = Progress::new(args.quiet, args.progress, &cfg.data.path.display().to_string());
    let mut tick = |phase: Phase, done: usize, total: usize| progress.tick(phase, done, total);
    let out = backtest(&cfg, &mut tick);
    progress.finish();
    let out = out.context("backtest failed")?;
    if !args.quiet {
        print!("{}", render(&out.summary));
        println!("run folder: {}  ({:.2?})", out.out_dir.display(), started.elapsed());
    }
    Ok(())
}
