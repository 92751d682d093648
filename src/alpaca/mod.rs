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
