//! The `quorum` binary: parse the command line, set up logging, run, print errors once.

use clap::Parser;

mod cli;

/// mimalloc keeps freed pages for reuse: with glibc's allocator every large column buffer
/// was a fresh mmap and page faults cost ~1.9 ms per 1.6 MB column while loading
/// (measured: Parquet load 4.6 → 7.1 M rows/s on the hourly set). polars recommends it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `mi_option_purge_delay`: 15 in mimalloc 2.x and 3.x, whose option enum keeps retired
/// options' slots so that the numbers stay put (the sys crate exports no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// For `quorum backtest`: freed memory is given back to the OS 10 ms after it is freed
/// (mimalloc 2's default), not 1 s (mimalloc 3's): a backtest lives a few seconds, so with
/// the 1 s delay the memory of each finished phase (the ablation's graph, the replays, the
/// tables) was still resident when the next one peaked. Measured on the hourly 5-symbol
/// backtest (issue 16): peak RSS 470–522 MiB with 1 s, 421–425 MiB with 10 ms, 395–400
/// MiB with 0 (at twice the system time); the wall time did not change. Not for the other
/// commands: the paper loop reuses its freed memory step after step (its checkpoints, the
/// memory's index buffers), and with 10 ms it paid the page faults again — a replay of
/// spy_1m_2011 took 2.45–2.51 s against 2.06–2.21 s. `MIMALLOC_PURGE_DELAY` (or its old
/// name `MIMALLOC_RESET_DELAY`) in the environment wins. Arenas purge after the delay
/// times `arena_purge_mult` (10), so 100 ms for them.
fn set_purge_delay() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() && std::env::var_os("MIMALLOC_RESET_DELAY").is_none() {
        // SAFETY: mimalloc's options are plain globals: this store is called once, from
        // `main` before any thread is started (and from the one test that checks it).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`): plain text, coloured only
/// when stderr is a terminal, or one JSON object per line with `--log-format json`.
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if json {
        fmt.json().flatten_event(true).init();
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn main() {
    let cli = cli::Cli::parse();
    if cli.is_backtest() {
        set_purge_delay();
    }
    init_logging(cli.json_logs());
    if let Err(e) = cli::dispatch(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 15 is mimalloc's purge delay: 1 s by default in the bundled mimalloc 3, then
    /// the 10 ms that `set_purge_delay` sets (a crate update that renumbers the options or
    /// changes the default fails here, and the doc's measurements need redoing).
    #[test]
    fn test_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() || std::env::var_os("MIMALLOC_RESET_DELAY").is_some() {
            return;
        }
        // SAFETY: reads one of mimalloc's global options.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        set_purge_delay();
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, 10);
    }
}
