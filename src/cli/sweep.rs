//! `quorum sweep`: plan, run and merge shards (`quorum::research::sweep`), and the local
//! sweep, which runs the same protocol with child processes, `-j` at a time.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use quorum::Registry;
use quorum::market::TimeBound;
use quorum::research::sweep::{
    ShardOutcome, evaluate_holdout, merge, plan, render, render_holdout, run_shard, shard_index,
};

/// `quorum sweep GRID.toml`, or one step of the shard protocol.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The grid file (see README "Research at scale").
    pub grid: Option<PathBuf>,
    /// Sweep folder [default: runs/sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Shards run at once [default: the number of cores].
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Show progress even when stderr is not a terminal (a plain line per finished point).
    #[arg(long)]
    pub progress: bool,
    /// Keep the data from this date (YYYY-MM-DD or RFC 3339) out of every point.
    #[arg(long)]
    pub holdout_from: Option<TimeBound>,
    /// After the sweep, run its best point once on the held-out period and show both.
    #[arg(long, requires = "holdout_from")]
    pub evaluate_holdout: bool,
}

/// The shard protocol, for schedulers.
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Write the sweep folder: every point's config and manifest.parquet (one row per point
    /// and fold; one shard per point).
    Plan {
        /// The grid file.
        grid: PathBuf,
        /// Sweep folder to write.
        #[arg(long)]
        out: PathBuf,
        /// Keep the data from this date out of every point.
        #[arg(long)]
        holdout_from: Option<TimeBound>,
    },
    /// Run one shard: K from --shard, else JOB_COMPLETION_INDEX (Kubernetes), else
    /// SLURM_ARRAY_TASK_ID (Slurm). A shard whose result exists is skipped.
    Run {
        /// The sweep folder `sweep plan` wrote.
        dir: PathBuf,
        /// The shard (0-based).
        #[arg(long)]
        shard: Option<usize>,
    },
    /// Merge every shard's result into leaderboard.parquet (refuses a missing shard).
    Merge {
        /// The sweep folder.
        dir: PathBuf,
        /// Then run the best point once on the held-out period (planned with --holdout-from).
        #[arg(long)]
        evaluate_holdout: bool,
    },
}

/// Runs `quorum sweep`.
pub fn cmd_sweep(args: &SweepArgs) -> Result<()> {
    match &args.command {
        Some(SweepCommand::Plan { grid, out, holdout_from }) => {
            let p = plan(grid, out, holdout_from.as_ref()).context("sweep plan failed")?;
            println!("{}: {} points, {} folds each, {} shards", out.display(), p.points.len(), p.folds, p.shards());
            Ok(())
        }
        Some(SweepCommand::Run { dir, shard }) => {
            let k = shard_index(*shard)?;
            match run_shard(dir, k, &Registry::default()).with_context(|| format!("shard {k} failed"))? {
                ShardOutcome::Ran => println!("shard {k}: done"),
                ShardOutcome::Skipped => println!("shard {k}: already done (its result exists)"),
                ShardOutcome::Busy => println!("shard {k}: running in another process (its lock is held); left to it"),
            }
            Ok(())
        }
        Some(SweepCommand::Merge { dir, evaluate_holdout: holdout }) => {
            let board = merge(dir).context("sweep merge failed")?;
            print!("{}", render(&board, 20));
            println!("leaderboard: {}", dir.join("leaderboard.parquet").display());
            if *holdout {
                let h = evaluate_holdout(dir, &board, &Registry::default()).context("holdout evaluation failed")?;
                print!("{}", render_holdout(&h));
            }
            Ok(())
        }
        None => {
            let Some(grid) = &args.grid else { bail!("give a grid file (quorum sweep GRID.toml) or a subcommand") };
            let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("runs/sweep"));
            local(grid, &dir, args)
        }
    }
}

/// Where a child shard's stderr goes.
fn stderr_log(dir: &Path, k: usize) -> PathBuf {
    dir.join("shards").join(format!("shard-{k:04}.stderr"))
}

/// Plans, runs every shard as a child `quorum sweep run`, `jobs` at a time, and merges.
fn local(grid: &Path, dir: &Path, args: &SweepArgs) -> Result<()> {
    let (jobs, quiet, lines) = (args.jobs, args.quiet, args.progress);
    let started = Instant::now();
    let p = plan(grid, dir, args.holdout_from.as_ref()).context("sweep plan failed")?;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let n = p.shards();
    let exe = std::env::current_exe().context("cannot find the quorum executable")?;
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        let target =
            if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let pb = ProgressBar::with_draw_target(Some(n as u64), target);
        pb.set_style(
            ProgressStyle::with_template("{spinner} sweep {bar:40} {pos}/{len} points ({elapsed}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    };
    let mut running: Vec<(usize, Child)> = Vec::new();
    let mut next = 0;
    let mut failed: Option<(usize, String)> = None;
    while next < n || !running.is_empty() {
        while failed.is_none() && next < n && running.len() < jobs {
            // Each shard's stderr goes to a file beside its result (a pipe nobody reads
            // while another shard is awaited could fill and stall it).
            let log = stderr_log(dir, next);
            let err = std::fs::File::create(&log).with_context(|| format!("{}: cannot create", log.display()))?;
            let child = Command::new(&exe)
                .args(["sweep", "run"])
                .arg(dir)
                .args(["--shard", &next.to_string()])
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .context("cannot start a shard")?;
            running.push((next, child));
            next += 1;
        }
        if failed.is_some() && running.is_empty() {
            break;
        }
        // Whichever shard finishes first (a slow one does not hold the others' progress).
        let Some(i) = running.iter_mut().position(|(_, c)| matches!(c.try_wait(), Ok(Some(_)) | Err(_))) else {
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        };
        let (k, mut child) = running.remove(i);
        let status = child.wait().context("cannot wait for a shard")?;
        if !status.success() && failed.is_none() {
            let text = std::fs::read_to_string(stderr_log(dir, k)).unwrap_or_default();
            failed = Some((k, text.trim().to_string()));
        }
        pb.inc(1);
        if !quiet && lines && !std::io::stderr().is_terminal() {
            eprintln!("quorum: sweep {}/{n} points", pb.position());
        }
    }
    pb.finish_and_clear();
    if let Some((k, err)) = failed {
        bail!("shard {k} failed ({} points planned; finished shards are kept, rerun to resume):\n{err}", n);
    }
    let board = merge(dir).context("sweep merge failed")?;
    let holdout = if args.evaluate_holdout {
        Some(evaluate_holdout(dir, &board, &Registry::default()).context("holdout evaluation failed")?)
    } else {
        None
    };
    if !quiet {
        print!("{}", render(&board, 20));
        if let Some(h) = &holdout {
            print!("{}", render_holdout(h));
        }
        println!(
            "sweep folder: {}  ({} points × {} folds, {:.2?})",
            dir.display(),
            p.points.len(),
            p.folds,
            started.elapsed()
        );
    }
    Ok(())
}
