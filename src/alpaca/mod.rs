//! Alpaca: the market-data and trading APIs over HTTP (reqwest, blocking), and a fake of
//! them for tests.
//!
//! - [`http`]: keys from the environment only, timeouts, a client-side rate limiter,
//!   retries with jittered backoff that honour `Retry-After` and `X-RateLimit-Reset`,
//!   errors that never show the keys;
//! - [`model`]: the documented JSON (decimals as strings in the trading API);
//! - [`trading`]: account, positions, orders, and placing an order exactly once (looked up
//!   by client order id before any re-send);
//! - [`data`]: historical bars, paginated (`/v2/stocks/bars`, `/v1beta3/crypto/us/bars`);
//! - [`fake`]: an HTTP server on 127.0.0.1 speaking the same JSON, with a fill model and
//!   scriptable faults.
//!
//! No machine of this project reaches Alpaca, so everything here is tested against the
//! fake; the real endpoints are the defaults of the base URLs, which are config keys.

pub mod data;
pub mod fake;
pub mod http;
pub mod model;
pub mod trading;

pub use http::{AlpacaError, Http, HttpConfig, Keys};
pub use trading::{Placed, Trading};

/// Alpaca's paper trading API.
pub const PAPER_TRADING_URL: &str = "https://paper-api.alpaca.markets";
/// Alpaca's market-data API.
pub const DATA_URL: &str = "https://data.alpaca.markets";

use serde::{Deserialize, Serialize};

/// `[alpaca]`: where Alpaca is and how quorum talks to it. The keys are never here: they
/// come from the environment only (`http::Keys`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlpacaConfig {
    /// Trading API base URL: paper by default (`https://api.alpaca.markets` trades real money).
    pub trading_url: String,
    /// Market-data API base URL.
    pub data_url: String,
    /// Stock data feed: `iex` (free) or `sip`.
    pub feed: String,
    /// Seconds before a request without a reply is given up (then retried or looked up).
    pub timeout_secs: f64,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Requests per minute the client allows itself (Alpaca: 200 per account).
    pub requests_per_minute: usize,
    /// Send market orders for stocks outside the regular session (Alpaca queues or rejects them).
    pub outside_session: bool,
    /// `--feed alpaca`: seconds after an interval's close to ask for its bar (bars settle).
    pub bar_delay_secs: f64,
}

impl Default for AlpacaConfig {
    fn default() -> Self {
        AlpacaConfig {
            trading_url: PAPER_TRADING_URL.into(),
            data_url: DATA_URL.into(),
            feed: "iex".into(),
            timeout_secs: 10.0,
            max_attempts: 5,
            requests_per_minute: 200,
            outside_session: false,
            bar_delay_secs: 3.0,
        }
    }
}

impl AlpacaConfig {
    /// Checks every key, naming the first bad one.
    pub fn validate(&self) -> Result<(), crate::error::InvalidValue> {
        use crate::error::InvalidValue;
        for (key, url) in [("alpaca.trading_url", &self.trading_url), ("alpaca.data_url", &self.data_url)] {
            // The keys travel in headers: plain http only to this machine (the fake).
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| url.starts_with(p));
            if !(url.starts_with("https://") || local) {
                return Err(InvalidValue::new(
                    key,
                    url,
                    "must be an https:// URL (http:// only for 127.0.0.1 or localhost)",
                ));
            }
        }
        if self.feed != "iex" && self.feed != "sip" {
            return Err(InvalidValue::new("alpaca.feed", &self.feed, "must be \"iex\" or \"sip\""));
        }
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err(InvalidValue::new("alpaca.timeout_secs", self.timeout_secs, "must be > 0"));
        }
        if !(self.bar_delay_secs.is_finite() && (0.0..=3600.0).contains(&self.bar_delay_secs)) {
            return Err(InvalidValue::new("alpaca.bar_delay_secs", self.bar_delay_secs, "must be between 0 and 3600"));
        }
        if self.max_attempts == 0 {
            return Err(InvalidValue::new("alpaca.max_attempts", self.max_attempts, "must be >= 1"));
        }
        if self.requests_per_minute == 0 {
            return Err(InvalidValue::new("alpaca.requests_per_minute", self.requests_per_minute, "must be >= 1"));
        }
        Ok(())
    }

    /// The HTTP settings for `base` (one of the URLs above).
    pub fn http(&self, base: &str) -> HttpConfig {
        let mut h = HttpConfig::new(base);
        h.timeout = std::time::Duration::from_secs_f64(self.timeout_secs);
        h.max_attempts = self.max_attempts;
        h.per_minute = self.requests_per_minute;
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain http only to this machine (the keys travel in headers); every key is checked.
    #[test]
    fn test_alpaca_config_refuses_plain_http_elsewhere() {
        let mut c = AlpacaConfig::default();
        c.validate().unwrap();
        c.trading_url = "http://127.0.0.1:8080".into();
        c.validate().unwrap();
        c.trading_url = "http://paper-api.alpaca.markets".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("alpaca.trading_url") && e.contains("https://"), "{e}");
        let c = AlpacaConfig { feed: "otc".into(), ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("alpaca.feed"));
        for d in [-1.0, f64::NAN, 4000.0] {
            let c = AlpacaConfig { bar_delay_secs: d, ..Default::default() };
            assert!(c.validate().unwrap_err().to_string().contains("alpaca.bar_delay_secs"), "{d}");
        }
    }
}
