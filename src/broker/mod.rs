//! Brokers: where orders go. The simulated broker fills at the next bar's open with costs.
//!
//! Not yet a seam: the bar loop (`engine::run`) builds its [`SimBroker`] itself, and this
//! trait is synchronous and cannot fail. Paper trading needs a broker that is injected,
//! fallible and asynchronous (order ids, partial and late fills, rejects); this trait
//! changes with that work.

mod sim;

pub use sim::{Instrument, SimBroker};

use crate::market::{Bar, SymbolId, Ts};
use crate::portfolio::Fill;

/// A working order: buy (positive) or sell (negative) `qty` units of `symbol`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Dense symbol id of the instrument.
    pub symbol: SymbolId,
    /// Units to trade (shares, or coins for crypto): > 0 buys, < 0 sells, 0 cancels.
    pub qty: f64,
    /// The step at whose close the order was decided.
    pub decided_at: Ts,
}

/// Order routing.
pub trait Broker {
    /// Replaces the working order of `order.symbol` (a zero quantity cancels it).
    fn submit(&mut self, order: Order);

    /// Bar `bar` of its symbol has opened: execute what can be executed, at prices the bar
    /// offers. Only orders decided strictly before `bar.ts` may fill. Bars may be
    /// back-adjusted for splits: `factor` turns them into prices as traded (price × factor,
    /// quantity / factor; 1 without splits), on which costs are charged.
    fn on_open(&mut self, bar: &Bar, factor: f64) -> Option<Fill>;
}
