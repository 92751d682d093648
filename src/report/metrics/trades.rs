//! Trade statistics over round trips: win rate (share of trades with P&L > 0), profit
//! factor (gross profit / gross loss), average trade P&L and return.

use crate::portfolio::Trade;

/// Round-trip statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeStats {
    /// Number of round trips.
    pub trades: usize,
    /// Share of round trips with P&L > 0, in [0, 1] (NaN without trades).
    pub win_rate: f64,
    /// Gross profit / gross loss (NaN without a losing trade).
    pub profit_factor: f64,
    /// Mean round-trip P&L net of commissions, in currency.
    pub avg_trade: f64,
    /// Mean round-trip return: P&L over peak entry notional.
    pub avg_trade_return: f64,
}

/// Computes trade statistics; NaN where undefined (no trades, no losses).
pub fn trade_stats(trades: &[Trade]) -> TradeStats {
    let n = trades.len();
    if n == 0 {
        return TradeStats {
            trades: 0,
            win_rate: f64::NAN,
            profit_factor: f64::NAN,
            avg_trade: f64::NAN,
            avg_trade_return: f64::NAN,
        };
    }
    let wins = trades.iter().filter(|t| t.pnl > 0.0).count();
    // `+ 0.0`: an empty f64 sum is −0.0, and a book of only losers printed "-0.00".
    let gross_win = trades.iter().filter(|t| t.pnl > 0.0).map(|t| t.pnl).sum::<f64>() + 0.0;
    let gross_loss = trades.iter().filter(|t| t.pnl < 0.0).map(|t| -t.pnl).sum::<f64>() + 0.0;
    TradeStats {
        trades: n,
        win_rate: wins as f64 / n as f64,
        profit_factor: if gross_loss > 0.0 { gross_win / gross_loss } else { f64::NAN },
        avg_trade: trades.iter().map(|t| t.pnl).sum::<f64>() / n as f64,
        avg_trade_return: trades.iter().map(|t| t.ret).sum::<f64>() / n as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pnl: f64, ret: f64) -> Trade {
        Trade {
            symbol: 0,
            direction: 1,
            entry_ts: 0,
            exit_ts: 1,
            peak_qty: 1.0,
            entry_price: 1.0,
            exit_price: 1.0,
            pnl,
            ret,
            commission: 0.0,
            fills: 2,
            open: false,
        }
    }

    #[test]
    fn test_trade_stats_hand_computed() {
        let s = trade_stats(&[t(100.0, 0.1), t(-50.0, -0.05), t(30.0, 0.03), t(-20.0, -0.02)]);
        assert_eq!(s.trades, 4);
        assert_eq!(s.win_rate, 0.5);
        assert!((s.profit_factor - 130.0 / 70.0).abs() < 1e-12);
        let losers = trade_stats(&[t(-50.0, -0.05)]);
        assert!(losers.profit_factor == 0.0 && losers.profit_factor.is_sign_positive());
        assert!((s.avg_trade - 15.0).abs() < 1e-12);
        assert!((s.avg_trade_return - 0.015).abs() < 1e-12);
        assert!(trade_stats(&[t(1.0, 0.1)]).profit_factor.is_nan());
        assert!(trade_stats(&[]).win_rate.is_nan());
    }
}
