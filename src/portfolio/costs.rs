//! Transaction costs: commission and slippage, charged on every fill.
//!
//! - Commission per fill: `max(min, bps·1e-4·notional + per_share·|qty|)` (the shape of
//!   Interactive Brokers' tiered US equity schedule: a per-share rate with a per-order
//!   minimum, plus an optional notional rate as crypto venues charge).
//! - Slippage, in basis points of the open price, paid against the trader:
//!   `slippage_bps + impact_bps · sqrt(q / V)` where `q / V` is the fill's participation in
//!   the bar's volume — the square-root market-impact law (Almgren, Thum, Hauptmann & Li,
//!   "Direct Estimation of Equity Market Impact", 2005; Tóth et al., 2011). `impact_bps` is
//!   the impact of trading a whole bar's volume.
//! - Participation cap: a fill takes at most `max_participation · V` of a bar; the rest of
//!   the order waits for the next bar (a bar with zero volume fills nothing).
//!
//! Crypto volume in the shipped BTCUSDT data is in quote currency (USDT), so for crypto
//! symbols `q / V` uses notional over volume when `crypto_volume_in_quote` is true.

use serde::{Deserialize, Serialize};

/// Cost parameters (`[costs]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// Commission in basis points of fill notional.
    pub commission_bps: f64,
    /// Commission per share (unit) traded.
    pub commission_per_share: f64,
    /// Minimum commission per fill.
    pub commission_min: f64,
    /// Fixed slippage in basis points of the fill's reference price.
    pub slippage_bps: f64,
    /// Square-root impact coefficient: extra bps when trading 100% of a bar's volume.
    pub impact_bps: f64,
    /// Largest fraction of a bar's volume one fill may take, in (0, 1].
    pub max_participation: f64,
    /// Crypto bar volume is quoted in the quote currency (true for the shipped BTCUSDT file).
    pub crypto_volume_in_quote: bool,
}

impl Default for CostConfig {
    fn default() -> Self {
        CostConfig {
            commission_bps: 0.0,
            commission_per_share: 0.005,
            commission_min: 1.0,
            slippage_bps: 1.0,
            impact_bps: 10.0,
            max_participation: 0.1,
            crypto_volume_in_quote: true,
        }
    }
}

/// A fill's price and costs, as computed by [`CostConfig::fill`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillQuote {
    /// Signed quantity filled (0 if nothing could fill).
    pub qty: f64,
    /// Price paid (buy) or received (sell), slippage included.
    pub price: f64,
    /// Commission in currency: max(commission_min, bps·1e-4·notional + per_share·|qty|).
    pub commission: f64,
    /// Slippage cost in currency: |price - reference| · |qty|.
    pub slippage: f64,
}

impl CostConfig {
    /// Commission of a fill of `qty` units at `price`.
    pub fn commission(&self, qty: f64, price: f64) -> f64 {
        let q = qty.abs();
        if q == 0.0 {
            return 0.0;
        }
        (self.commission_bps * 1e-4 * q * price + self.commission_per_share * q).max(self.commission_min)
    }

    /// Bar volume expressed in units of the asset.
    fn volume_units(&self, volume: f64, price: f64, quote_volume: bool) -> f64 {
        if quote_volume && self.crypto_volume_in_quote { volume / price } else { volume }
    }

    /// Fills as much of a signed order `want` as the bar allows, at `reference` (the bar's
    /// open) adjusted for slippage. `quote_volume` marks a symbol whose volume is in quote
    /// currency.
    pub fn fill(&self, want: f64, reference: f64, volume: f64, quote_volume: bool) -> FillQuote {
        let v = self.volume_units(volume, reference, quote_volume);
        let cap = (self.max_participation * v).max(0.0);
        let q = want.abs().min(cap);
        if q <= 0.0 || !q.is_finite() {
            return FillQuote { qty: 0.0, price: reference, commission: 0.0, slippage: 0.0 };
        }
        let participation = if v > 0.0 { q / v } else { 1.0 };
        let bps = self.slippage_bps + self.impact_bps * participation.sqrt();
        let side = want.signum();
        let price = reference * (1.0 + side * bps * 1e-4);
        FillQuote {
            qty: side * q,
            price,
            commission: self.commission(q, price),
            slippage: (price - reference).abs() * q,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs() -> CostConfig {
        CostConfig {
            commission_bps: 1.0,
            commission_per_share: 0.005,
            commission_min: 1.0,
            slippage_bps: 2.0,
            impact_bps: 10.0,
            max_participation: 0.1,
            crypto_volume_in_quote: true,
        }
    }

    #[test]
    fn test_commission_minimum_and_rates() {
        let c = costs();
        // 100 sh at $10: 1bp of 1000 = 0.1, plus 0.5 -> 0.6, below the $1 minimum.
        assert_eq!(c.commission(100.0, 10.0), 1.0);
        // 10,000 sh at $50: 1bp of 500k = 50, plus 50 -> 100.
        assert!((c.commission(-10_000.0, 50.0) - 100.0).abs() < 1e-9);
        assert_eq!(c.commission(0.0, 50.0), 0.0);
    }

    #[test]
    fn test_fill_slippage_sqrt_impact_hand_computed() {
        let c = costs();
        // Buy 100 of a 10,000-volume bar at 50: participation 1%, sqrt = 0.1 -> 2 + 1 = 3 bps.
        let f = c.fill(100.0, 50.0, 10_000.0, false);
        assert_eq!(f.qty, 100.0);
        assert!((f.price - 50.0 * 1.0003).abs() < 1e-12);
        assert!((f.slippage - 0.015 * 100.0).abs() < 1e-9);
        // Sell side pays below the open.
        let s = c.fill(-100.0, 50.0, 10_000.0, false);
        assert!(s.price < 50.0 && s.qty == -100.0);
    }

    #[test]
    fn test_fill_participation_cap_and_zero_volume() {
        let c = costs();
        let f = c.fill(5_000.0, 10.0, 10_000.0, false);
        assert_eq!(f.qty, 1_000.0);
        let z = c.fill(5_000.0, 10.0, 0.0, false);
        assert_eq!(z.qty, 0.0);
        assert_eq!(z.commission, 0.0);
    }

    #[test]
    fn test_fill_quote_volume_converted_to_units() {
        let c = costs();
        // Volume 1,000,000 USDT at price 50,000 is 20 units; cap 10% = 2 units.
        let f = c.fill(5.0, 50_000.0, 1_000_000.0, true);
        assert_eq!(f.qty, 2.0);
    }
}
