//! Fills and round-trip trades.
//!
//! A trade is a round trip of one symbol: it opens when the position leaves zero and closes
//! when it returns to zero; a fill that flips the sign closes one trade and opens the next
//! (its commission split in proportion to the quantities). Entry and exit prices are
//! quantity-weighted averages; P&L is realised price P&L minus every commission of the
//! trade's fills (slippage is already in the fill prices). A trade's return is its P&L over
//! its peak entry notional (the capital it tied up at most). A trade still open at the end
//! of a run is marked at the last close, without exit costs, and flagged `open`.

use serde::Serialize;

use crate::market::{SymbolId, Ts};

/// Quantities below this are treated as zero (fractional positions).
pub(crate) const QTY_EPS: f64 = 1e-9;

/// One execution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fill {
    /// Start of the bar whose open priced the fill.
    pub ts: Ts,
    /// Step at whose close the order was decided (always before `ts`), or `ts` itself for
    /// a cash-in-lieu payout at a split, which no decision made.
    pub decided_at: Ts,
    /// Dense symbol id of the instrument.
    pub symbol: SymbolId,
    /// Signed quantity: positive buys, negative sells.
    pub qty: f64,
    /// Execution price, slippage included (the bar's open ± slippage).
    pub price: f64,
    /// Commission charged for the fill, in currency.
    pub commission: f64,
    /// Slippage cost in currency.
    pub slippage: f64,
}

/// One round trip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trade {
    /// Dense symbol id of the instrument.
    pub symbol: SymbolId,
    /// +1 long, -1 short.
    pub direction: i8,
    /// Time of the opening fill (bar start), nanoseconds since the Unix epoch.
    pub entry_ts: Ts,
    /// Time of the closing fill, or the last step's bar start if still open.
    pub exit_ts: Ts,
    /// Largest absolute position during the trade.
    pub peak_qty: f64,
    /// Quantity-weighted average entry price.
    pub entry_price: f64,
    /// Quantity-weighted average exit price (the last close for the marked part if open).
    pub exit_price: f64,
    /// Net P&L: price P&L minus commissions.
    pub pnl: f64,
    /// `pnl` over peak entry notional.
    pub ret: f64,
    /// Total commission of the trade's fills, in currency (a flip's fill is split).
    pub commission: f64,
    /// Number of fills that made up the trade (a flipping fill counts in both trades).
    pub fills: u32,
    /// Still open at the end of the run (marked at the last close).
    pub open: bool,
}

#[derive(Debug, Clone)]
struct OpenTrade {
    dir: f64,
    entry_ts: Ts,
    qty: f64,
    peak_qty: f64,
    avg_entry: f64,
    peak_notional: f64,
    exit_qty: f64,
    exit_notional: f64,
    realized: f64,
    commission: f64,
    fills: u32,
}

impl OpenTrade {
    fn new(dir: f64, ts: Ts, qty: f64, price: f64, commission: f64) -> Self {
        OpenTrade {
            dir,
            entry_ts: ts,
            qty,
            peak_qty: qty,
            avg_entry: price,
            peak_notional: qty * price,
            exit_qty: 0.0,
            exit_notional: 0.0,
            realized: 0.0,
            commission,
            fills: 1,
        }
    }

    fn close(self, symbol: SymbolId, ts: Ts, open: bool) -> Trade {
        let pnl = self.realized - self.commission;
        Trade {
            symbol,
            direction: self.dir as i8,
            entry_ts: self.entry_ts,
            exit_ts: ts,
            peak_qty: self.peak_qty,
            entry_price: self.avg_entry,
            exit_price: if self.exit_qty > 0.0 { self.exit_notional / self.exit_qty } else { self.avg_entry },
            pnl,
            ret: if self.peak_notional > 0.0 { pnl / self.peak_notional } else { 0.0 },
            commission: self.commission,
            fills: self.fills,
            open,
        }
    }
}

/// Tracks open round trips per symbol and the closed ones.
#[derive(Debug, Clone, Default)]
pub struct TradeLedger {
    open: Vec<Option<OpenTrade>>,
    /// Round trips closed so far, in closing order.
    pub closed: Vec<Trade>,
}

impl TradeLedger {
    /// A ledger for `n_symbols` symbols.
    pub fn new(n_symbols: usize) -> Self {
        TradeLedger { open: vec![None; n_symbols], closed: Vec::new() }
    }

    /// Records a fill; `position_before` is the symbol's position before it.
    pub fn on_fill(&mut self, fill: &Fill, position_before: f64) {
        let s = fill.symbol as usize;
        let q = fill.qty;
        if q.abs() < QTY_EPS {
            return;
        }
        let dir = q.signum();
        match self.open[s].take() {
            None => {
                self.open[s] = Some(OpenTrade::new(dir, fill.ts, q.abs(), fill.price, fill.commission));
            }
            Some(mut t) if t.dir == dir => {
                let new_qty = t.qty + q.abs();
                t.avg_entry = (t.avg_entry * t.qty + fill.price * q.abs()) / new_qty;
                t.qty = new_qty;
                if new_qty > t.peak_qty {
                    t.peak_qty = new_qty;
                }
                t.peak_notional = t.peak_notional.max(t.avg_entry * new_qty);
                t.commission += fill.commission;
                t.fills += 1;
                self.open[s] = Some(t);
            }
            Some(mut t) => {
                let closing = q.abs().min(t.qty);
                let rest = q.abs() - closing;
                let share = closing / q.abs();
                t.realized += (fill.price - t.avg_entry) * closing * t.dir;
                t.exit_qty += closing;
                t.exit_notional += fill.price * closing;
                t.commission += fill.commission * share;
                t.fills += 1;
                t.qty -= closing;
                debug_assert!(
                    (position_before.abs() - (t.qty + closing)).abs() < 1e-6 * position_before.abs().max(1.0)
                );
                if t.qty <= QTY_EPS {
                    self.closed.push(t.close(fill.symbol, fill.ts, false));
                    if rest > QTY_EPS {
                        self.open[s] =
                            Some(OpenTrade::new(dir, fill.ts, rest, fill.price, fill.commission * (1.0 - share)));
                    }
                } else {
                    self.open[s] = Some(t);
                }
            }
        }
    }

    /// Closes the books: every open trade is marked at `last_price[symbol]` and flagged open.
    pub fn finish(mut self, ts: Ts, last_price: &[f64]) -> Vec<Trade> {
        for (s, slot) in self.open.iter_mut().enumerate() {
            if let Some(mut t) = slot.take() {
                let p = last_price[s];
                t.realized += (p - t.avg_entry) * t.qty * t.dir;
                t.exit_notional += p * t.qty;
                t.exit_qty += t.qty;
                self.closed.push(t.close(s as SymbolId, ts, true));
            }
        }
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(ts: Ts, qty: f64, price: f64, commission: f64) -> Fill {
        Fill { ts, decided_at: ts - 1, symbol: 0, qty, price, commission, slippage: 0.0 }
    }

    #[test]
    fn test_ledger_round_trip_with_scale_in() {
        let mut l = TradeLedger::new(1);
        l.on_fill(&fill(1, 100.0, 10.0, 1.0), 0.0);
        l.on_fill(&fill(2, 100.0, 12.0, 1.0), 100.0);
        l.on_fill(&fill(3, -200.0, 13.0, 2.0), 200.0);
        let t = l.finish(4, &[13.0]);
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!(t.entry_price, 11.0);
        assert_eq!(t.exit_price, 13.0);
        assert!((t.pnl - (400.0 - 4.0)).abs() < 1e-9);
        assert!((t.ret - 396.0 / 2200.0).abs() < 1e-12);
        assert_eq!((t.direction, t.fills, t.open), (1, 3, false));
    }

    #[test]
    fn test_ledger_flip_splits_commission_and_opens_short() {
        let mut l = TradeLedger::new(1);
        l.on_fill(&fill(1, 100.0, 10.0, 1.0), 0.0);
        l.on_fill(&fill(2, -300.0, 9.0, 3.0), 100.0);
        let t = l.finish(3, &[8.0]);
        assert_eq!(t.len(), 2);
        // Long: (9 - 10) * 100 - (1 + 1) = -102.
        assert!((t[0].pnl + 102.0).abs() < 1e-9);
        // Short 200 from 9, marked at 8: +200 - 2 commission, still open.
        assert!((t[1].pnl - 198.0).abs() < 1e-9);
        assert_eq!((t[1].direction, t[1].open), (-1, true));
    }
}
