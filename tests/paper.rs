//! `quorum paper` through the CLI, on the shipped minute file: parity with `quorum
//! backtest`, the SIGKILL crash test, graceful stops, restart refusals, status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use quorum::rng::SplitMix64;
use rusqlite::Connection;

use crate::common::{equities_1m, walk, write};

/// Trades often (cost gate off) so that kills land among orders and fills; no ablation,
/// Shapley or HTML report (not what these tests are about, and slow in a debug build).
const BUSY: &str =
    "[composer]\ncost_aware = false\n\n[graph]\nablation = false\nshapley = \"off\"\n\n[output]\nreport = false\n";

fn quorum() -> Command {
    Command::new(env!("CARGO_BIN_EXE_quorum"))
}

/// One session of the five shipped symbols (390 steps).
fn day() -> Vec<String> {
    ["--from", "2013-10-07", "--to", "2013-10-07"].map(String::from).to_vec()
}

fn paper_cmd(config: &Path, state: &Path, extra: &[&str]) -> Command {
    paper_until(config, state, "2013-10-07", extra)
}

/// `quorum paper` on the shipped file from 2013-10-07 to `to`.
fn paper_until(config: &Path, state: &Path, to: &str, extra: &[&str]) -> Command {
    let mut c = quorum();
    c.arg("paper")
        .arg("--config")
        .arg(config)
        .arg("--feed")
        .arg(format!("replay:{}", equities_1m().display()))
        .args(["--from", "2013-10-07", "--to", to])
        .arg("--state")
        .arg(state)
        .args(["-q", "--checkpoint-every", "50"])
        .args(extra);
    c
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn bytes(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The broker's orders as decided (symbol, quantity, decision time), in placement order.
fn broker_orders(state: &Path) -> Vec<(i64, f64, i64, String)> {
    let db = Connection::open(state.join("broker.db")).unwrap();
    let mut q = db.prepare("SELECT symbol, qty, decided_at, status FROM orders ORDER BY id").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(|r| r.unwrap()).collect()
}

/// Fills as (symbol, bar, qty, price, commission) from `db`'s `fills` table.
fn fills_of(path: &Path) -> Vec<(i64, i64, f64, f64, f64)> {
    let db = Connection::open(path).unwrap();
    let mut q = db.prepare("SELECT symbol, ts, qty, price, commission FROM fills ORDER BY ts, symbol").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The artifacts that must be equal between two runs of the same file and config.
fn assert_same_run(a: &Path, b: &Path) {
    for f in ["votes.parquet", "fills.parquet", "equity.parquet", "trades.parquet", "weights.parquet"] {
        assert!(bytes(a.join(f)) == bytes(b.join(f)), "{f} differs between {} and {}", a.display(), b.display());
    }
}

/// `--notify-webhook`: one message per fill (as journaled), a summary per session day;
/// a webhook that cannot be reached changes nothing in the run.
#[test]
fn test_paper_notifies_fills_and_days_and_a_dead_webhook_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let busy = write(dir.path(), "busy.toml", BUSY);
    let hook = crate::common::Hook::start(200);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(paper_until(&busy, &a, "2013-10-08", &["--notify-webhook", &hook.url]).output().unwrap());
    let fills = fills_of(&a.join("journal.db"));
    let sent = hook.of("fill");
    assert_eq!(sent.len(), fills.len(), "one message per fill");
    assert!(sent.len() > 20, "the busy days trade");
    for (m, f) in sent.iter().zip(&fills) {
        assert!(m["text"].as_str().is_some_and(|t| t.contains("quorum paper")), "{m}");
        assert_eq!((m["qty"].as_f64(), m["price"].as_f64()), (Some(f.2), Some(f.3)), "{m}");
    }
    let days = hook.of("summary");
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2013-10-07", "2013-10-08"], "{days:?}");
    assert_eq!(days[1]["final"], true);
    let total: u64 = days.iter().map(|d| d["fills"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, fills.len());
    // Nothing listens on port 1: every post fails, the run is the same.
    ok(paper_until(&busy, &b, "2013-10-08", &["--notify-webhook", "http://127.0.0.1:1/hook"]).output().unwrap());
    assert_same_run(&a.join("run"), &b.join("run"));
    let out = paper_until(&busy, &dir.path().join("c"), "2013-10-08", &["--notify-webhook", "slack"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--notify-webhook"), "{out:?}");
}

/// `quorum paper --feed replay:FILE --broker local` makes exactly the votes, targets and
/// fills of `quorum backtest` on the same file and config (the shipped config, and one that
/// trades all day); the memory it leaves is the backtest's, byte for byte.
#[test]
fn test_paper_replay_equals_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let busy = write(dir.path(), "busy.toml", BUSY);
    let quiet =
        write(dir.path(), "quiet.toml", "[graph]\nablation = false\nshapley = \"off\"\n\n[output]\nreport = false\n");
    for cfg in [&busy, &quiet] {
        let (state, out) = (dir.path().join("state"), dir.path().join("bt"));
        let _ = std::fs::remove_dir_all(&state);
        ok(paper_cmd(cfg, &state, &["--broker", "local"]).output().unwrap());
        let mut bt = quorum();
        bt.arg("backtest").arg("--config").arg(cfg).arg("--data").arg(equities_1m()).args(day()).arg("--out").arg(&out);
        ok(bt.arg("-q").output().unwrap());
        assert_same_run(&out, &state.join("run"));
        assert!(bytes(out.join("summary.json")) == bytes(state.join("run/summary.json")), "summary.json");
        for f in ["items.jsonl", "aggregates.json", "manifest.json"] {
            assert!(bytes(out.join("memory").join(f)) == bytes(state.join("memory").join(f)), "memory/{f}");
        }
        // The journal's fills are the broker's and the run's.
        let journaled = fills_of(&state.join("journal.db"));
        assert_eq!(journaled, fills_of(&state.join("broker.db")));
        let status =
            String::from_utf8(ok(quorum().args(["paper", "status", "--state"]).arg(&state).output().unwrap()).stdout)
                .unwrap();
        assert!(status.contains("steps     390"), "{status}");
        assert!(status.contains("(agrees)"), "{status}");
    }
}

/// SIGKILL at ≥ 20 random points (and at five named ones: mid-transaction at the broker,
/// between the journal's commit and the orders, after the orders, during a memory
/// checkpoint), restarting each time: the last restart ends with the fills, votes,
/// positions, equity and memory of an uninterrupted run, byte for byte, no fill missing
/// from the journal, and no order placed twice.
#[test]
fn test_paper_survives_sigkill_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "busy.toml", BUSY);
    let (clean, crashed) = (dir.path().join("clean"), dir.path().join("crashed"));
    let t0 = Instant::now();
    ok(paper_cmd(&cfg, &clean, &[]).output().unwrap());
    let whole = t0.elapsed();
    let mut rng = SplitMix64(0x5eed_c4a5);
    let mut kills = 0;
    for point in [
        "broker-place@40",
        "journal-step@120",
        "orders-placed@200",
        "broker-fill@5",
        "step-decided@260",
        "checkpoint@2",
    ] {
        let out = paper_cmd(&cfg, &crashed, &[]).env("QUORUM_FAULT", point).output().unwrap();
        assert!(!out.status.success(), "the fault {point} should have killed the run");
        kills += 1;
    }
    let mut attempts = 0;
    while kills < 25 {
        attempts += 1;
        assert!(attempts < 80, "only {kills} kills landed in {attempts} attempts");
        let mut child = paper_cmd(&cfg, &crashed, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        // Anywhere in the run, start-up and recomputation included.
        let wait = whole.mul_f64(0.05 + 0.9 * (rng.next_u64() % 10_000) as f64 / 10_000.0);
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        let _ = child.wait();
    }
    ok(paper_cmd(&cfg, &crashed, &[]).output().unwrap());
    assert_same_run(&clean.join("run"), &crashed.join("run"));
    for f in ["items.jsonl", "aggregates.json", "manifest.json"] {
        assert!(bytes(clean.join("memory").join(f)) == bytes(crashed.join("memory").join(f)), "memory/{f}");
    }
    // No order twice: the broker holds exactly the uninterrupted run's orders.
    assert_eq!(broker_orders(&crashed), broker_orders(&clean));
    // No fill lost: the journal holds every fill the broker made, once.
    assert_eq!(fills_of(&crashed.join("journal.db")), fills_of(&crashed.join("broker.db")));
    assert_eq!(fills_of(&crashed.join("journal.db")), fills_of(&clean.join("journal.db")));
    let db = Connection::open(crashed.join("journal.db")).unwrap();
    let restarts: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE kind = 'restart'", [], |r| r.get(0)).unwrap();
    assert!(restarts >= 20, "{restarts} restarts journaled");
}

/// SIGTERM stops after the step in progress with a run folder; the same command resumes
/// to the uninterrupted result. With --flatten-on-exit, the book is flat at the end.
#[test]
fn test_paper_stops_on_sigterm_and_flattens_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "busy.toml", BUSY);
    let (clean, stopped, flat) = (dir.path().join("clean"), dir.path().join("stopped"), dir.path().join("flat"));
    ok(paper_cmd(&cfg, &clean, &[]).output().unwrap());
    // 390 minutes at 1200× is about 20 s: SIGTERM lands mid-run.
    for (state, extra) in [(&stopped, &[][..]), (&flat, &["--flatten-on-exit"][..])] {
        let child =
            paper_cmd(&cfg, state, &[&["--speed", "1200"], extra].concat()).stdout(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let out = ok(child.wait_with_output().unwrap());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.is_empty(), "-q prints nothing: {text}");
        assert!(state.join("run/summary.json").is_file(), "a run folder at the stop");
    }
    let status =
        String::from_utf8(ok(quorum().args(["paper", "status", "--state"]).arg(&flat).output().unwrap()).stdout)
            .unwrap();
    let positions = status.lines().find(|l| l.starts_with("positions")).unwrap_or_default().to_string();
    let held: Vec<f64> = serde_json::from_str(positions.trim_start_matches("positions").trim()).unwrap();
    assert!(!held.is_empty() && held.iter().all(|p| *p == 0.0), "flat after --flatten-on-exit: {status}");
    assert!(status.contains("flatten"), "the journal says why: {status}");
    // Resuming the plain stop (as fast as possible) ends where an uninterrupted run does.
    ok(paper_cmd(&cfg, &stopped, &[]).output().unwrap());
    assert_same_run(&clean.join("run"), &stopped.join("run"));
}

/// A state folder refuses another config (naming the key), a journal of a newer format,
/// a second runner, and a feed other than replay:FILE; each with a non-zero exit.
#[test]
fn test_paper_refuses_what_it_cannot_resume() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "busy.toml", BUSY);
    let state = dir.path().join("s");
    let hour = "2013-10-07T14:30:00Z";
    ok(paper_until(&cfg, &state, hour, &[]).output().unwrap());
    let fail = |mut c: Command| {
        let out = c.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = fail(paper_until(&cfg, &state, hour, &["--cash", "5000"]));
    assert!(e.contains("another configuration") && e.contains("initial_cash"), "{e}");
    let db = Connection::open(state.join("journal.db")).unwrap();
    db.execute("UPDATE meta SET value = '3' WHERE key = 'format'", []).unwrap();
    drop(db);
    let e = fail(paper_until(&cfg, &state, hour, &[]));
    assert!(e.contains("journal format 3"), "{e}");
    let e = fail({
        let mut c = quorum();
        c.args(["paper", "--feed", "alpaca:SPY", "--state"]).arg(dir.path().join("x"));
        c
    });
    assert!(e.contains("expected replay:FILE"), "{e}");
    let e = fail({
        let mut c = quorum();
        c.args(["paper", "status", "--state"]).arg(dir.path());
        c
    });
    assert!(e.contains("not a paper state folder"), "{e}");
    // A replayed file edited under a journal: the resumed run recomputes from the journal's
    // bars (what it saw), and says that the source now differs.
    let file = dir.path().join("bars.csv");
    let text = std::fs::read_to_string(equities_1m()).unwrap();
    std::fs::write(&file, &text).unwrap();
    let run = |state: &Path| {
        let mut c = quorum();
        c.args(["paper", "-q", "--feed"]).arg(format!("replay:{}", file.display()));
        c.args(["--from", "2013-10-07", "--to", hour, "--state"]).arg(state).arg("--config").arg(&cfg);
        c
    };
    let edited = dir.path().join("edited");
    ok(run(&edited).output().unwrap());
    let row = text.lines().position(|l| l.starts_with("2013-10-07T13:45:00Z,SPY")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut f: Vec<String> = lines[row].split(',').map(String::from).collect();
    f[6] = "1".into(); // the volume
    lines[row] = f.join(",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let before = bytes(edited.join("run/votes.parquet"));
    ok(run(&edited).output().unwrap());
    assert!(bytes(edited.join("run/votes.parquet")) == before, "the journal's bars, not the edited file's");
    let db = Connection::open(edited.join("journal.db")).unwrap();
    let note: String = db.query_row("SELECT detail FROM events WHERE kind = 'correction'", [], |r| r.get(0)).unwrap();
    assert!(note.contains("1 journaled step(s)") && note.contains("2013-10-07T13:45:00Z"), "{note}");
    // Killed after the broker filled at a step but before the step was journaled, then the
    // file cut short before that bar: the fill cannot be applied and is not dropped silently.
    std::fs::write(&file, &text).unwrap();
    let cut = dir.path().join("cut");
    let fill_step: i64 = Connection::open(edited.join("journal.db"))
        .unwrap()
        .query_row("SELECT MIN(step) FROM fills WHERE step > 5", [], |r| r.get(0))
        .unwrap();
    let mut first = run(&cut);
    let point = format!("step-decided@{}", fill_step + 1);
    assert!(!first.env("QUORUM_FAULT", &point).output().unwrap().status.success());
    let db = Connection::open(cut.join("broker.db")).unwrap();
    let last_fill: i64 = db.query_row("SELECT MAX(ts) FROM fills", [], |r| r.get(0)).unwrap();
    let journaled: i64 = Connection::open(cut.join("journal.db"))
        .unwrap()
        .query_row("SELECT MAX(ts) FROM steps", [], |r| r.get(0))
        .unwrap();
    assert!(last_fill > journaled, "the fault left a fill past the journal");
    let keep: Vec<&str> = text
        .lines()
        .filter(|l| l.split(',').next().and_then(quorum::market::time::parse_rfc3339).is_none_or(|t| t <= journaled))
        .collect();
    std::fs::write(&file, keep.join("\n") + "\n").unwrap();
    let e = fail(run(&cut));
    assert!(e.contains("order(s) at bars the feed no longer has"), "{e}");
}

/// The fake Alpaca of these tests (no market data: the bars come from the replayed file).
fn alpaca_fake() -> quorum::alpaca::fake::FakeAlpaca {
    crate::common::trading_fake("PKTESTKEY", ALPACA_SECRET, None)
}

const ALPACA_SECRET: &str = "sk-test-s3cret-9f2c";

/// BUSY plus an [alpaca] section pointing at `url`.
fn alpaca_config(dir: &Path, url: &str) -> PathBuf {
    let text = format!(
        "{BUSY}\n[alpaca]\ntrading_url = \"{url}\"\ndata_url = \"{url}\"\ntimeout_secs = 2.0\nrequests_per_minute = 100000\n"
    );
    write(dir, "alpaca.toml", &text)
}

fn with_keys(mut c: Command) -> Command {
    c.env("APCA_API_KEY_ID", "PKTESTKEY").env("APCA_API_SECRET_KEY", ALPACA_SECRET);
    c
}

/// Every order the journal holds, by client id, with what the journal applied of it.
fn journal_fills_by_order(state: &Path) -> std::collections::BTreeMap<String, f64> {
    let db = Connection::open(state.join("journal.db")).unwrap();
    let mut q = db.prepare("SELECT coid, SUM(qty) FROM fills WHERE coid != '' GROUP BY coid").unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
}

/// The fake's book by client id: signed filled quantity.
fn fake_fills_by_order(f: &quorum::alpaca::fake::FakeAlpaca) -> std::collections::BTreeMap<String, f64> {
    f.orders()
        .iter()
        .filter(|o| o.filled_qty > 0.0)
        .map(|o| (o.client_order_id.clone(), if o.side == "sell" { -o.filled_qty } else { o.filled_qty }))
        .collect()
}

/// `--broker alpaca` against the fake: orders go out once each under the journal's ids,
/// every fill Alpaca made is in the journal, the positions agree; at RUST_LOG=trace the
/// secret key appears in no output and no file of the state folder; missing keys are named.
#[test]
fn test_paper_alpaca_end_to_end_and_the_secret_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let f = alpaca_fake();
    let cfg = alpaca_config(dir.path(), &f.url);
    let state = dir.path().join("state");
    let out = with_keys(paper_cmd(&cfg, &state, &["--broker", "alpaca"])).env("RUST_LOG", "trace").output().unwrap();
    let out = ok(out);
    let posts = f.posts();
    assert!(posts.len() > 50, "the busy day trades: {}", posts.len());
    let mut unique = posts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), posts.len(), "an order sent twice");
    // The last step's orders are filled at the fake but never read (the feed ended).
    let mut journaled = journal_fills_by_order(&state);
    let fake = fake_fills_by_order(&f);
    assert!(journaled.len() + 4 >= fake.len() && !journaled.is_empty());
    journaled.retain(|k, _| fake.contains_key(k));
    for (coid, q) in &journaled {
        assert!((fake[coid] - q).abs() < 1e-9, "{coid}: journal {q}, Alpaca {}", fake[coid]);
    }
    // The secret: nowhere in the output, the log (trace), or any file written.
    let mut texts =
        vec![String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string()];
    assert!(texts[1].contains("TRACE") || texts[1].contains("DEBUG") || texts[1].len() > 1000, "trace logs were on");
    for entry in walk(&state) {
        texts.push(String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).to_string());
    }
    for t in &texts {
        assert!(!t.contains(ALPACA_SECRET), "the secret leaked");
    }
    // Missing keys: a clear error naming the variables, before anything runs.
    let out = paper_cmd(&cfg, &dir.path().join("nokeys"), &["--broker", "alpaca"])
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("APCA_API_KEY_ID and APCA_API_SECRET_KEY"), "{e}");
    // A state folder keeps its broker.
    let out = paper_cmd(&cfg, &state, &["--broker", "local"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("trades with --broker alpaca"), "{out:?}");
}

/// The crash test with `--broker alpaca` against the fake: ≥ 20 random SIGKILLs (and two
/// named points: before the orders go out, after), restarting each time. After the last
/// restart: no order sent twice to Alpaca, no fill Alpaca made missing from the journal,
/// and the run ends with the votes and fills of an uninterrupted one.
#[test]
fn test_paper_alpaca_survives_sigkill_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (clean_fake, crash_fake) = (alpaca_fake(), alpaca_fake());
    let clean_cfg = alpaca_config(&dir.path().join("."), &clean_fake.url);
    let clean = dir.path().join("clean");
    let t0 = Instant::now();
    ok(with_keys(paper_cmd(&clean_cfg, &clean, &["--broker", "alpaca"])).output().unwrap());
    let whole = t0.elapsed();
    let sub = dir.path().join("c");
    std::fs::create_dir_all(&sub).unwrap();
    let cfg = alpaca_config(&sub, &crash_fake.url);
    let crashed = dir.path().join("crashed");
    let run = || with_keys(paper_cmd(&cfg, &crashed, &["--broker", "alpaca"]));
    let mut kills = 0;
    for point in ["journal-step@100", "orders-placed@180"] {
        assert!(!run().env("QUORUM_FAULT", point).output().unwrap().status.success(), "{point}");
        kills += 1;
    }
    let mut rng = SplitMix64(0xa1_9aca);
    // A resumed run is shorter than a fresh one (journaled steps need no requests), so the
    // kill delays follow the latest run's length.
    let mut span = whole;
    let mut attempts = 0;
    while kills < 22 {
        attempts += 1;
        assert!(attempts < 80, "only {kills} kills landed");
        let started = Instant::now();
        let mut child = run().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(span.mul_f64(0.05 + 0.9 * (rng.next_u64() % 10_000) as f64 / 10_000.0));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        } else {
            span = started.elapsed();
        }
        let _ = child.wait();
    }
    ok(run().output().unwrap());
    let posts = crash_fake.posts();
    let mut unique = posts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), posts.len(), "an order sent twice to Alpaca");
    let fake = fake_fills_by_order(&crash_fake);
    let journaled = journal_fills_by_order(&crashed);
    for (coid, q) in &journaled {
        assert!((fake[coid] - q).abs() < 1e-9, "{coid}");
    }
    let missing: Vec<&String> = fake.keys().filter(|k| !journaled.contains_key(*k)).collect();
    assert!(missing.len() <= 4, "fills Alpaca made that the journal lacks: {missing:?}");
    assert_same_run(&clean.join("run"), &crashed.join("run"));
}

/// A paper run through Alpaca's faults: a lost reply, a 503 on an order, a partial fill, a
/// 403 reject, a 429 and a 500 on reads, a malformed reply to a lookup. It ends with no
/// panic, no client order id sent twice for an order Alpaca had, and a journal that agrees
/// with the fake's book (fills per order, the rejected order journaled as such).
#[test]
fn test_paper_alpaca_faults_mid_run_keep_the_journal_true() {
    use quorum::alpaca::fake::Fault;
    let dir = tempfile::tempdir().unwrap();
    let f = alpaca_fake();
    let cfg = alpaca_config(dir.path(), &f.url);
    let state = dir.path().join("state");
    for fault in [
        Fault::LostReply,
        Fault::Status(503),
        Fault::PartialFill(0.5),
        Fault::Reject(403),
        Fault::Slow(Duration::from_millis(2500)),
    ] {
        f.fault("POST", "/v2/orders", fault);
    }
    f.fault("GET", "/v2/orders:by_client_order_id", Fault::TooMany { retry_after: Some(0), reset_in: None });
    f.fault("GET", "/v2/orders:by_client_order_id", Fault::Status(500));
    f.fault("GET", "/v2/positions", Fault::Status(503));
    let hook = crate::common::Hook::start(200);
    let out =
        with_keys(paper_cmd(&cfg, &state, &["--broker", "alpaca", "--notify-webhook", &hook.url])).output().unwrap();
    ok(out);
    assert_eq!(f.pending_faults(), 0, "every fault was met");
    // The operator heard of the reject, with Alpaca's reason.
    let rejects = hook.of("reject");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert!(rejects[0]["text"].as_str().unwrap().contains("buying power"), "{rejects:?}");
    // Sent twice only when the first send never arrived (the 503 before processing).
    let posts = f.posts();
    let book: std::collections::BTreeSet<String> = f.orders().iter().map(|o| o.client_order_id.clone()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for p in &posts {
        if !seen.insert(p.clone()) {
            assert_eq!(f.orders().iter().filter(|o| &o.client_order_id == p).count(), 1, "{p} placed twice");
        }
    }
    let fake = fake_fills_by_order(&f);
    let journaled = journal_fills_by_order(&state);
    for (coid, q) in &journaled {
        assert!((fake[coid] - q).abs() < 1e-9, "{coid}: journal {q}, Alpaca {}", fake[coid]);
    }
    assert!(fake.keys().filter(|k| !journaled.contains_key(*k)).count() <= 4);
    let db = Connection::open(state.join("journal.db")).unwrap();
    let rejected: Vec<String> = db
        .prepare("SELECT coid FROM orders WHERE status = 'rejected'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rejected.len(), 1, "the 403: {rejected:?}");
    assert!(!book.contains(&rejected[0]), "a rejected order is not in Alpaca's book");
    let events: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE kind = 'rejected'", [], |r| r.get(0)).unwrap();
    assert_eq!(events, 1);
}
