//! Transaction costs: commission and slippage, charged on every fill, on the prices and
//! share counts as they were traded.
//!
//! - Commission per order: `max(min, bps·1e-4·notional + per_share·|qty|)` over the whole
//!   order (the shape of Interactive Brokers' tiered US equity schedule: a per-share rate
//!   with a per-order minimum, plus an optional notional rate as crypto venues charge). An
//!   order filled in parts over several bars pays the minimum once: each part pays
//!   `max(min, R + r) − max(min, R)`, with R the rate of the parts before and r its own
//!   (the first part pays `max(min, r)`). The notional is at the executed price, slippage
//!   included, as a broker bills it.
//! - Slippage, in basis points of the open price, paid against the trader:
//!   `slippage_bps + impact_bps · sqrt(q / V)` where `q / V` is the fill's participation in
//!   the volume of the symbol's **previous** bar — the square-root market-impact law
//!   (Almgren, Thum, Hauptmann & Li, "Direct Estimation of Equity Market Impact", 2005;
//!   Tóth et al., 2011). `impact_bps` is the impact of trading a whole bar's volume. The
//!   fill bar's own volume is not known at its open, so it never sizes a fill; it only says
//!   whether the bar traded at all (a zero-volume bar fills nothing).
//! - Participation cap: a fill takes at most `max_participation · V` (V: the previous bar's
//!   volume, as above); the rest of the order waits for the next bar.
//! - Whole shares: equities fill whole shares unless `portfolio.fractional`; a capped fill is
//!   rounded down, so the remainder carried to the next bar is whole too. Crypto is
//!   fractional.
//! - As traded: bars may be back-adjusted for splits ([`crate::market::AsTraded`]). With
//!   `f` the factor in force at the fill (as-traded price = adjusted price × f), the cap,
//!   rounding, impact and commission use `price × f` and `qty / f`; the fill is reported
//!   back in adjusted units, so P&L stays in adjusted terms. AAPL before its June 2000
//!   split (f = 2·2·7·4 = 112 on the 2021 basis) pays commission on the shares actually
//!   traded. An order that spans a split and is left with less than one whole share is
//!   cancelled (`broker::SimBroker`); a position's fraction is paid out in cash (`engine`).
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
    /// Minimum commission per order.
    pub commission_min: f64,
    /// Fixed slippage in basis points of the fill's reference price.
    pub slippage_bps: f64,
    /// Square-root impact coefficient: extra bps when trading 100% of a bar's volume.
    pub impact_bps: f64,
    /// Largest fraction of the previous bar's volume one fill may take, in (0, 1].
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

/// What the venue offers a fill, as known at the fill bar's open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Venue {
    /// The fill bar's open (adjusted).
    pub open: f64,
    /// Volume of the symbol's previous bar (adjusted units), which sizes the fill.
    pub known_volume: f64,
    /// The fill bar trades at all (its volume is positive).
    pub trades: bool,
    /// Volume is in quote currency (crypto).
    pub quote_volume: bool,
    /// Fractional quantities allowed.
    pub fractional: bool,
    /// As-traded factor: as-traded price = adjusted price × factor.
    pub factor: f64,
}

/// A fill's price and costs, as computed by [`CostConfig::fill`], in adjusted units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillQuote {
    /// Signed quantity filled (0 if nothing could fill).
    pub qty: f64,
    /// Price paid (buy) or received (sell), slippage included.
    pub price: f64,
    /// Commission in currency (this part's share of the order's, see the module docs).
    pub commission: f64,
    /// Slippage cost in currency: |price - reference| · |qty|.
    pub slippage: f64,
    /// Commission rate of this part before the minimum: bps·1e-4·notional + per_share·|qty|.
    pub rate: f64,
}

/// Tolerance when rounding quantities down to whole shares (undoes float noise in q·f/f).
const WHOLE_EPS: f64 = 1e-6;

impl CostConfig {
    /// Commission of a single fill of `qty` units at `price` that is a whole order.
    pub fn commission(&self, qty: f64, price: f64) -> f64 {
        let q = qty.abs();
        if q == 0.0 {
            return 0.0;
        }
        self.rate(q, price).max(self.commission_min)
    }

    fn rate(&self, q: f64, price: f64) -> f64 {
        self.commission_bps * 1e-4 * q * price + self.commission_per_share * q
    }

    /// Bar volume expressed in units of the asset.
    fn volume_units(&self, volume: f64, price: f64, quote_volume: bool) -> f64 {
        if quote_volume && self.crypto_volume_in_quote { volume / price } else { volume }
    }

    /// Fills as much of a signed order `want` (adjusted units) as the venue allows, at its
    /// open adjusted for slippage. `paid_rate` is the commission rate of the order's earlier
    /// parts (`None` before its first fill), for the per-order minimum.
    pub fn fill(&self, want: f64, venue: &Venue, paid_rate: Option<f64>) -> FillQuote {
        let none = FillQuote { qty: 0.0, price: venue.open, commission: 0.0, slippage: 0.0, rate: 0.0 };
        let f = if venue.factor.is_finite() && venue.factor > 0.0 { venue.factor } else { 1.0 };
        // As traded: price × f, quantities / f (adjusted volume was multiplied by f).
        let reference = venue.open * f;
        let v = self.volume_units(venue.known_volume / f, reference, venue.quote_volume);
        let cap = (self.max_participation * v).max(0.0);
        let mut q = (want.abs() / f).min(cap);
        if !venue.fractional {
            q = (q + WHOLE_EPS).floor();
        }
        if !venue.trades || q <= 0.0 || !q.is_finite() {
            return none;
        }
        let participation = if v > 0.0 { q / v } else { 1.0 };
        let bps = self.slippage_bps + self.impact_bps * participation.sqrt();
        let side = crate::num::sign(want);
        let price = reference * (1.0 + side * bps * 1e-4);
        let rate = self.rate(q, price);
        let commission = match paid_rate {
            None => rate.max(self.commission_min),
            Some(r) => (r + rate).max(self.commission_min) - r.max(self.commission_min),
        };
        FillQuote { qty: side * q * f, price: price / f, commission, slippage: (price - reference).abs() * q, rate }
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

    fn venue(open: f64, volume: f64, quote_volume: bool) -> Venue {
        Venue { open, known_volume: volume, trades: true, quote_volume, fractional: true, factor: 1.0 }
    }

    #[test]
    fn test_fill_slippage_sqrt_impact_hand_computed() {
        let c = costs();
        // Buy 100 of a 10,000-volume bar at 50: participation 1%, sqrt = 0.1 -> 2 + 1 = 3 bps.
        let f = c.fill(100.0, &venue(50.0, 10_000.0, false), None);
        assert_eq!(f.qty, 100.0);
        assert!((f.price - 50.0 * 1.0003).abs() < 1e-12);
        assert!((f.slippage - 0.015 * 100.0).abs() < 1e-9);
        // Sell side pays below the open.
        let s = c.fill(-100.0, &venue(50.0, 10_000.0, false), None);
        assert!(s.price < 50.0 && s.qty == -100.0);
    }

    #[test]
    fn test_fill_participation_cap_and_zero_volume() {
        let c = costs();
        let f = c.fill(5_000.0, &venue(10.0, 10_000.0, false), None);
        assert_eq!(f.qty, 1_000.0);
        let z = c.fill(5_000.0, &venue(10.0, 0.0, false), None);
        assert_eq!(z.qty, 0.0);
        assert_eq!(z.commission, 0.0);
    }

    #[test]
    fn test_fill_quote_volume_converted_to_units() {
        let c = costs();
        // Volume 1,000,000 USDT at price 50,000 is 20 units; cap 10% = 2 units.
        let f = c.fill(5.0, &venue(50_000.0, 1_000_000.0, true), None);
        assert_eq!(f.qty, 2.0);
    }

    #[test]
    fn test_fill_whole_shares_when_cap_binds() {
        // Cap 10% of 1,005 = 100.5 shares: an equity fills 100, never 100.5.
        let c = costs();
        let v = Venue { fractional: false, ..venue(10.0, 1_005.0, false) };
        let f = c.fill(500.0, &v, None);
        assert_eq!(f.qty, 100.0);
        assert_eq!(c.fill(500.0, &venue(10.0, 1_005.0, false), None).qty, 100.5, "fractional allowed");
    }

    #[test]
    fn test_fill_costs_as_traded_with_split_factor() {
        // A factor of 224 (two splits of 2, then 7 and 8): adjusted open 0.5 is 112.0 as traded. An order of
        // 224,000 adjusted shares is 1,000 real shares: $5 per-share commission, not $1,120.
        let c = CostConfig { slippage_bps: 0.0, impact_bps: 0.0, ..costs() };
        let v = Venue { factor: 224.0, fractional: false, ..venue(0.5, 1e9, false) };
        let f = c.fill(224_000.0, &v, None);
        assert_eq!(f.qty, 224_000.0);
        // 1bp of 112,000 = 11.2, plus 1,000 × 0.005 = 5.
        assert!((f.commission - 16.2).abs() < 1e-9, "{}", f.commission);
        assert!((f.price - 0.5).abs() < 1e-12);
        // Whole as-traded shares: 300 adjusted shares are 1.34 real shares -> 1 share = 224.
        assert_eq!(c.fill(300.0, &v, None).qty, 224.0);
    }

    #[test]
    fn test_fill_minimum_commission_once_per_order() {
        // Two parts of 100 shares at $10 with no bps: rates 0.5 + 0.5 = 1.0; the minimum $1
        // is paid once: the first part pays 1.0, the second 0.
        let c = CostConfig { commission_bps: 0.0, slippage_bps: 0.0, impact_bps: 0.0, ..costs() };
        let v = venue(10.0, 1_000.0, false);
        let a = c.fill(200.0, &v, None);
        assert_eq!((a.qty, a.commission), (100.0, 1.0));
        let b = c.fill(100.0, &v, Some(a.rate));
        assert_eq!((b.qty, b.commission), (100.0, 0.0));
        // A third part beyond the minimum pays its own rate.
        let d = c.fill(100.0, &v, Some(a.rate + b.rate));
        assert!((d.commission - 0.5).abs() < 1e-12);
    }

    #[test]
    fn test_fill_bar_without_trades_fills_nothing() {
        let c = costs();
        let v = Venue { trades: false, ..venue(10.0, 1e6, false) };
        assert_eq!(c.fill(10.0, &v, None).qty, 0.0);
    }
}
