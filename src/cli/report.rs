//! `quorum report`: the HTML report of a run folder, or several runs compared.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

/// Flags of `quorum report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folders written by `quorum backtest`. One: its report (RUN_DIR/report.html).
    /// Several: one page comparing them (equity curves, metrics, config differences).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The HTML file to write [default: RUN_DIR/report.html for one run, ./compare.html
    /// for several]. An existing file is overwritten only if it is an HTML page.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write each chart as a PNG into this folder (rendered with the system fonts).
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
}

/// Runs `quorum report`.
pub fn cmd_report(args: &ReportArgs) -> Result<()> {
    let started = Instant::now();
    let written = quorum::report::html::report(&args.runs, args.out.as_deref(), args.png.as_deref())?;
    for w in &written.warnings {
        eprintln!("warning: {w}");
    }
    println!("report: {} ({:.1} KB, {:.2?})", written.path.display(), written.bytes as f64 / 1024.0, started.elapsed());
    if let Some(dir) = &args.png {
        println!("{} PNG charts in {}", written.pngs.len(), dir.display());
    }
    Ok(())
}
