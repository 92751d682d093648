//! Brokers: where orders go, and what comes back.
//!
//! The engine's bar loop takes its broker injected (`engine::run_with`): a [`Broker`]
//! accepts orders with ids, may fail (its own typed error: a network reply, a full disk),
//! fills at a bar's open ([`Broker::on_open`], the simulator's only way), and reports what
//! happened at its own pace through [`Broker::poll`], once a step: fills, partial or whole,
//! that arrive bars after the order was placed, and rejects. The per-bar call returns at
//! most one fill by value, so the backtest's loop costs what it did before the seam. [`SimBroker`] is the backtest's:
//! market orders at the next bar's open with the cost model, never failing. The paper
//! runner's local broker and the Alpaca adapter are the others.

pub mod ids;
mod sim;

pub use ids::client_order_id;
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

/// The id a broker gave an order it accepted (unique per broker, in submission order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(pub u64);

/// What a broker reports at a bar's open.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerEvent {
    /// Part or all of an order filled (possibly bars after it was placed).
    Filled {
        /// The order.
        order: OrderId,
        /// The execution, with its costs.
        fill: Fill,
    },
    /// The broker refused the order, or the rest of it: nothing more of it will fill.
    Rejected {
        /// The order.
        order: OrderId,
        /// Its symbol.
        symbol: SymbolId,
        /// The broker's reason, in its words.
        reason: String,
    },
}

/// Order routing.
pub trait Broker {
    /// Why the broker could not go on (the simulated one cannot fail: `Infallible`).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether [`Broker::poll`] can report anything: a broker whose reports all come with
    /// a bar's open (the simulator) says `false`, and the bar loop skips the call.
    const REPORTS_LATE: bool = true;

    /// Replaces the working order of `order.symbol` (a zero quantity cancels it); returns
    /// the new order's id.
    fn submit(&mut self, order: Order) -> Result<OrderId, Self::Error>;

    /// Bar `bar` of its symbol has opened: execute what can be executed at prices the bar
    /// offers and return the fill, with its order's id. Only orders decided strictly before
    /// `bar.ts` may fill. Bars may be back-adjusted for splits: `factor` turns them into
    /// prices as traded (price × factor, quantity / factor; 1 without splits), on which
    /// costs are charged.
    fn on_open(&mut self, bar: &Bar, factor: f64) -> Result<Option<(OrderId, Fill)>, Self::Error>;

    /// Reports since the last poll that did not come with a bar's open (late fills,
    /// rejects), pushed to `events`; called once a step, after the step's opens. The
    /// simulator has none.
    fn poll(&mut self, _events: &mut Vec<BrokerEvent>) -> Result<(), Self::Error> {
        Ok(())
    }
}
