//! `quorum walk-forward`: the backtest's flags plus the fold layout, the terminal summary.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::backtest::BacktestArgs;
use quorum::Registry;
use quorum::research::{Span, WalkForward, walk_forward::render, walk_forward::walk_forward};

/// Flags of `quorum walk-forward`.
#[derive(Debug, Args)]
pub struct WalkForwardArgs {
    /// Training window: bars, days or months, e.g. 780b, 3d, 2mo.
    #[arg(long)]
    pub train: Span,
    /// Test window, in the same units.
    #[arg(long)]
    pub test: Span,
    /// From one fold's start to the next [default: the test window].
    #[arg(long)]
    pub step: Option<Span>,
    /// Every training window starts at the first bar (with --fresh-memory; carried memory
    /// is anchored anyway).
    #[arg(long)]
    pub anchored: bool,
    /// Bars dropped from the end of every training window, between it and the test window.
    #[arg(long, default_value_t = 0)]
    pub embargo: usize,
    /// Train every fold from an empty memory (or --memory-from) instead of the last fold's.
    #[arg(long)]
    pub fresh_memory: bool,
    /// Keep the data from this date (YYYY-MM-DD or RFC 3339) out of every fold: a held-out
    /// final period for one last test (e.g. `quorum backtest --warmup-until DATE`).
    #[arg(long)]
    pub holdout_from: Option<quorum::market::TimeBound>,
    /// The backtest's flags: data, config, costs, analysts. --out names the walk-forward
    /// folder [default: runs/walk-forward].
    #[command(flatten)]
    pub run: BacktestArgs,
}

/// Runs `quorum walk-forward`.
pub fn cmd_walk_forward(args: &WalkForwardArgs) -> Result<()> {
    let mut cfg = args.run.resolve()?;
    if args.run.out.is_none() {
        cfg.output.dir = "runs/walk-forward".into();
    }
    if let Some(h) = &args.holdout_from {
        quorum::research::hold_out(&mut cfg, h);
    }
    let spec = WalkForward {
        train: args.train,
        test: args.test,
        step: args.step,
        anchored: args.anchored,
        embargo: args.embargo,
        fresh_memory: args.fresh_memory,
    };
    if args.anchored && !args.fresh_memory && !args.run.quiet {
        eprintln!(
            "quorum: note: with memory carried forward, training is anchored anyway; --anchored changes only the \
             reported windows (add --fresh-memory to train each fold on its own window)"
        );
    }
    let started = Instant::now();
    let show = !args.run.quiet && (args.run.progress || std::io::stderr().is_terminal());
    let mut progress = |line: &str| {
        if show {
            eprintln!("quorum: {line}");
        }
    };
    let out = walk_forward(&cfg, &spec, &Registry::default(), &mut progress).context("walk-forward failed")?;
    if !args.run.quiet {
        print!("{}", render(&out));
        println!("walk-forward folder: {}  ({:.2?})", out.out_dir.display(), started.elapsed());
    }
    Ok(())
}
