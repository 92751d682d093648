//! The Alpaca client against the fake server on 127.0.0.1: every scripted fault ends with
//! no panic, no order placed twice, and the client's view equal to the fake's book.

use std::time::{Duration, Instant};

use quorum::alpaca::fake::{FakeAlpaca, Fault};
use quorum::alpaca::model::NewOrder;
use quorum::alpaca::{AlpacaError, Http, HttpConfig, Keys, Placed, Trading};

use crate::common::{equities_1m, opts};

const KEY: &str = "PKFAKEKEY";
const SECRET: &str = "fake-s3cret-never-shown";

fn fake() -> FakeAlpaca {
    FakeAlpaca::start(KEY, SECRET, 100_000.0, None).unwrap()
}

/// A client with short timeouts and backoff (the fake answers in microseconds).
fn client(f: &FakeAlpaca) -> Trading {
    let mut cfg = HttpConfig::new(&f.url);
    cfg.timeout = Duration::from_millis(400);
    cfg.backoff_base = Duration::from_millis(10);
    cfg.backoff_cap = Duration::from_millis(50);
    cfg.max_wait = Duration::from_secs(3);
    Trading::new(Http::new(cfg, Keys::new(KEY, SECRET)).unwrap())
}

fn order(coid: &str, qty: &str, side: &str) -> NewOrder {
    NewOrder {
        symbol: "SPY".into(),
        qty: qty.into(),
        side: side.into(),
        order_type: "market".into(),
        time_in_force: "day".into(),
        client_order_id: coid.into(),
    }
}

/// What the client sees by client id equals the fake's book, and each id is one order.
fn assert_one_each(f: &FakeAlpaca, t: &mut Trading) {
    let book = f.orders();
    let mut ids: Vec<&str> = book.iter().map(|o| o.client_order_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), book.len(), "an id placed twice: {book:?}");
    for o in &book {
        let seen = t.by_client_id(&o.client_order_id).unwrap().unwrap();
        assert_eq!((seen.id.as_str(), seen.filled_qty), (o.id.as_str(), o.filled_qty));
    }
}

#[test]
fn test_alpaca_place_fills_and_a_second_send_finds_the_first() {
    let f = fake();
    f.set_price("SPY", 470.25);
    let mut t = client(&f);
    let Placed::Accepted(o) = t.place(&order("q1-0-0-0", "10", "buy")).unwrap() else { panic!("accepted") };
    assert_eq!((o.status.as_str(), o.filled_qty, o.filled_avg_price), ("filled", 10.0, Some(470.25)));
    // The same id again (a restart re-sending its step): Alpaca refuses the copy (422) and
    // the client answers with the order on record.
    assert!(matches!(t.place(&order("q1-0-0-0", "10", "buy")).unwrap(), Placed::AlreadyThere(x) if x.id == o.id));
    assert_eq!(f.posts().len(), 2);
    assert_eq!(f.orders().len(), 1);
    let acct = t.account().unwrap();
    assert!((acct.cash - (100_000.0 - 4702.5)).abs() < 1e-6, "{acct:?}");
    let pos = t.positions().unwrap();
    assert_eq!((pos[0].symbol.as_str(), pos[0].qty), ("SPY", 10.0));
    assert_eq!(t.orders("closed").unwrap().len(), 1);
    assert_one_each(&f, &mut t);
}

#[test]
fn test_alpaca_lost_reply_slow_reply_and_5xx_never_place_twice() {
    let f = fake();
    let mut t = client(&f);
    // The order arrives, the reply is lost: looked up, found, not sent again.
    f.fault("POST", "/v2/orders", Fault::LostReply);
    assert!(matches!(t.place(&order("lost", "1", "buy")).unwrap(), Placed::AlreadyThere(_)));
    // The reply comes after the client's timeout: the same.
    f.fault("POST", "/v2/orders", Fault::Slow(Duration::from_millis(900)));
    assert!(matches!(t.place(&order("slow", "1", "buy")).unwrap(), Placed::AlreadyThere(_)));
    std::thread::sleep(Duration::from_millis(600)); // let the slow reply go out
    // A 503 before processing: looked up (404: it never arrived), sent again, same id.
    f.fault("POST", "/v2/orders", Fault::Status(503));
    assert!(matches!(t.place(&order("busy", "1", "buy")).unwrap(), Placed::Accepted(_)));
    // A gateway's 502 or 504 after Alpaca placed the order: looked up, found, not re-sent.
    for s in [502, 504] {
        f.fault("POST", "/v2/orders", Fault::AfterStatus(s));
        let id = format!("gw{s}");
        assert!(matches!(t.place(&order(&id, "1", "buy")).unwrap(), Placed::AlreadyThere(_)), "{s}");
    }
    assert_eq!(f.posts(), vec!["lost", "slow", "busy", "busy", "gw502", "gw504"]);
    assert_eq!(f.orders().len(), 5);
    assert_one_each(&f, &mut t);
}

#[test]
fn test_alpaca_429_waits_as_told_and_5xx_reads_are_retried() {
    let f = fake();
    let mut t = client(&f);
    f.fault("GET", "/v2/account", Fault::TooMany { retry_after: Some(1), reset_in: None });
    let t0 = Instant::now();
    t.account().unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(950), "Retry-After honoured: {:?}", t0.elapsed());
    f.fault("GET", "/v2/positions", Fault::TooMany { retry_after: None, reset_in: Some(2) });
    let t0 = Instant::now();
    t.positions().unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(900), "X-RateLimit-Reset honoured: {:?}", t0.elapsed());
    for s in [500, 503] {
        f.fault("GET", "/v2/account", Fault::Status(s));
    }
    let before = t.http().attempts;
    t.account().unwrap();
    assert_eq!(t.http().attempts - before, 3, "two 5xx, then the answer");
    // A 429 on an order is retried (Alpaca did not process it), once.
    f.fault("POST", "/v2/orders", Fault::TooMany { retry_after: Some(0), reset_in: None });
    assert!(matches!(t.place(&order("rl", "1", "buy")).unwrap(), Placed::Accepted(_)));
    assert_eq!(f.orders().len(), 1);
}

#[test]
fn test_alpaca_rejects_are_final_and_bad_replies_are_named() {
    let f = fake();
    let mut t = client(&f);
    f.fault("POST", "/v2/orders", Fault::Reject(403));
    let r = t.place(&order("poor", "1", "buy")).unwrap();
    assert!(matches!(&r, Placed::Rejected { status: 403, message, .. } if message.contains("buying power")), "{r:?}");
    let r = t.place(&order("zero", "0", "buy")).unwrap();
    assert!(matches!(&r, Placed::Rejected { status: 422, .. }), "{r:?}");
    assert_eq!(f.posts(), vec!["poor", "zero"], "never retried");
    // A buy far beyond the cash: the fake's own 403.
    assert!(matches!(t.place(&order("huge", "100000", "buy")).unwrap(), Placed::Rejected { status: 403, .. }));
    f.fault("GET", "/v2/account", Fault::Malformed);
    let e = t.account().unwrap_err();
    assert!(matches!(e, AlpacaError::Malformed { .. }) && e.to_string().contains("GET /v2/account"), "{e}");
    // An HTML error page from a proxy, every attempt: named as such.
    let mut one = {
        let mut cfg = HttpConfig::new(&f.url);
        cfg.max_attempts = 1;
        Trading::new(Http::new(cfg, Keys::new(KEY, SECRET)).unwrap())
    };
    f.fault("GET", "/v2/account", Fault::Html);
    let e = one.account().unwrap_err().to_string();
    assert!(e.contains("HTTP 502") && e.contains("<html>"), "{e}");
    // A partial fill: the rest fills later; the client sees both states.
    f.fault("POST", "/v2/orders", Fault::PartialFill(0.4));
    let Placed::Accepted(o) = t.place(&order("part", "10", "buy")).unwrap() else { panic!() };
    assert_eq!((o.status.as_str(), o.filled_qty), ("partially_filled", 4.0));
    let later = t.by_client_id("part").unwrap().unwrap();
    assert_eq!((later.status.as_str(), later.filled_qty), ("filled", 10.0));
    assert_one_each(&f, &mut t);
}

#[test]
fn test_alpaca_wrong_keys_and_rate_limits_without_showing_the_secret() {
    let f = fake();
    let mut cfg = HttpConfig::new(&f.url);
    cfg.max_attempts = 1;
    let mut bad = Trading::new(Http::new(cfg, Keys::new(KEY, "wrong-s3cret")).unwrap());
    let e = bad.account().unwrap_err();
    assert_eq!(e.status(), Some(401));
    for text in [e.to_string(), format!("{e:?}"), format!("{bad:?}")] {
        assert!(!text.contains("s3cret") && !text.contains(KEY), "{text}");
    }
    // The client's own limiter: 3 requests per 1 s window, the 4th waits.
    let mut cfg = HttpConfig::new(&f.url);
    cfg.per_minute = 3;
    cfg.window = Duration::from_secs(1);
    let mut t = Trading::new(Http::new(cfg, Keys::new(KEY, SECRET)).unwrap());
    let t0 = Instant::now();
    for _ in 0..4 {
        t.account().unwrap();
    }
    assert!(t0.elapsed() >= Duration::from_millis(950), "{:?}", t0.elapsed());
    // The server's limit: past it, 429 with X-RateLimit-Reset; the client gives up after
    // its attempts with the status named.
    f.set_rate_limit(0);
    let mut cfg = HttpConfig::new(&f.url);
    cfg.max_attempts = 2;
    cfg.max_wait = Duration::from_millis(100);
    let mut t = Trading::new(Http::new(cfg, Keys::new(KEY, SECRET)).unwrap());
    let e = t.account().unwrap_err().to_string();
    assert!(e.contains("HTTP 429") && e.contains("rate limit"), "{e}");
}

#[test]
fn test_alpaca_bars_paginate_across_symbols_into_the_canonical_table() {
    let (bars, _) = quorum::market::load(&opts(&equities_1m())).unwrap();
    let f = FakeAlpaca::start(KEY, SECRET, 0.0, Some(bars.clone())).unwrap();
    let mut http = Http::new(HttpConfig::new(&f.url), Keys::new(KEY, SECRET)).unwrap();
    let (from, to) = (
        quorum::market::time::parse_rfc3339("2013-10-07T13:30:00Z").unwrap(),
        quorum::market::time::parse_rfc3339("2013-10-07T19:59:00Z").unwrap(),
    );
    let symbols = vec!["SPY".to_string(), "IBM".to_string()];
    let (got, report) = quorum::alpaca::data::fetch_bars(&mut http, &symbols, "1Min", (from, to), "iex", 250).unwrap();
    assert!(report.pages >= 3, "{report:?}");
    assert_eq!(got.symbols, vec!["IBM", "SPY"]);
    let want: Vec<(i64, String, f64)> = (0..bars.len())
        .filter(|&i| {
            bars.ts[i] >= from
                && bars.ts[i] <= to
                && ["IBM", "SPY"].contains(&bars.symbols[bars.sym[i] as usize].as_str())
        })
        .map(|i| (bars.ts[i], bars.symbols[bars.sym[i] as usize].clone(), bars.close[i]))
        .collect();
    let have: Vec<(i64, String, f64)> =
        (0..got.len()).map(|i| (got.ts[i], got.symbols[got.sym[i] as usize].clone(), got.close[i])).collect();
    assert_eq!(have, want);
}

/// `quorum fetch alpaca` writes the fake's bars as a canonical Parquet file that loads to
/// the same rows as the source file; bad flags and missing keys are named.
#[test]
fn test_cli_fetch_alpaca_writes_what_the_loader_reads() {
    let (bars, _) = quorum::market::load(&opts(&equities_1m())).unwrap();
    let f = FakeAlpaca::start(KEY, SECRET, 0.0, Some(bars)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::common::write(dir.path(), "a.toml", &format!("[alpaca]\ndata_url = \"{}\"\n", f.url));
    let out = dir.path().join("spy_ibm.parquet");
    let fetch = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_quorum"));
        c.args(["fetch", "alpaca", "--symbols", "SPY,IBM", "--from", "2013-10-07", "--to", "2013-10-07"])
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET);
        c
    };
    let o = fetch(&[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("IBM,SPY (1Min)"), "{}", String::from_utf8_lossy(&o.stdout));
    let (got, _) = quorum::market::load(&opts(&out)).unwrap();
    let mut want = opts(&equities_1m());
    want.symbols = vec!["SPY".into(), "IBM".into()];
    want.from = Some(quorum::market::time::parse_bound("2013-10-07", false).unwrap());
    want.to = Some(quorum::market::time::parse_bound("2013-10-07", true).unwrap());
    let (want, _) = quorum::market::load(&want).unwrap();
    assert_eq!((got.symbols.clone(), got.ts.clone(), got.close.clone()), (want.symbols, want.ts, want.close));
    let o = fetch(&["--timeframe", "90m"]).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--timeframe 90m"));
    let o = fetch(&[]).env_remove("APCA_API_SECRET_KEY").output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("APCA_API_SECRET_KEY"));
}
