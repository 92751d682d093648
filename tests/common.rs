//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use quorum::market::LoadOptions;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The shipped multi-symbol minute file.
pub fn equities_1m() -> PathBuf {
    root().join("data/bars/equities_1m_2013-10.csv")
}

/// Loader options for `path` with every filter off.
pub fn opts(path: &Path) -> LoadOptions {
    LoadOptions::new(path)
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A loopback webhook receiver: keeps every JSON body posted to it, answering `status`.
pub struct Hook {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    server: std::sync::Arc<tiny_http::Server>,
}

impl Hook {
    /// Starts a receiver answering every post with `status`.
    pub fn start(status: u16) -> Hook {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (srv, b) = (server.clone(), bodies.clone());
        std::thread::spawn(move || {
            for mut req in srv.incoming_requests() {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut s);
                b.lock().unwrap().push(serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)));
                let _ = req.respond(tiny_http::Response::empty(status));
            }
        });
        Hook { url: format!("http://127.0.0.1:{port}/hook"), bodies, server }
    }

    /// The bodies received of `kind`.
    pub fn of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().iter().filter(|v| v["kind"] == kind).cloned().collect()
    }

    /// Every body received.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// The fake Alpaca accepting `key`/`secret`, serving `bars`, with fixed prices near the
/// shipped week's for its fills (two runs must agree) and no server-side rate limit (a busy
/// day sends ~450 requests). As Alpaca's paper API: a market order comes back `accepted`,
/// unfilled, and fills when next read.
pub fn trading_fake(key: &str, secret: &str, bars: Option<quorum::market::Bars>) -> quorum::alpaca::fake::FakeAlpaca {
    let f = quorum::alpaca::fake::FakeAlpaca::start(key, secret, 100_000.0, bars).unwrap();
    for (s, p) in [("AIG", 49.5), ("BAC", 14.0), ("IBM", 185.0), ("SPY", 168.0)] {
        f.set_price(s, p);
    }
    f.set_rate_limit(1_000_000);
    f.set_fill_on_read(true);
    f
}
