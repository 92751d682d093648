//! The simulated broker: market orders filled at the open of the symbol's next bar, with
//! the cost model's slippage, commission and volume-participation cap (`portfolio::costs`:
//! sized by the previous bar's volume, whole shares for equities, costs on as-traded
//! prices and quantities). The unfilled rest of an order stays working for the following
//! bars until filled or replaced; it pays the minimum commission once.

use std::convert::Infallible;

use super::{Broker, Order, OrderId};
use crate::market::{Bar, SymbolId, Ts};
use crate::portfolio::QTY_EPS;
use crate::portfolio::{CostConfig, Fill, Venue};

/// How a symbol trades.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Instrument {
    /// Bar volume is in quote currency (crypto).
    pub quote_volume: bool,
    /// Fractional quantities allowed (crypto, or equities with `portfolio.fractional`).
    pub fractional: bool,
}

#[derive(Debug, Clone, Copy)]
struct Working {
    order: Order,
    id: OrderId,
    /// Commission rate of the parts filled so far (None before the first).
    paid_rate: Option<f64>,
}

/// Next-bar-open market-order simulator.
#[derive(Debug, Clone)]
pub struct SimBroker {
    costs: CostConfig,
    instruments: Vec<Instrument>,
    working: Vec<Option<Working>>,
    /// Volume of each symbol's latest bar: known at the next bar's open.
    last_volume: Vec<f64>,
    next_id: u64,
}

impl SimBroker {
    /// A broker for `instruments.len()` symbols.
    pub fn new(costs: CostConfig, instruments: Vec<Instrument>) -> Self {
        let n = instruments.len();
        SimBroker { costs, instruments, working: vec![None; n], last_volume: vec![0.0; n], next_id: 0 }
    }

    /// The fill of `bar`'s symbol at its open, if any, with its order's id (what `on_open`
    /// reports as an event). Most bars have no working order: that check is inlined into
    /// the bar loop, the fill itself is not.
    #[inline(always)]
    pub fn fill_at_open(&mut self, bar: &Bar, factor: f64) -> Option<(OrderId, Fill)> {
        let s = bar.symbol as usize;
        let known_volume = std::mem::replace(&mut self.last_volume[s], bar.volume);
        self.working[s]?;
        // Scalars, not `&Bar`: a reference would make the bar loop build every bar in
        // memory (all seven columns loaded) for a call that almost never happens.
        self.fill(bar.symbol, bar.ts, bar.open, bar.volume, factor, known_volume)
    }

    /// Places `order` under the id `id` (a broker that numbers its own orders, such as the
    /// paper runner's durable local broker); [`Broker::submit`] numbers them itself.
    pub fn place(&mut self, order: Order, id: OrderId) {
        self.working[order.symbol as usize] =
            (order.qty.abs() > QTY_EPS).then_some(Working { order, id, paid_rate: None });
    }

    /// The working order of symbol `s`: the order (its quantity the unfilled rest), its id
    /// and the commission rate of its parts filled so far.
    pub fn working(&self, s: usize) -> Option<(Order, OrderId, Option<f64>)> {
        self.working.get(s).copied().flatten().map(|w| (w.order, w.id, w.paid_rate))
    }

    /// Restores symbol `s`'s working order as [`SimBroker::working`] gave it (a durable
    /// broker reopening its book).
    pub fn restore(&mut self, s: usize, working: Option<(Order, OrderId, Option<f64>)>) {
        self.working[s] = working.map(|(order, id, paid_rate)| Working { order, id, paid_rate });
    }

    /// Notes `bar`'s volume without trading (a bar whose fills are already on record).
    pub fn observe(&mut self, bar: &Bar) {
        self.last_volume[bar.symbol as usize] = bar.volume;
    }

    #[inline(never)]
    fn fill(
        &mut self,
        symbol: SymbolId,
        ts: Ts,
        open: f64,
        volume: f64,
        factor: f64,
        known_volume: f64,
    ) -> Option<(OrderId, Fill)> {
        let s = symbol as usize;
        let slot = &mut self.working[s];
        let w = (*slot)?;
        if w.order.decided_at >= ts {
            return None;
        }
        let inst = self.instruments[s];
        let venue = Venue {
            open,
            known_volume,
            trades: volume > 0.0,
            quote_volume: inst.quote_volume,
            fractional: inst.fractional,
            factor,
        };
        let q = self.costs.fill(w.order.qty, &venue, w.paid_rate);
        if q.qty == 0.0 {
            return None;
        }
        let rest = w.order.qty - q.qty;
        let paid_rate = Some(w.paid_rate.unwrap_or(0.0) + q.rate);
        // Less than one whole share left (an order for old shares across a 5:4 split): a
        // remainder no fill can take is cancelled, not left working for ever.
        let dust = !inst.fractional && rest.abs() / factor < 1.0 - 1e-6;
        *slot = (rest.abs() > QTY_EPS && !dust).then_some(Working {
            order: Order { qty: rest, ..w.order },
            id: w.id,
            paid_rate,
        });
        Some((
            w.id,
            Fill {
                ts,
                decided_at: w.order.decided_at,
                symbol,
                qty: q.qty,
                price: q.price,
                commission: q.commission,
                slippage: q.slippage,
            },
        ))
    }
}

impl Broker for SimBroker {
    type Error = Infallible;
    const REPORTS_LATE: bool = false;

    fn submit(&mut self, order: Order) -> Result<OrderId, Infallible> {
        let id = OrderId(self.next_id);
        self.next_id += 1;
        self.place(order, id);
        Ok(id)
    }

    #[inline(always)]
    fn on_open(&mut self, bar: &Bar, factor: f64) -> Result<Option<(OrderId, Fill)>, Infallible> {
        Ok(self.fill_at_open(bar, factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fill of the bar's open through the trait, as the engine sees it.
    fn open(b: &mut SimBroker, bar: &Bar, factor: f64) -> Option<Fill> {
        let Ok(fill) = b.on_open(bar, factor);
        let mut events = Vec::new();
        let Ok(()) = b.poll(&mut events);
        assert!(events.is_empty(), "the simulator reports nothing late");
        fill.map(|(_, f)| f)
    }

    fn sub(b: &mut SimBroker, order: Order) {
        let Ok(_) = b.submit(order);
    }

    fn bar(ts: i64, open: f64, volume: f64) -> Bar {
        Bar { ts, symbol: 0, open, high: open, low: open, close: open, volume }
    }

    #[test]
    fn test_sim_broker_partial_fill_carries_rest() {
        let costs = CostConfig { max_participation: 0.5, slippage_bps: 0.0, impact_bps: 0.0, ..Default::default() };
        let mut b = SimBroker::new(costs, vec![Instrument::default()]);
        assert!(open(&mut b, &bar(0, 10.0, 200.0), 1.0).is_none(), "no order yet; the volume is now known");
        sub(&mut b, Order { symbol: 0, qty: 150.0, decided_at: 0 });
        let f1 = open(&mut b, &bar(1, 10.0, 200.0), 1.0).unwrap();
        assert_eq!((f1.qty, f1.price), (100.0, 10.0));
        assert_eq!(f1.commission, 1.0, "the order's minimum");
        let f2 = open(&mut b, &bar(2, 11.0, 200.0), 1.0).unwrap();
        assert_eq!(f2.qty, 50.0);
        assert_eq!(f2.commission, 0.0, "100 + 50 shares at 0.005 = 0.75 < the minimum, already paid");
        assert!(open(&mut b, &bar(3, 11.0, 200.0), 1.0).is_none());
    }

    #[test]
    fn test_sim_broker_never_fills_same_bar_decision() {
        let mut b = SimBroker::new(CostConfig::default(), vec![Instrument::default()]);
        sub(&mut b, Order { symbol: 0, qty: 10.0, decided_at: 5 });
        assert!(open(&mut b, &bar(5, 10.0, 1e6), 1.0).is_none());
        assert!(open(&mut b, &bar(6, 10.0, 1e6), 1.0).is_some());
    }

    #[test]
    fn test_sim_broker_sizes_by_the_previous_bar_not_the_fill_bar() {
        // The fill bar has a huge volume, unknown at its open: the cap uses the previous
        // bar's 100 (10% = 10 shares).
        let mut b = SimBroker::new(CostConfig::default(), vec![Instrument::default()]);
        assert!(open(&mut b, &bar(0, 10.0, 100.0), 1.0).is_none());
        sub(&mut b, Order { symbol: 0, qty: 50.0, decided_at: 0 });
        let f = open(&mut b, &bar(1, 10.0, 1e9), 1.0).unwrap();
        assert_eq!(f.qty, 10.0);
    }

    #[test]
    fn test_sim_broker_cancels_a_remainder_below_one_share() {
        // 10 real shares ordered; a 5:4 split before the fill makes it 12.5 new shares: 12
        // fill (cap permitting), the half share is cancelled, not left working.
        let costs = CostConfig { slippage_bps: 0.0, impact_bps: 0.0, ..Default::default() };
        let mut b = SimBroker::new(costs, vec![Instrument::default()]);
        assert!(open(&mut b, &bar(0, 10.0, 1e6), 1.25).is_none());
        sub(&mut b, Order { symbol: 0, qty: 12.5, decided_at: 0 });
        let f = open(&mut b, &bar(1, 10.0, 1e6), 1.0).unwrap();
        assert_eq!(f.qty, 12.0);
        assert!(open(&mut b, &bar(2, 10.0, 1e6), 1.0).is_none(), "nothing left working");
    }
}
