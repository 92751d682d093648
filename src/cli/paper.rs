//! `quorum paper`: the analyst graph trading a live feed (a replayed file for now) with a
//! durable local broker, journaled in a state folder; `quorum paper status` reads one.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::backtest::BacktestArgs;
use quorum::market::time::format_ts;
use quorum::paper::{PaperOptions, PaperStatus, Source, Venue, paper, status_report, stop_clock};
use quorum::report::table::render;

/// Flags of `quorum paper`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PaperArgs {
    #[command(subcommand)]
    action: Option<PaperAction>,
    /// Where bars come from: `replay:FILE` plays a bar file (or folder) step by step;
    /// `alpaca` polls Alpaca's bars of --symbols live (interval from --resample, 1m when
    /// unset; history from --from warms the analysts up; keys from APCA_API_KEY_ID and
    /// APCA_API_SECRET_KEY).
    #[arg(long)]
    feed: Option<String>,
    /// Replay speed: N× wall time (60 plays a minute of bars a second); as fast as possible
    /// when omitted.
    #[arg(long)]
    speed: Option<f64>,
    /// Where orders go: `local` (the backtest's fill model with a durable book in --state)
    /// or `alpaca` (the trading API at alpaca.trading_url, paper by default; keys from
    /// APCA_API_KEY_ID and APCA_API_SECRET_KEY).
    #[arg(long, default_value = "local", value_parser = ["local", "alpaca"])]
    broker: String,
    /// State folder: journal.db, broker.db, memory/, run/. The same command on an existing
    /// folder resumes the run.
    #[arg(long)]
    state: Option<PathBuf>,
    /// On Ctrl-C or SIGTERM, close every position (at the next bars' opens) before exiting.
    #[arg(long)]
    flatten_on_exit: bool,
    /// POST a JSON message (Slack-compatible `text`, plus structured fields) to this URL on
    /// every fill, reject, error, feed outage and reconnection, and a summary each session
    /// day; a failed post is logged and never stops trading.
    #[arg(long, value_name = "URL")]
    notify_webhook: Option<String>,
    /// Save the memory checkpoint every N steps (and at the end).
    #[arg(long, default_value_t = 390)]
    checkpoint_every: u64,
    /// The backtest's flags (config, symbols, dates, composer, analysts, --memory-from …);
    /// `--data` and `--out` are replaced by `--feed` and `--state`.
    #[command(flatten)]
    run: BacktestArgs,
}

#[derive(Debug, Subcommand)]
enum PaperAction {
    /// Show a state folder: steps, equity, positions, orders, fills, checkpoint, events.
    Status {
        /// The state folder of a paper run.
        #[arg(long)]
        state: PathBuf,
    },
}

/// Runs `quorum paper` or `quorum paper status`.
pub fn cmd_paper(args: &PaperArgs) -> Result<()> {
    if let Some(PaperAction::Status { state }) = &args.action {
        print!("{}", status_report(state)?);
        return Ok(());
    }
    let Some(feed) = &args.feed else { bail!("--feed is required: --feed replay:FILE or --feed alpaca") };
    let file = match (feed.strip_prefix("replay:"), feed.as_str()) {
        (Some(file), _) => Some(file),
        (None, "alpaca") => None,
        _ => bail!(
            "--feed {feed:?}: expected replay:FILE (a bar file or folder, played step by step) or alpaca (live bars)"
        ),
    };
    let Some(state) = &args.state else { bail!("--state DIR is required: the folder that holds the run's journal") };
    if args.run.data.is_some() {
        bail!("--data: a paper run reads its bars from --feed (replay:FILE or alpaca)");
    }
    if file.is_none() && args.speed.is_some() {
        bail!("--speed: a live feed runs at the market's pace (--speed paces a replay)");
    }
    if args.run.out.is_some() {
        bail!("--out: a paper run writes its run folder to STATE/run");
    }
    if let Some(s) = args.speed
        && !(s.is_finite() && s > 0.0)
    {
        bail!("--speed {s}: must be a positive number (omit it to replay as fast as possible)");
    }
    let mut cfg = args.run.resolve()?;
    // A live run's config names its feed (the journal's identity is the config).
    cfg.data.path = PathBuf::from(file.unwrap_or("alpaca"));
    cfg.output.dir = state.join("run");
    let opts = PaperOptions {
        state: state.clone(),
        speed: args.speed,
        flatten_on_exit: args.flatten_on_exit,
        checkpoint_every: args.checkpoint_every,
        notify_webhook: args.notify_webhook.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once (the journal is consistent anyway).
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .context("cannot install signal handlers")?;
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handlers")?;
    }
    let started = Instant::now();
    let mut line = StatusLine::new(args.run.quiet, args.run.progress);
    let source = match file {
        Some(_) => Source::Replay,
        None => {
            cfg.validate()?;
            let keys = quorum::alpaca::Keys::from_env()?;
            Source::Alpaca(Box::new(quorum::alpaca::Http::new(cfg.alpaca.http(&cfg.alpaca.data_url), keys)?))
        }
    };
    let venue = match args.broker.as_str() {
        "alpaca" => {
            cfg.validate()?;
            let keys = quorum::alpaca::Keys::from_env()?;
            let http = quorum::alpaca::Http::new(cfg.alpaca.http(&cfg.alpaca.trading_url), keys)?;
            Venue::Alpaca(Box::new(quorum::alpaca::Trading::new(http)))
        }
        _ => Venue::Local,
    };
    let clock = stop_clock(&stop);
    let registry = quorum::Registry::default();
    let out = paper(&cfg, &registry, &opts, venue, source, &clock, &stop, &mut |s| line.show(s));
    line.finish();
    let out = out.context("paper run failed")?;
    if !args.run.quiet {
        if let Some(run) = &out.run {
            print!("{}", render(&run.summary));
        }
        println!(
            "paper: {} steps ({} recomputed from the journal, {} orders reconciled), {}; state {}  ({:.2?})",
            out.steps,
            out.replayed,
            out.reconciled,
            out.ended,
            state.display(),
            started.elapsed()
        );
        if let Some(run) = &out.run {
            println!("run folder: {}", run.out_dir.display());
        }
    }
    Ok(())
}

/// The status line: time, equity, positions, the last composed targets, lag behind the
/// feed. A spinner line on a terminal; plain lines at most once a second with --progress
/// otherwise; nothing with --quiet.
enum StatusLine {
    Hidden,
    Bar(ProgressBar),
    Lines(Instant),
}

impl StatusLine {
    fn new(quiet: bool, forced: bool) -> Self {
        if quiet {
            return StatusLine::Hidden;
        }
        if !std::io::stderr().is_terminal() {
            return if forced { StatusLine::Lines(Instant::now()) } else { StatusLine::Hidden };
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message("loading");
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        StatusLine::Bar(pb)
    }

    fn show(&mut self, s: &PaperStatus<'_>) {
        match self {
            StatusLine::Hidden => {}
            StatusLine::Bar(pb) => pb.set_message(message(s)),
            StatusLine::Lines(last) => {
                if last.elapsed().as_secs_f64() >= 1.0 {
                    *last = Instant::now();
                    eprintln!("quorum: {}", message(s));
                }
            }
        }
    }

    fn finish(self) {
        if let StatusLine::Bar(pb) = self {
            pb.finish_and_clear();
        }
    }
}

fn message(s: &PaperStatus<'_>) -> String {
    let name = |i: usize| s.symbols.get(i).map_or("?", |x| x.as_str());
    let positions: Vec<String> =
        s.positions.iter().enumerate().filter(|(_, p)| **p != 0.0).map(|(i, p)| format!("{} {p:+}", name(i))).collect();
    let targets: Vec<String> = s.targets.iter().map(|(i, w)| format!("{} {w:+.2}", name(*i as usize))).collect();
    let mode = if s.replaying {
        "recomputing journaled steps"
    } else if s.flattening {
        "flattening"
    } else {
        "live"
    };
    let bars = if s.bars.1 > 0 { format!("{}/{}", s.bars.0, s.bars.1) } else { s.bars.0.to_string() };
    format!(
        "{} · step {} · {bars} bars · {mode} · equity {:.2} · positions [{}] · targets [{}] · lag {:.1}s",
        format_ts(s.ts),
        s.step,
        s.equity,
        positions.join(", "),
        targets.join(", "),
        s.lag_ns as f64 / 1e9
    )
}
