//! Portfolio state: cash, positions per symbol, fills, and round-trip trades.

mod costs;
mod ledger;

pub use costs::{CostConfig, FillQuote, Venue};
pub(crate) use ledger::QTY_EPS;
pub use ledger::{Fill, Trade, TradeLedger};

use serde::{Deserialize, Serialize};

/// Portfolio rules (`[portfolio]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// Starting cash.
    pub initial_cash: f64,
    /// Allow short positions (negative targets); when false they are clipped to 0.
    pub allow_short: bool,
    /// Largest |weight| of one symbol, as a fraction of equity.
    pub max_position: f64,
    /// Largest sum of |weights| (gross exposure), as a fraction of equity.
    pub max_gross: f64,
    /// Go flat at the end of each regular session (equities) and stay flat until the next.
    pub flatten_at_close: bool,
    /// Allow fractional quantities for equities (crypto is always fractional).
    pub fractional: bool,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        PortfolioConfig {
            initial_cash: 100_000.0,
            allow_short: true,
            max_position: 1.0,
            max_gross: 1.0,
            flatten_at_close: false,
            fractional: false,
        }
    }
}
