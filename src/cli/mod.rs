//! The command line (clap). Each subcommand maps flags onto the config and calls the
//! library; errors travel up as `anyhow` and are printed once by `main`.

mod backtest;
mod choice;
mod fetch;
mod memory;
mod paper;
mod report;
mod sweep;
mod walk_forward;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use backtest::{BacktestArgs, cmd_backtest};
use quorum::config::Config;

/// quorum: intraday multi-agent trading research.
#[derive(Debug, Parser)]
#[command(name = "quorum", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr (levels by RUST_LOG, e.g. RUST_LOG=debug): text or json.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

impl Cli {
    /// Logs as JSON lines (`--log-format json`).
    pub(crate) fn json_logs(&self) -> bool {
        self.log_format == "json"
    }

    /// `quorum backtest` (which gives freed memory back sooner, see `set_purge_delay`).
    pub(crate) fn is_backtest(&self) -> bool {
        matches!(self.command, Command::Backtest(_))
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a backtest and write a run folder (summary.json, equity/trades/fills.parquet, config.toml).
    Backtest(Box<BacktestArgs>),
    /// Walk-forward: train the analyst graph on a window, trade the next with the memory as
    /// it stood, move on; one run folder per fold and the out-of-sample curves stitched.
    #[command(mut_arg("out", |a| a.help("Walk-forward folder to write [default: runs/walk-forward]")))]
    WalkForward(Box<walk_forward::WalkForwardArgs>),
    /// Parameter sweeps: `sweep GRID.toml [-j N]` runs every point (each a backtest or a
    /// walk-forward) and prints a leaderboard with the Deflated Sharpe Ratio and PBO;
    /// `sweep plan|run|merge` are the same steps for a scheduler (Slurm, Kubernetes).
    Sweep(Box<sweep::SweepArgs>),
    /// Paper-trade the analyst graph on a replayed feed with a durable local broker and a
    /// crash-safe journal (`paper status` reads a state folder).
    Paper(Box<paper::PaperArgs>),
    /// Download bars from a vendor into a canonical Parquet file (`fetch alpaca`).
    #[command(subcommand)]
    Fetch(fetch::FetchCommand),
    /// Work with a memory checkpoint: ingest, search, stats, bench.
    #[command(subcommand)]
    Memory(memory::MemoryCommand),
    /// Show who earned what in a graph run folder (its attribution.json).
    Attribution {
        /// A run folder written by `quorum backtest` (the analyst graph).
        run_dir: PathBuf,
    },
    /// Write the HTML report of a run folder (RUN_DIR/report.html), or compare several runs
    /// on one page (./compare.html unless --out).
    Report(report::ReportArgs),
    /// Print the resolved configuration (defaults + --config file) as TOML.
    Config {
        /// Config file to resolve.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Dispatches a parsed command line.
pub(crate) fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Backtest(args) => cmd_backtest(&args),
        Command::WalkForward(args) => walk_forward::cmd_walk_forward(&args),
        Command::Sweep(args) => sweep::cmd_sweep(&args),
        Command::Memory(cmd) => memory::run(cmd),
        Command::Fetch(cmd) => fetch::run(cmd),
        Command::Paper(args) => paper::cmd_paper(&args),
        Command::Attribution { run_dir } => {
            quorum::run::check_complete(&run_dir)?;
            let p = run_dir.join("attribution.json");
            let text = std::fs::read_to_string(&p).map_err(|e| {
                anyhow::anyhow!("{}: cannot read ({e}); only analyst-graph runs write an attribution", p.display())
            })?;
            let att: quorum::report::attribution::AttributionFile =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            print!("{}", quorum::report::table::render_attribution(&att));
            Ok(())
        }
        Command::Report(args) => report::cmd_report(&args),
        Command::Config { config } => {
            let cfg = Config::load(config.as_deref())?;
            cfg.validate()?;
            print!("{}", cfg.to_toml());
            Ok(())
        }
    }
}
