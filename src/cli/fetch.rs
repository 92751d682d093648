//! `quorum fetch alpaca`: history from Alpaca's market-data API into a canonical Parquet
//! file, so the data a paper run will trade can be backtested first.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use quorum::config::Config;
use quorum::market::time::{TimeBound, Timeframe};

/// Vendors to fetch from.
#[derive(Debug, Subcommand)]
pub enum FetchCommand {
    /// Bars from Alpaca (stocks from /v2/stocks/bars, pairs such as BTC/USD from
    /// /v1beta3/crypto/us/bars); keys from APCA_API_KEY_ID and APCA_API_SECRET_KEY.
    Alpaca(AlpacaFetch),
}

/// Flags of `quorum fetch alpaca`.
#[derive(Debug, Args)]
pub struct AlpacaFetch {
    /// Comma-separated symbols (SPY,QQQ or BTC/USD).
    #[arg(long, value_delimiter = ',', required = true)]
    symbols: Vec<String>,
    /// Start, inclusive: YYYY-MM-DD or RFC 3339.
    #[arg(long)]
    from: TimeBound,
    /// End: YYYY-MM-DD (whole day included) or RFC 3339, exclusive.
    #[arg(long)]
    to: TimeBound,
    /// Bar interval: 1m, 5m, 15m, 1h, 1d … (sent as Alpaca's 1Min, 5Min, 1Hour, 1Day).
    #[arg(long, default_value = "1m")]
    timeframe: Timeframe,
    /// Parquet file to write.
    #[arg(long)]
    out: PathBuf,
    /// TOML config ([alpaca] data_url and feed).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Stock feed (alpaca.feed): iex or sip.
    #[arg(long)]
    feed: Option<String>,
}

/// Runs `quorum fetch`.
pub fn run(cmd: FetchCommand) -> Result<()> {
    let FetchCommand::Alpaca(a) = cmd;
    let mut cfg = Config::load(a.config.as_deref())?;
    if let Some(f) = &a.feed {
        cfg.alpaca.feed = f.clone();
    }
    cfg.validate()?;
    let (start, end) = (a.from.start(), a.to.end());
    if start >= end {
        bail!("--to {} must be after --from {}", a.to.as_str(), a.from.as_str());
    }
    let Some(tf) = quorum::alpaca::data::timeframe(a.timeframe.ns()) else {
        bail!("--timeframe {}: Alpaca has 1-59 minutes, 1-23 hours or 1 day", a.timeframe.as_str());
    };
    let symbols: Vec<String> = a.symbols.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let keys = quorum::alpaca::Keys::from_env()?;
    let mut http = quorum::alpaca::Http::new(cfg.alpaca.http(&cfg.alpaca.data_url), keys)?;
    // Alpaca's `end` is inclusive; ours is exclusive.
    let (bars, report) =
        quorum::alpaca::data::fetch_bars(&mut http, &symbols, &tf, (start, end - 1), &cfg.alpaca.feed, 10_000)?;
    if bars.is_empty() {
        bail!("Alpaca returned no bars for {} between {} and {}", symbols.join(","), a.from.as_str(), a.to.as_str());
    }
    let missing: Vec<&String> = symbols.iter().filter(|s| !bars.symbols.contains(s)).collect();
    if !missing.is_empty() {
        tracing::warn!(?missing, "no bars for these symbols");
    }
    quorum::market::write_parquet(&bars, &a.out).with_context(|| format!("cannot write {}", a.out.display()))?;
    println!(
        "{} bars of {} ({}) in {} page(s){} -> {}",
        bars.len(),
        bars.symbols.join(","),
        tf,
        report.pages,
        if report.duplicates > 0 { format!(", {} duplicate(s) dropped", report.duplicates) } else { String::new() },
        a.out.display()
    );
    Ok(())
}
