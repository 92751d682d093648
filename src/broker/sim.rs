//! The simulated broker: market orders filled at the open of the symbol's next bar, with
//! the cost model's slippage, commission and volume-participation cap. The unfilled rest of
//! an order stays working for the following bars until filled or replaced.

use super::{Broker, Order};
use crate::market::Bar;
use crate::portfolio::QTY_EPS;
use crate::portfolio::{CostConfig, Fill};

/// Next-bar-open market-order simulator.
#[derive(Debug, Clone)]
pub struct SimBroker {
    costs: CostConfig,
    quote_volume: Vec<bool>,
    working: Vec<Option<Order>>,
}

impl SimBroker {
    /// A broker for `quote_volume.len()` symbols; `quote_volume[s]` marks symbols whose bar
    /// volume is in quote currency.
    pub fn new(costs: CostConfig, quote_volume: Vec<bool>) -> Self {
        let n = quote_volume.len();
        SimBroker { costs, quote_volume, working: vec![None; n] }
    }
}

impl Broker for SimBroker {
    fn submit(&mut self, order: Order) {
        self.working[order.symbol as usize] = (order.qty.abs() > QTY_EPS).then_some(order);
    }

    #[inline]
    fn on_open(&mut self, bar: &Bar) -> Option<Fill> {
        let slot = &mut self.working[bar.symbol as usize];
        let order = (*slot)?;
        if order.decided_at >= bar.ts {
            return None;
        }
        let q = self.costs.fill(order.qty, bar.open, bar.volume, self.quote_volume[bar.symbol as usize]);
        if q.qty == 0.0 {
            return None;
        }
        let rest = order.qty - q.qty;
        *slot = (rest.abs() > QTY_EPS).then_some(Order { qty: rest, ..order });
        Some(Fill {
            ts: bar.ts,
            decided_at: order.decided_at,
            symbol: bar.symbol,
            qty: q.qty,
            price: q.price,
            commission: q.commission,
            slippage: q.slippage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(ts: i64, open: f64, volume: f64) -> Bar {
        Bar { ts, symbol: 0, open, high: open, low: open, close: open, volume }
    }

    #[test]
    fn test_sim_broker_partial_fill_carries_rest() {
        let costs = CostConfig { max_participation: 0.5, slippage_bps: 0.0, impact_bps: 0.0, ..Default::default() };
        let mut b = SimBroker::new(costs, vec![false]);
        b.submit(Order { symbol: 0, qty: 150.0, decided_at: 0 });
        let f1 = b.on_open(&bar(1, 10.0, 200.0)).unwrap();
        assert_eq!((f1.qty, f1.price), (100.0, 10.0));
        let f2 = b.on_open(&bar(2, 11.0, 200.0)).unwrap();
        assert_eq!(f2.qty, 50.0);
        assert!(b.on_open(&bar(3, 11.0, 200.0)).is_none());
    }

    #[test]
    fn test_sim_broker_never_fills_same_bar_decision() {
        let mut b = SimBroker::new(CostConfig::default(), vec![false]);
        b.submit(Order { symbol: 0, qty: 10.0, decided_at: 5 });
        assert!(b.on_open(&bar(5, 10.0, 1e6)).is_none());
        assert!(b.on_open(&bar(6, 10.0, 1e6)).is_some());
    }
}
