//! The HTTP side of Alpaca: keys from the environment, a client with a timeout on every
//! request, a client-side rate limiter, retries with jittered exponential backoff, and
//! errors that say what happened without ever showing the keys.
//!
//! - **Keys** come from `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY` only (never a config file
//!   or a flag). They travel in the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers and
//!   nowhere else: not in URLs, logs, errors, the journal or artifacts. `Keys`' `Debug`
//!   prints nothing of them.
//! - **Rate limit**: Alpaca allows 200 requests a minute per account; the limiter keeps the
//!   send times of the last `per_minute` requests and waits for the oldest to leave the
//!   window before sending more (a sliding window, so a burst can never exceed it).
//! - **Retries**: connection failures, timeouts, 429 and 5xx are retried up to
//!   `max_attempts` with "full jitter" exponential backoff (AWS architecture blog,
//!   "Exponential Backoff And Jitter", 2015: sleep = random(0, min(cap, base·2^attempt))),
//!   and at least as long as the server asks: `Retry-After` (seconds) or
//!   `X-RateLimit-Reset` (Unix seconds). 4xx other than 429 are not retried (403: buying
//!   power; 422: a bad order), and neither is anything whose effect is unknown when the
//!   request is not idempotent: a `POST /v2/orders` that timed out may have arrived, so the
//!   caller looks it up by client order id before sending it again (`trading`).
//! - **Errors** name the method and path, the HTTP status and Alpaca's code and message, or
//!   say that the reply was not the JSON expected (with the start of the body: an HTML
//!   error page is shown as such).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::ApiError;
use crate::engine::clock::{Clock, WallClock};
use crate::rng::SplitMix64;

/// The environment variable holding the key id.
pub const KEY_ID_VAR: &str = "APCA_API_KEY_ID";
/// The environment variable holding the secret key.
pub const SECRET_VAR: &str = "APCA_API_SECRET_KEY";

/// API keys, from the environment only.
#[derive(Clone)]
pub struct Keys {
    id: String,
    secret: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(from the environment, not shown)")
    }
}

impl Keys {
    /// The keys in `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`.
    pub fn from_env() -> Result<Keys, AlpacaError> {
        Keys::from_lookup(|k| std::env::var(k).ok())
    }

    /// The keys from `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Keys, AlpacaError> {
        let id = lookup(KEY_ID_VAR).filter(|v| !v.trim().is_empty());
        let secret = lookup(SECRET_VAR).filter(|v| !v.trim().is_empty());
        match (id, secret) {
            (Some(id), Some(secret)) => Ok(Keys { id, secret }),
            (id, secret) => {
                let missing: Vec<&'static str> = [(KEY_ID_VAR, id.is_none()), (SECRET_VAR, secret.is_none())]
                    .iter()
                    .filter(|x| x.1)
                    .map(|x| x.0)
                    .collect();
                Err(AlpacaError::MissingKeys { missing: missing.join(" and ") })
            }
        }
    }

    /// Keys given directly (tests against the fake server).
    pub fn new(id: &str, secret: &str) -> Keys {
        Keys { id: id.into(), secret: secret.into() }
    }
}

/// What went wrong talking to Alpaca. No variant ever holds the keys.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlpacaError {
    /// The keys are not in the environment.
    #[error(
        "Alpaca keys missing: set {missing} in the environment (quorum reads the keys from APCA_API_KEY_ID and APCA_API_SECRET_KEY only, never from files or flags)"
    )]
    MissingKeys {
        /// The variables not set.
        missing: String,
    },
    /// Alpaca answered with an error status (after any retries).
    #[error("{method} {path}: HTTP {status}{}: {message}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Status {
        /// `GET`, `POST`, …
        method: &'static str,
        /// The path (no host, no keys).
        path: String,
        /// The HTTP status.
        status: u16,
        /// Alpaca's error code, when the body had one.
        code: Option<i64>,
        /// Alpaca's message, or the start of the body.
        message: String,
    },
    /// No reply in time (after any retries).
    #[error("{method} {path}: no reply within {timeout_ms} ms ({attempts} attempt(s))")]
    Timeout {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// The per-request timeout.
        timeout_ms: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed or closed before a reply (after any retries).
    #[error("{method} {path}: connection failed ({detail}; {attempts} attempt(s))")]
    Connection {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// What the HTTP client said.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A success status with a body that is not the JSON expected.
    #[error("{method} {path}: the reply is not the expected JSON ({detail}); it starts: {excerpt:?}")]
    Malformed {
        /// Method.
        method: &'static str,
        /// Path.
        path: String,
        /// The parse error.
        detail: String,
        /// The first 120 characters of the body.
        excerpt: String,
    },
}

impl AlpacaError {
    /// The HTTP status, if Alpaca answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AlpacaError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the request may have reached Alpaca without us seeing the answer (timeouts,
    /// lost connections, 5xx): for an order, look it up before sending it again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, AlpacaError::Timeout { .. } | AlpacaError::Connection { .. })
            || self.status().is_some_and(|s| s >= 500)
    }
}

/// How the client talks to one Alpaca host.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Base URL, e.g. `https://paper-api.alpaca.markets` (tests: the fake's `http://127.0.0.1:PORT`).
    pub base: String,
    /// Timeout of each request (connect + reply).
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff base (the first retry waits up to this).
    pub backoff_base: Duration,
    /// Backoff cap.
    pub backoff_cap: Duration,
    /// Requests allowed per rolling `window` (Alpaca: 200 a minute).
    pub per_minute: usize,
    /// The rate limit's window (a minute; tests shorten it).
    pub window: Duration,
    /// Longest wait honoured for `Retry-After` / `X-RateLimit-Reset`.
    pub max_wait: Duration,
}

impl HttpConfig {
    /// Alpaca's documented limits with quorum's defaults: 10 s timeout, 5 attempts, backoff
    /// from 250 ms up to 8 s, 200 requests a minute, waits of at most 60 s.
    pub fn new(base: &str) -> Self {
        HttpConfig {
            base: base.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(8),
            per_minute: 200,
            window: Duration::from_secs(60),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Whether a request may be sent again after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// Reads: retried after timeouts and lost connections too.
    Yes,
    /// Order placement: retried only after a 429 (a request refused for the rate limit
    /// was not processed). After a timeout, a lost connection or a 5xx the outcome is
    /// unknown: the error goes back to the caller, who looks the order up by its client id
    /// before sending it again.
    No,
}

/// A blocking client for one Alpaca host (see the module docs).
pub struct Http {
    cfg: HttpConfig,
    keys: Keys,
    client: reqwest::blocking::Client,
    sent: VecDeque<Instant>,
    rng: SplitMix64,
    /// Requests sent (attempts), for tests and logs.
    pub attempts: u64,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.cfg.base).finish()
    }
}

/// What one attempt gave.
enum Attempt {
    Reply { status: u16, body: String, wait: Option<Duration> },
    Timeout,
    Failed(String),
}

impl Http {
    /// A client for `cfg.base` with `keys`.
    pub fn new(cfg: HttpConfig, keys: Keys) -> Result<Http, AlpacaError> {
        // No redirects: reqwest would forward the APCA-API-* headers to another host.
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("quorum/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlpacaError::Connection {
                method: "-",
                path: cfg.base.clone(),
                detail: format!("cannot build the HTTP client: {e}"),
                attempts: 0,
            })?;
        let seed = WallClock.now() as u64;
        Ok(Http { cfg, keys, client, sent: VecDeque::new(), rng: SplitMix64(seed), attempts: 0 })
    }

    /// The client's settings.
    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// `GET path` parsed as `T`.
    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, AlpacaError> {
        let body = self.send("GET", path, None, Idempotent::Yes)?;
        parse("GET", path, &body)
    }

    /// `GET path` parsed as `T`, or `None` when Alpaca says it has no such thing (404 with
    /// its "not found" body; a 404 from anything else, a proxy or a wrong base URL, is an
    /// error, not an absence).
    pub fn get_opt<T: DeserializeOwned>(&mut self, path: &str) -> Result<Option<T>, AlpacaError> {
        match self.send("GET", path, None, Idempotent::Yes) {
            Ok(body) => parse("GET", path, &body).map(Some),
            Err(AlpacaError::Status { status: 404, code, message, .. })
                if code == Some(40410000) || message.to_ascii_lowercase().contains("not found") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE path` (the body of the reply, if any, is ignored).
    pub fn delete(&mut self, path: &str) -> Result<(), AlpacaError> {
        self.send("DELETE", path, None, Idempotent::Yes).map(|_| ())
    }

    /// `POST path` with `body` as JSON, parsed as `T`.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
        idempotent: Idempotent,
    ) -> Result<T, AlpacaError> {
        let json = serde_json::to_string(body).map_err(|e| AlpacaError::Malformed {
            method: "POST",
            path: path.into(),
            detail: format!("cannot encode the request: {e}"),
            excerpt: String::new(),
        })?;
        let reply = self.send("POST", path, Some(json), idempotent)?;
        parse("POST", path, &reply)
    }

    /// Waits until one more request fits in the rolling minute.
    fn throttle(&mut self) {
        let window = self.cfg.window;
        let now = Instant::now();
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= window) {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.cfg.per_minute.max(1)
            && let Some(oldest) = self.sent.front().copied()
        {
            let wait = window.saturating_sub(now.duration_since(oldest));
            tracing::debug!(wait_ms = wait.as_millis() as u64, "client-side rate limit: waiting");
            std::thread::sleep(wait);
            self.sent.pop_front();
        }
        self.sent.push_back(Instant::now());
    }

    fn attempt(&mut self, method: &'static str, path: &str, body: Option<&str>) -> Attempt {
        self.throttle();
        self.attempts += 1;
        let url = format!("{}{}", self.cfg.base, path);
        let req = match method {
            "POST" => self.client.post(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.get(&url),
        };
        let req = req.header("APCA-API-KEY-ID", &self.keys.id).header("APCA-API-SECRET-KEY", &self.keys.secret);
        let req = match body {
            Some(b) => req.header("Content-Type", "application/json").body(b.to_string()),
            None => req,
        };
        match req.send() {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let wait = server_wait(resp.headers());
                match resp.text() {
                    Ok(body) => Attempt::Reply { status, body, wait },
                    Err(e) if e.is_timeout() => Attempt::Timeout,
                    Err(e) => Attempt::Failed(describe(e)),
                }
            }
            Err(e) if e.is_timeout() => Attempt::Timeout,
            Err(e) => Attempt::Failed(describe(e)),
        }
    }

    /// Sends with retries (see the module docs); the body of a 2xx reply.
    fn send(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<String>,
        idempotent: Idempotent,
    ) -> Result<String, AlpacaError> {
        let max = self.cfg.max_attempts.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let (err, server_wait) = match self.attempt(method, path, body.as_deref()) {
                Attempt::Reply { status, body, .. } if (200..300).contains(&status) => return Ok(body),
                Attempt::Reply { status, body, wait } => {
                    let e = status_error(method, path, status, &body);
                    let retry = status == 429 || (status >= 500 && idempotent == Idempotent::Yes);
                    if !retry {
                        return Err(e);
                    }
                    (e, wait)
                }
                Attempt::Timeout => {
                    let e = AlpacaError::Timeout {
                        method,
                        path: path.into(),
                        timeout_ms: self.cfg.timeout.as_millis() as u64,
                        attempts: n,
                    };
                    if idempotent == Idempotent::No {
                        return Err(e);
                    }
                    (e, None)
                }
                Attempt::Failed(detail) => {
                    let e = AlpacaError::Connection { method, path: path.into(), detail, attempts: n };
                    if idempotent == Idempotent::No {
                        return Err(e);
                    }
                    (e, None)
                }
            };
            if n >= max {
                return Err(with_attempts(err, n));
            }
            let cap = self.cfg.backoff_cap.min(self.cfg.backoff_base.saturating_mul(1 << (n - 1).min(20)));
            let jitter = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let backoff = cap.mul_f64(jitter);
            let wait = backoff.max(server_wait.unwrap_or_default().min(self.cfg.max_wait));
            tracing::warn!(method, path, attempt = n, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
            std::thread::sleep(wait);
        }
    }
}

fn with_attempts(e: AlpacaError, n: u32) -> AlpacaError {
    match e {
        AlpacaError::Timeout { method, path, timeout_ms, .. } => {
            AlpacaError::Timeout { method, path, timeout_ms, attempts: n }
        }
        AlpacaError::Connection { method, path, detail, .. } => {
            AlpacaError::Connection { method, path, detail, attempts: n }
        }
        other => other,
    }
}

/// What the server asks us to wait: `Retry-After` seconds, or until `X-RateLimit-Reset`
/// (Unix seconds) when nothing is left of the quota.
fn server_wait(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let num = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    // Clamped before conversion: `inf` or 1e20 would panic `from_secs_f64`.
    let secs = |s: f64| Duration::from_secs_f64(if s.is_finite() { s.clamp(0.0, 3600.0) } else { 3600.0 });
    if let Some(s) = num("retry-after").filter(|s| *s >= 0.0) {
        return Some(secs(s));
    }
    let remaining = num("x-ratelimit-remaining");
    match num("x-ratelimit-reset") {
        Some(reset) if remaining.is_none_or(|r| r <= 0.0) => {
            let now = WallClock.now() as f64 / 1e9;
            Some(secs(reset - now))
        }
        _ => None,
    }
}

/// The HTTP client's error in words, without the URL's query (no keys are ever in it, but
/// it can be long).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn excerpt(body: &str) -> String {
    body.chars().take(120).collect::<String>().replace(['\n', '\r'], " ")
}

fn status_error(method: &'static str, path: &str, status: u16, body: &str) -> AlpacaError {
    let (code, message) = match serde_json::from_str::<ApiError>(body) {
        Ok(e) if !e.message.is_empty() => (e.code, e.message),
        _ => (None, format!("(not Alpaca's JSON error body) {:?}", excerpt(body))),
    };
    AlpacaError::Status { method, path: path.into(), status, code, message }
}

fn parse<T: DeserializeOwned>(method: &'static str, path: &str, body: &str) -> Result<T, AlpacaError> {
    serde_json::from_str(body).map_err(|e| AlpacaError::Malformed {
        method,
        path: path.into(),
        detail: e.to_string(),
        excerpt: excerpt(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Missing keys name the variables; `Debug` shows nothing of them.
    #[test]
    fn test_keys_from_env_only_and_never_shown() {
        let e = Keys::from_lookup(|_| None).unwrap_err().to_string();
        assert!(e.contains("APCA_API_KEY_ID and APCA_API_SECRET_KEY"), "{e}");
        let e = Keys::from_lookup(|k| (k == KEY_ID_VAR).then(|| "PKTEST".to_string())).unwrap_err().to_string();
        assert!(e.contains("set APCA_API_SECRET_KEY in"), "{e}");
        let k = Keys::from_lookup(|k| Some(format!("{k}-value-s3cr3t"))).unwrap();
        assert!(!format!("{k:?}").contains("s3cr3t"));
    }
}
