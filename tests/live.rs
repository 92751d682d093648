//! `quorum paper --feed alpaca`: the live feed against the fake Alpaca, timed by a manual
//! clock (the fake serves the shipped minute file; the clock says which bars have closed).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use quorum::alpaca::fake::{FakeAlpaca, Fault};
use quorum::alpaca::{Http, HttpConfig, Keys};
use quorum::config::Config;
use quorum::engine::clock::{Clock, ManualClock};
use quorum::engine::feed::Feed;
use quorum::market::session::{AssetClass, SessionMode};
use quorum::market::time::{NS_PER_MIN, parse_rfc3339};
use quorum::market::{Bars, LoadOptions, load};
use quorum::paper::live::{AlpacaFeed, FeedEvent, LiveSpec};
use quorum::paper::{PaperOptions, Source, Venue, paper};

use crate::common::{equities_1m, write};

const KEY: &str = "PKLIVE";
const SECRET: &str = "sk-live-test";

fn t(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

/// The shipped file's regular-session bars of 2013-10-07 (four symbols).
fn session() -> Bars {
    let mut o = LoadOptions::new(equities_1m());
    o.from = Some(t("2013-10-07T00:00:00Z"));
    o.to = Some(t("2013-10-08T00:00:00Z"));
    o.session = SessionMode::Regular;
    load(&o).unwrap().0
}

fn http(url: &str) -> Http {
    let mut c = HttpConfig::new(url);
    c.max_attempts = 2;
    c.timeout = std::time::Duration::from_secs(2);
    c.per_minute = 1_000_000;
    Http::new(c, Keys::new(KEY, SECRET)).unwrap()
}

/// Bars are handed out only once their interval has closed, each exactly as the file has
/// it; a bar that changes after its step was handed out is reported and not applied; an
/// outage is reported, retried at the next mark, and its gap filled.
#[test]
fn test_live_feed_hands_out_closed_bars_only_and_reports_late_ones() {
    let src = session();
    let fake = FakeAlpaca::start(KEY, SECRET, 100_000.0, Some(src.clone())).unwrap();
    let (from, until) = (t("2013-10-07T13:30:00Z"), t("2013-10-07T14:30:00Z"));
    let clock = ManualClock::at(t("2013-10-07T13:45:00Z") + 500_000_000);
    let spec = LiveSpec {
        symbols: src.symbols.clone(),
        classes: vec![AssetClass::Equity; src.symbols.len()],
        interval: NS_PER_MIN,
        feed: "iex".into(),
        session: SessionMode::Regular,
        from,
        until: Some(until),
        delay: 3_000_000_000,
    };
    let mut feed = AlpacaFeed::new(http(&fake.url), spec, &clock).unwrap();
    let mut events = Vec::new();
    let mut steps = 0;
    let mut revised = false;
    while let Some(r) = feed.next_step().unwrap() {
        let ts = feed.bars().ts[r.start];
        assert!(ts + NS_PER_MIN <= clock.now(), "a bar handed out before its interval closed");
        let (gap, live) = (t("2013-10-07T14:11:00Z")..t("2013-10-07T14:14:00Z"), ts >= t("2013-10-07T13:45:00Z"));
        if gap.contains(&ts) {
            // Polls at 14:12:03 and 14:13:03 fail; the one at 14:14:03 fills the gap.
            assert_eq!(clock.now(), t("2013-10-07T14:14:03Z"));
        } else if live {
            // A poll a few seconds after the mark.
            assert_eq!(clock.now(), ts + NS_PER_MIN + 3_000_000_000);
        }
        steps += 1;
        if ts == t("2013-10-07T14:00:00Z") && !revised {
            // A late trade changes the bar just used; the next poll rereads it.
            assert!(fake.revise_bar("SPY", ts, 170.0));
            revised = true;
        }
        if ts == t("2013-10-07T14:10:00Z") {
            // Alpaca down for the next polls (both attempts of each, twice over).
            for _ in 0..4 {
                fake.fault("GET", "/v2/stocks/bars", Fault::Status(503));
            }
        }
        events.extend(feed.take_events());
    }
    events.extend(feed.take_events());
    assert_eq!(steps, 60, "every minute of the hour, once");
    // Exactly the file's bars over the hour, as first served (the revision not applied).
    let want: Vec<usize> = (0..src.len()).filter(|&i| src.ts[i] >= from && src.ts[i] < until).collect();
    let got = feed.bars();
    assert_eq!(got.len(), want.len());
    for (k, &i) in want.iter().enumerate() {
        assert_eq!(got.bar(k), src.bar(i), "row {k}");
    }
    let kinds: Vec<&str> = events.iter().map(FeedEvent::kind).collect();
    assert_eq!(kinds, ["correction", "outage", "reconnect"], "{events:?}");
    assert!(events[0].detail().contains("SPY") && events[0].detail().contains("→ 170"), "{events:?}");
    assert!(events[2].detail().contains("filled from REST"), "{events:?}");
    assert_eq!(feed.corrections(), 1);
}

/// A config for a paper run over 2013-10-07 09:30–12:00 New York on the shipped symbols.
fn config(dir: &Path, url: &str, extra: &str) -> Config {
    let text = format!(
        "[data]\nsymbols = [\"AIG\", \"BAC\", \"IBM\", \"SPY\"]\nfrom = \"2013-10-07T13:30:00Z\"\nto = \"2013-10-07T15:59:00Z\"\n\n[composer]\ncost_aware = false\n\n[graph]\nablation = false\nshapley = \"off\"\n{extra}\n[output]\nreport = false\n\n[alpaca]\ndata_url = \"{url}\"\ntrading_url = \"{url}\"\n"
    );
    let p = write(dir, "live.toml", &text);
    Config::from_toml(&text, &p).unwrap()
}

fn options(state: &Path) -> PaperOptions {
    PaperOptions {
        state: state.to_path_buf(),
        speed: None,
        flatten_on_exit: false,
        checkpoint_every: 50,
        notify_webhook: None,
    }
}

/// Runs `paper` with the live feed from `clock`, stopping after `stop_after` steps if given.
fn live_run(
    cfg: &Config,
    state: &Path,
    url: &str,
    clock: &ManualClock,
    stop_after: Option<u64>,
    hook: Option<&str>,
    mut at_step: impl FnMut(u64),
) -> String {
    let opts = PaperOptions { notify_webhook: hook.map(String::from), ..options(state) };
    let out = live_paper(cfg, &opts, url, clock, Venue::Local, &mut |s, stop| {
        at_step(s.step);
        stop_at(stop_after, s.step, stop);
    });
    out.unwrap().ended.to_string()
}

/// Stops the run after `n` steps, if given.
fn stop_at(n: Option<u64>, step: u64, stop: &AtomicBool) {
    if n.is_some_and(|n| step + 1 >= n) {
        stop.store(true, Ordering::Relaxed);
    }
}

/// `paper` over the live feed from `url` at `clock`, orders to `venue`, the run folder in
/// `opts.state`; `each` sees every step (and may stop the run).
fn live_paper(
    cfg: &Config,
    opts: &PaperOptions,
    url: &str,
    clock: &ManualClock,
    venue: Venue,
    each: &mut dyn FnMut(&quorum::paper::PaperStatus<'_>, &AtomicBool),
) -> Result<quorum::paper::PaperOutput, String> {
    let mut cfg = cfg.clone();
    cfg.output.dir = opts.state.join("run");
    cfg.data.path = "alpaca".into();
    let stop = AtomicBool::new(false);
    let source = Source::Alpaca(Box::new(http(url)));
    paper(&cfg, &quorum::Registry::default(), opts, venue, source, clock, &stop, &mut |s| each(s, &stop))
        .map_err(|e| format!("{e:#}"))
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A live run that starts at 10:30 with history from 09:30 trades exactly as the replay of
/// the same bars with `warmup_until` at 10:30 (the history warms the analysts up, nothing
/// trades before the run went live): the same votes, fills and equity, byte for byte. A
/// live run stopped mid-morning and restarted five minutes later (the missed bars fetched
/// on restart) ends the same too.
#[test]
fn test_paper_live_feed_trades_as_the_replay_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeAlpaca::start(KEY, SECRET, 100_000.0, Some(session())).unwrap();
    let start = t("2013-10-07T14:30:00Z") + 1_000_000_000;
    // The replay of the file with the warm-up at the live start.
    let mut replay = config(dir.path(), &fake.url, "warmup_until = \"2013-10-07T14:30:00Z\"\n");
    let rstate = dir.path().join("replay");
    replay.output.dir = rstate.join("run");
    replay.data.path = equities_1m();
    let stop = AtomicBool::new(false);
    let clock = ManualClock::at(start);
    let out = paper(
        &replay,
        &quorum::Registry::default(),
        &options(&rstate),
        Venue::Local,
        Source::Replay,
        &clock,
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out.steps, 150);
    let cfg = config(dir.path(), &fake.url, "");
    let lstate = dir.path().join("live");
    let clock = ManualClock::at(start);
    // Alpaca down for two polls mid-morning (two attempts each): the operator hears of it,
    // and the gap is filled.
    let hook = crate::common::Hook::start(200);
    let outage = |step| {
        if step == 90 {
            for _ in 0..4 {
                fake.fault("GET", "/v2/stocks/bars", Fault::Status(503));
            }
        }
    };
    assert_eq!(live_run(&cfg, &lstate, &fake.url, &clock, None, Some(&hook.url), outage), "end of feed");
    assert_eq!((hook.of("outage").len(), hook.of("reconnect").len()), (1, 1), "{:?}", hook.all());
    let files = ["votes.parquet", "fills.parquet", "equity.parquet", "trades.parquet", "weights.parquet"];
    for f in files {
        assert!(bytes(&rstate.join("run").join(f)) == bytes(&lstate.join("run").join(f)), "{f}: live ≠ replay");
    }
    let fills = quorum::paper::journal::Journal::read(&lstate.join("journal.db")).unwrap().fills().unwrap();
    assert!(fills.len() > 10, "the morning trades after 10:30: {} fills", fills.len());
    assert!(fills.iter().all(|f| f.fill.decided_at >= t("2013-10-07T14:30:00Z")), "a fill decided on history");
    // Stopped after 80 steps (at 10:49 New York), restarted five minutes of wall time later.
    let sstate = dir.path().join("stopped");
    let clock = ManualClock::at(start);
    assert_eq!(live_run(&cfg, &sstate, &fake.url, &clock, Some(80), None, |_| {}), "stopped");
    clock.advance(5 * NS_PER_MIN);
    assert_eq!(live_run(&cfg, &sstate, &fake.url, &clock, None, None, |_| {}), "end of feed");
    for f in files {
        assert!(
            bytes(&sstate.join("run").join(f)) == bytes(&lstate.join("run").join(f)),
            "{f}: resumed ≠ uninterrupted"
        );
    }
    let status = quorum::paper::status_report(&sstate).unwrap();
    assert!(status.contains("steps     150"), "{status}");
    assert!(status.contains("live (trading) from 2013-10-07T14:30:00Z"), "{status}");
    let status = quorum::paper::status_report(&lstate).unwrap();
    assert!(status.contains("outage 1, reconnect 1"), "{status}");
}

/// Through the command line with the wall clock: history up to the last closed minute is
/// handed out and warms the analysts up, and nothing trades (the run went live after it);
/// flags that cannot apply to a live feed are refused, naming them.
#[test]
fn test_paper_feed_alpaca_cli_warms_up_on_history_and_refuses_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let src = session();
    // SPY's first 30 bars of the day, moved so the last starts two minutes ago.
    let now = quorum::engine::clock::WallClock.now().div_euclid(NS_PER_MIN) * NS_PER_MIN;
    let spy = src.symbols.iter().position(|s| s == "SPY").unwrap() as u32;
    let rows: Vec<usize> = (0..src.len()).filter(|&i| src.sym[i] == spy).take(30).collect();
    let shift = now - 2 * NS_PER_MIN - src.ts[rows[29]];
    let mut bars = Bars { symbols: vec!["SPY".into()], ..Default::default() };
    for &i in &rows {
        bars.push(quorum::market::Bar { ts: src.ts[i] + shift, symbol: 0, ..src.bar(i) });
    }
    let (first, last) = (bars.ts[0], bars.ts[29]);
    let fake = FakeAlpaca::start(KEY, SECRET, 100_000.0, Some(bars)).unwrap();
    let text = format!(
        "[data]\nsession = \"all\"\n\n[graph]\nablation = false\nshapley = \"off\"\n\n[output]\nreport = false\n\n[alpaca]\ndata_url = \"{0}\"\ntrading_url = \"{0}\"\nbar_delay_secs = 0.0\n",
        fake.url
    );
    let cfg = write(dir.path(), "cli.toml", &text);
    let state = dir.path().join("state");
    let run = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_quorum"));
        c.arg("paper").arg("--config").arg(&cfg).arg("--state").arg(&state).args(["--feed", "alpaca", "-q"]);
        c.env("APCA_API_KEY_ID", KEY).env("APCA_API_SECRET_KEY", SECRET).args(extra);
        c.output().unwrap()
    };
    let (from, to) = (quorum::market::time::format_ts(first), quorum::market::time::format_ts(last));
    let out = run(&["--symbols", "SPY", "--from", &from, "--to", &to]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = quorum::paper::status_report(&state).unwrap();
    assert!(status.contains("steps     30"), "{status}");
    assert!(status.contains("orders    0"), "history never trades: {status}");
    // Refusals, each naming what is wrong.
    for (args, want) in [
        (vec!["--from", &from], "data.symbols"),
        (vec!["--symbols", "SPY", "--speed", "10"], "--speed"),
        (vec!["--symbols", "SPY", "--resample", "90m"], "data.resample"),
    ] {
        let _ = std::fs::remove_dir_all(&state);
        let out = run(&args);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains(want), "{args:?}: {e}");
    }
    // Wrong keys: the run stops on Alpaca's 401 and the operator hears why (not the key).
    let _ = std::fs::remove_dir_all(&state);
    let hook = crate::common::Hook::start(200);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_quorum"));
    c.arg("paper").arg("--config").arg(&cfg).arg("--state").arg(&state).args(["--feed", "alpaca", "-q"]);
    c.env("APCA_API_KEY_ID", KEY).env("APCA_API_SECRET_KEY", "sk-wrong-secret");
    let out =
        c.args(["--symbols", "SPY", "--from", &from, "--to", &to, "--notify-webhook", &hook.url]).output().unwrap();
    assert!(!out.status.success());
    let errors = hook.of("error");
    assert_eq!(errors.len(), 1, "{:?}", hook.all());
    let said = errors[0]["text"].as_str().unwrap();
    assert!(said.contains("401") && !said.contains("sk-wrong-secret"), "{said}");
    // Alpaca never reached (nothing listens at the data URL): an error at once, not an
    // outage to wait out.
    let _ = std::fs::remove_dir_all(&state);
    let nowhere = text.replace(&fake.url, "http://127.0.0.1:1") + "max_attempts = 1\n";
    let nowhere = write(dir.path(), "nowhere.toml", &nowhere);
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_quorum"));
    c.arg("paper").arg("--config").arg(&nowhere).arg("--state").arg(&state).args(["--feed", "alpaca", "-q"]);
    c.env("APCA_API_KEY_ID", KEY).env("APCA_API_SECRET_KEY", SECRET).args(["--symbols", "SPY", "--from", &from]);
    let t0 = std::time::Instant::now();
    let out = c.output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("connection failed"), "{e}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(30), "{:?}", t0.elapsed());
    let out = run(&["--symbols", "SPY", "--feed", "kafka"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--feed"), "{out:?}");
}

/// `--feed alpaca --broker alpaca`, stopped and restarted ten minutes later: the steps that
/// catch up on the missed bars decide but send nothing (their orders are journaled `stale`
/// and never reach Alpaca); once caught up, orders go out again, none twice.
#[test]
fn test_paper_live_catch_up_after_a_gap_sends_no_stale_orders() {
    let dir = tempfile::tempdir().unwrap();
    let fake = trading_fake();
    let cfg = config(dir.path(), &fake.url, "");
    let state = dir.path().join("state");
    let clock = ManualClock::at(t("2013-10-07T14:30:00Z") + 1_000_000_000);
    let go = |stop_after: Option<u64>| {
        let each = &mut |s: &quorum::paper::PaperStatus<'_>, stop: &AtomicBool| stop_at(stop_after, s.step, stop);
        alpaca_live(&cfg, &state, &fake, &clock, false, each).unwrap().ended
    };
    assert_eq!(go(Some(90)), "stopped");
    let before = fake.posts().len();
    assert!(before > 0, "the first half hour live trades");
    clock.advance(10 * NS_PER_MIN);
    assert_eq!(go(None), "end of feed");
    let j = quorum::paper::journal::Journal::read(&state.join("journal.db")).unwrap();
    let orders = j.all_orders().unwrap();
    let stale: Vec<_> = orders.iter().filter(|o| o.status == "stale").collect();
    assert!(!stale.is_empty(), "the catch-up steps decided orders");
    // Stale orders are those of the ten missed minutes only, and none reached Alpaca.
    assert!(stale.iter().all(|o| (90..100).contains(&o.step)), "{stale:?}");
    let posts = fake.posts();
    assert!(stale.iter().all(|o| !posts.contains(&o.coid)));
    assert!(orders.iter().any(|o| o.step >= 100 && posts.contains(&o.coid)), "live again after catching up");
    let mut unique = posts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), posts.len(), "an order sent twice");
    assert_eq!(j.event_counts().unwrap().get("stale").copied().unwrap_or(0), stale.len() as u64);
}

/// The paper run of `cfg` on the live feed with Alpaca as broker, from `clock`; `each`
/// sees every step (and may stop the run).
fn alpaca_live(
    cfg: &Config,
    state: &Path,
    fake: &FakeAlpaca,
    clock: &ManualClock,
    flatten: bool,
    each: &mut dyn FnMut(&quorum::paper::PaperStatus<'_>, &AtomicBool),
) -> Result<quorum::paper::PaperOutput, String> {
    let opts = PaperOptions { flatten_on_exit: flatten, ..options(state) };
    let venue = Venue::Alpaca(Box::new(quorum::alpaca::Trading::new(http(&fake.url))));
    live_paper(cfg, &opts, &fake.url, clock, venue, each)
}

/// The fake serving the session's bars and filling orders.
fn trading_fake() -> FakeAlpaca {
    crate::common::trading_fake(KEY, SECRET, Some(session()))
}

/// Ctrl-C with --flatten-on-exit on the live feed: the run keeps taking the market's next
/// bars, with every target at zero, until the book is flat at Alpaca too.
#[test]
fn test_paper_live_flatten_on_exit_waits_for_the_next_bars() {
    let dir = tempfile::tempdir().unwrap();
    let fake = trading_fake();
    let cfg = config(dir.path(), &fake.url, "");
    let state = dir.path().join("state");
    let clock = ManualClock::at(t("2013-10-07T14:30:00Z") + 1_000_000_000);
    let mut held_at_stop = Vec::new();
    let mut last = 0;
    let out = alpaca_live(&cfg, &state, &fake, &clock, true, &mut |s, stop| {
        last = s.step;
        if s.step == 100 {
            held_at_stop = s.positions.to_vec();
            stop.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert_eq!(out.ended, "stopped");
    assert!(held_at_stop.iter().any(|p| *p != 0.0), "positions held when stopped: {held_at_stop:?}");
    assert!(last > 100 && last < 110, "flattening took the next bars: stopped at step {last}");
    let j = quorum::paper::journal::Journal::read(&state.join("journal.db")).unwrap();
    let positions: Vec<f64> = serde_json::from_str(&j.last_step().unwrap().unwrap().positions).unwrap();
    assert!(positions.iter().all(|p| *p == 0.0), "{positions:?}");
    assert!(fake.positions().values().all(|q| *q == 0.0), "flat at Alpaca: {:?}", fake.positions());
}

/// The trading API fails while a step's orders go out (the run stops on the error, its
/// orders journaled as intents); restarted ten minutes later, those orders are decided on
/// bars long closed: journaled `stale`, never sent.
#[test]
fn test_paper_live_restart_does_not_send_an_old_steps_orders() {
    let dir = tempfile::tempdir().unwrap();
    let fake = trading_fake();
    let cfg = config(dir.path(), &fake.url, "");
    let state = dir.path().join("state");
    let clock = ManualClock::at(t("2013-10-07T14:30:00Z") + 1_000_000_000);
    let mut armed = false;
    let e = alpaca_live(&cfg, &state, &fake, &clock, false, &mut |s, _| {
        if s.step == 70 && !armed {
            armed = true;
            // Every send of one order (three, each looked up and not found).
            for _ in 0..3 {
                fake.fault("POST", "/v2/orders", Fault::Status(503));
            }
        }
    })
    .unwrap_err();
    assert!(e.to_string().contains("503"), "{e}");
    let j = quorum::paper::journal::Journal::read(&state.join("journal.db")).unwrap();
    let waiting: Vec<String> =
        j.all_orders().unwrap().into_iter().filter(|o| o.status == "intent").map(|o| o.coid).collect();
    assert!(!waiting.is_empty());
    let posts_before = fake.posts().len();
    clock.advance(10 * NS_PER_MIN);
    let out = alpaca_live(&cfg, &state, &fake, &clock, false, &mut |_, _| {}).unwrap();
    assert_eq!(out.ended, "end of feed");
    let j = quorum::paper::journal::Journal::read(&state.join("journal.db")).unwrap();
    let orders = j.all_orders().unwrap();
    for coid in &waiting {
        let o = orders.iter().find(|o| &o.coid == coid).unwrap();
        assert_eq!(o.status, "stale", "{o:?}");
        assert_eq!(
            fake.posts()[..posts_before].iter().filter(|p| *p == coid).count(),
            fake.posts().iter().filter(|p| *p == coid).count(),
            "{coid} re-sent"
        );
    }
    assert_eq!(fake.pending_faults(), 0);
}
