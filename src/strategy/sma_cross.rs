//! SMA crossover: per symbol, long `1/N` while SMA(fast) of closes is above SMA(slow),
//! short `1/N` while below (flat instead when shorts are not allowed — the engine clips),
//! no position until the slow average has a full window. Targets are set only when the
//! sign changes; a tie (equal averages) is no cross and keeps the side.
//!
//! The averages are exact, written here rather than taken from `ta`: `ta`'s
//! `SimpleMovingAverage` keeps a running f64 sum that drifts, so bars whose two averages
//! are equal in cents got a sign (27 bars and 4 spurious flips on spy_1m_2011). Prices are
//! summed as integers of 1e-8 (exact for every price quoted to 8 decimals or fewer) and the
//! averages compared as `sum_fast · slow` vs `sum_slow · fast` in i128, with no division.

use super::{PortfolioView, Step, Strategy, Targets, Universe};

/// Parameters of the SMA cross (`[strategy.sma_cross]`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmaParams {
    /// Fast window in bars.
    pub fast: usize,
    /// Slow window in bars (> fast).
    pub slow: usize,
}

impl Default for SmaParams {
    fn default() -> Self {
        SmaParams { fast: 20, slow: 50 }
    }
}

/// Price ticks per unit of currency.
const TICKS: f64 = 1e8;

/// Exact rolling sums of the last `fast` and `slow` prices, in ticks, over one ring of the
/// last `slow` prices (the fast window is its tail). A price is i64 ticks (exact up to
/// 9·10¹⁰); sums and the cross-multiplied comparison are i128, which cannot overflow.
#[derive(Debug, Clone)]
struct State {
    ring: Vec<i64>,
    fast_sum: i128,
    slow_sum: i128,
    seen: usize,
    side: i8,
}

impl State {
    fn new(slow: usize) -> Self {
        State { ring: vec![0; slow.max(1)], fast_sum: 0, slow_sum: 0, seen: 0, side: 0 }
    }

    /// Adds the `seen`-th price; returns (fast sum, slow sum) over the windows so far.
    #[inline]
    fn push(&mut self, ticks: i64, fast: usize) -> (i128, i128) {
        let n = self.ring.len();
        let k = self.seen;
        if k >= n {
            self.slow_sum -= self.ring[k % n] as i128;
        }
        if k >= fast {
            self.fast_sum -= self.ring[(k - fast) % n] as i128;
        }
        self.ring[k % n] = ticks;
        self.fast_sum += ticks as i128;
        self.slow_sum += ticks as i128;
        self.seen += 1;
        (self.fast_sum, self.slow_sum)
    }
}

/// Fast/slow simple-moving-average crossover.
#[derive(Debug, Clone)]
pub struct SmaCross {
    params: SmaParams,
    states: Vec<State>,
    weight: f64,
}

impl SmaCross {
    /// A crossover with the given windows (`fast < slow`, both ≥ 1; checked by the config).
    pub fn new(params: SmaParams) -> Self {
        SmaCross { params, states: Vec::new(), weight: 0.0 }
    }
}

impl Strategy for SmaCross {
    type Error = std::convert::Infallible;

    fn name(&self) -> String {
        "sma-cross".into()
    }

    fn on_start(&mut self, universe: &Universe) -> Result<(), Self::Error> {
        self.states = (0..universe.symbols.len()).map(|_| State::new(self.params.slow)).collect();
        self.weight = 1.0 / universe.symbols.len().max(1) as f64;
        Ok(())
    }

    fn on_step(
        &mut self,
        step: &Step<'_>,
        _portfolio: &PortfolioView<'_>,
        targets: &mut Targets,
    ) -> Result<(), Self::Error> {
        for b in step.bars() {
            let st = &mut self.states[b.symbol as usize];
            let (fast, slow) = (self.params.fast.max(1), self.params.slow.max(1));
            // Nearest tick; prices are > 0 (validated), and `as` is one instruction where
            // `f64::round` is a libm call (9% of this loop on the hourly set).
            let (sum_fast, sum_slow) = st.push((b.close * TICKS + 0.5) as i64, fast);
            if st.seen < slow {
                continue;
            }
            // mean_fast vs mean_slow  <=>  sum_fast · slow vs sum_slow · fast (windows full).
            let (f, s) = (sum_fast * slow as i128, sum_slow * fast as i128);
            let side: i8 = match f.cmp(&s) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => st.side,
            };
            if side != st.side {
                st.side = side;
                targets.set(b.symbol, side as f64 * self.weight);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::session::AssetClass;
    use crate::market::time::NS_PER_MIN;
    use crate::market::{Bar, Bars};

    fn targets_for(prices: &[f64], params: SmaParams) -> Vec<(usize, f64)> {
        let mut bars = Bars { symbols: vec!["X".into()], ..Default::default() };
        for (k, &p) in prices.iter().enumerate() {
            bars.push(Bar { ts: k as i64 * NS_PER_MIN, symbol: 0, open: p, high: p, low: p, close: p, volume: 1.0 });
        }
        let u = Universe { symbols: bars.symbols.clone(), classes: vec![AssetClass::Equity], interval: NS_PER_MIN };
        let mut sma = SmaCross::new(params);
        sma.on_start(&u).unwrap();
        let mut out = Vec::new();
        let mut t = Targets::new(1);
        let view = PortfolioView { equity: 1.0, cash: 1.0, positions: &[0.0], prices: &[1.0], as_traded: &[1.0] };
        for (k, r) in bars.steps().enumerate() {
            sma.on_step(&Step::new(&bars, r.start, r.end, k), &view, &mut t).unwrap();
            out.extend(t.drain().map(|(_, w)| (k, w)));
        }
        out
    }

    #[test]
    fn test_equal_averages_are_no_cross() {
        // 1.1, 2.2 repeated: SMA(2) and SMA(4) are equal at every bar. A running f64 sum
        // (ta's SMA) turns that into a sign on ~all bars; exact sums keep it flat.
        let prices: Vec<f64> = (0..600).map(|k| if k % 2 == 0 { 1.1 } else { 2.2 }).collect();
        assert_eq!(targets_for(&prices, SmaParams { fast: 2, slow: 4 }), vec![]);
        // The trap this code avoids: ta's running sums disagree on these ties.
        use ta::Next;
        let mut f = ta::indicators::SimpleMovingAverage::new(2).unwrap();
        let mut s = ta::indicators::SimpleMovingAverage::new(4).unwrap();
        let unequal = prices.iter().skip(4).filter(|&&p| f.next(p) != s.next(p)).count();
        assert!(unequal > 0, "ta's SMA kept exact ties here; the test no longer shows the drift");
    }

    #[test]
    fn test_cross_sets_targets_on_sign_changes_only() {
        let prices = [1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 1.0, 0.5, 0.5];
        // fast 1, slow 3: bar 2 tie (no side), bar 3 up, bar 6 down.
        assert_eq!(targets_for(&prices, SmaParams { fast: 1, slow: 3 }), vec![(3, 1.0), (6, -1.0)]);
    }
}
