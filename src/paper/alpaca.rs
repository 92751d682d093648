//! The Alpaca venue of a paper run (`--broker alpaca`): orders go to Alpaca's trading API
//! (`alpaca::trading`: placed exactly once under the journal's client order ids), fills
//! come back from the orders' `filled_qty` / `filled_avg_price`, read once a step.
//!
//! - **When a fill counts.** An order decided at step t is sent after step t is journaled;
//!   what Alpaca has filled of it is read at the next step's poll and applied to the book
//!   at that step (the backtest's "next bar" timing, at Alpaca's prices). Several fills of
//!   one symbol read in one poll are applied as one (quantity summed, price value-weighted,
//!   the latest order's id), so the journal holds at most one fill per symbol and step.
//! - **Costs.** Alpaca charges no commission on stocks and crypto fees are in the price, so
//!   fills carry commission 0; slippage is already in the execution price (reported as 0,
//!   not estimated).
//! - **Replacing.** As in the backtest, a new order for a symbol replaces the working one:
//!   a still-open order of that symbol is cancelled first (`DELETE /v2/orders/{id}`; a 422
//!   means it had already finished).
//! - **Session.** No stock market order is sent outside the regular session unless
//!   `alpaca.outside_session` is set: it is journaled as `skipped`.
//! - **Restart.** Orders whose fills are not all in the journal are tracked again from the
//!   journal (their applied quantity and value), so a fill made while quorum was down is
//!   applied at the first live step; during the recomputation of journaled steps the
//!   journal's fills are replayed instead of asking Alpaca (`PaperBroker`).

use std::collections::BTreeMap;

use crate::alpaca::model::NewOrder;
use crate::alpaca::{AlpacaError, Placed, Trading};
use crate::broker::Order;
use crate::market::Ts;
use crate::market::session::{AssetClass, NyClock, in_regular_session};
use crate::portfolio::{Fill, QTY_EPS};
use crate::strategy::Universe;

/// What Alpaca said of an order placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// The journal's status: Alpaca's (`new`, `accepted`, `filled`, …) or `rejected`,
    /// `skipped` (outside the session), `canceled` (nothing to trade).
    pub status: String,
    /// Quantity filled so far, signed.
    pub filled: f64,
    /// Alpaca's order id.
    pub id: Option<String>,
    /// Why it was refused or skipped.
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Tracked {
    symbol: u32,
    decided_at: Ts,
    sign: f64,
    /// Unsigned quantity already applied to the book, and its value (Σ qty·price).
    applied: f64,
    value: f64,
    /// Alpaca's order id, once known.
    id: Option<String>,
}

/// What a poll read: new fills (client id, fill) and every tracked order's status (client
/// id, status, signed filled).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// New fills, one per symbol.
    pub fills: Vec<(String, Fill)>,
    /// Statuses of the orders read.
    pub statuses: Vec<(String, String, f64)>,
}

/// The Alpaca venue (see the module docs).
#[derive(Debug)]
pub struct AlpacaVenue {
    trading: Trading,
    universe: Universe,
    outside_session: bool,
    clock: NyClock,
    tracked: BTreeMap<String, Tracked>,
}

fn qty_text(q: f64) -> String {
    let s = format!("{:.9}", q.abs());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.to_string() }
}

impl AlpacaVenue {
    /// A venue trading `universe`'s symbols through `trading`.
    pub fn new(trading: Trading, universe: &Universe, outside_session: bool) -> Self {
        AlpacaVenue {
            trading,
            universe: universe.clone(),
            outside_session,
            clock: NyClock::new(),
            tracked: BTreeMap::new(),
        }
    }

    /// The trading API (reconciliation at start).
    pub fn trading(&mut self) -> &mut Trading {
        &mut self.trading
    }

    /// Tracks an order placed earlier (a restart): `applied` of it (unsigned, worth `value`)
    /// is already in the book.
    pub fn track(&mut self, coid: &str, order: &Order, applied: f64, value: f64, id: Option<String>) {
        let t = Tracked {
            symbol: order.symbol,
            decided_at: order.decided_at,
            sign: order.qty.signum(),
            applied,
            value,
            id,
        };
        self.tracked.insert(coid.to_string(), t);
    }

    /// Orders tracked (fills not all applied yet).
    pub fn tracked(&self) -> usize {
        self.tracked.len()
    }

    /// Sends `order` under `coid` (decided at the step starting `step_ts`).
    pub fn place(&mut self, coid: &str, order: Order) -> Result<Ack, AlpacaError> {
        let s = order.symbol as usize;
        // Replace (the backtest's rule): what is still open of this symbol is cancelled; a
        // zero quantity does only that.
        let open: Vec<String> =
            self.tracked.values().filter(|t| t.symbol == order.symbol).filter_map(|t| t.id.clone()).collect();
        for id in open {
            self.trading.cancel(&id)?;
        }
        if order.qty.abs() < QTY_EPS {
            return Ok(Ack {
                status: "canceled".into(),
                filled: 0.0,
                id: None,
                reason: Some("nothing to trade".into()),
            });
        }
        let class = self.universe.classes.get(s).copied().unwrap_or(AssetClass::Equity);
        if class == AssetClass::Equity
            && !self.outside_session
            && !in_regular_session(&mut self.clock, order.decided_at, self.universe.interval)
        {
            return Ok(Ack {
                status: "skipped".into(),
                filled: 0.0,
                id: None,
                reason: Some("outside the regular session (alpaca.outside_session = false)".into()),
            });
        }
        let symbol = self.universe.symbols[s].clone();
        let new = NewOrder {
            symbol,
            qty: qty_text(order.qty),
            side: if order.qty > 0.0 { "buy" } else { "sell" }.into(),
            order_type: "market".into(),
            time_in_force: if class == AssetClass::Crypto { "gtc" } else { "day" }.into(),
            client_order_id: coid.to_string(),
        };
        match self.trading.place(&new)? {
            Placed::Accepted(o) | Placed::AlreadyThere(o) => {
                self.track(coid, &order, 0.0, 0.0, Some(o.id.clone()));
                Ok(Ack { status: o.status.clone(), filled: o.signed_filled(), id: Some(o.id), reason: None })
            }
            Placed::Rejected { status, code, message } => Ok(Ack {
                status: "rejected".into(),
                filled: 0.0,
                id: None,
                reason: Some(format!(
                    "HTTP {status}{}: {message}",
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                )),
            }),
        }
    }

    /// Fills of tracked orders not yet applied, read now and stamped `ts` (one per symbol),
    /// with the client id of the order they belong to; and the orders' latest statuses.
    pub fn poll(&mut self, ts: Ts) -> Result<Polled, AlpacaError> {
        let mut fills = Vec::new();
        let mut statuses = Vec::new();
        let mut done = Vec::new();
        let coids: Vec<String> = self.tracked.keys().cloned().collect();
        for coid in coids {
            let Some(o) = self.trading.by_client_id(&coid)? else {
                // Alpaca said "order not found" for an order it acknowledged: keep asking.
                tracing::warn!(%coid, "a tracked order is not found at Alpaca; still tracked");
                continue;
            };
            let t = self.tracked.get_mut(&coid).expect("tracked");
            t.id = Some(o.id.clone());
            statuses.push((coid.clone(), o.status.clone(), o.signed_filled()));
            let filled = o.filled_qty;
            if filled > t.applied + QTY_EPS {
                let value = o.filled_avg_price.unwrap_or(0.0) * filled;
                let (dq, dv) = (filled - t.applied, value - t.value);
                t.applied = filled;
                t.value = value;
                fills.push((
                    coid.clone(),
                    Fill {
                        ts,
                        decided_at: t.decided_at,
                        symbol: t.symbol,
                        qty: t.sign * dq,
                        price: dv / dq,
                        commission: 0.0,
                        slippage: 0.0,
                    },
                ));
            }
            if o.is_final() {
                done.push(coid);
            }
        }
        for c in done {
            self.tracked.remove(&c);
        }
        Ok(Polled { fills, statuses })
    }
}
