//! SMA crossover: per symbol, long `1/N` while SMA(fast) of closes is above SMA(slow),
//! short `1/N` while below (flat instead when shorts are not allowed — the engine clips),
//! no position until the slow average has a full window. Targets are set only when the
//! sign changes. The averages are the `ta` crate's `SimpleMovingAverage`.

use ta::Next;
use ta::indicators::SimpleMovingAverage;

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

#[derive(Debug, Clone)]
struct State {
    fast: SimpleMovingAverage,
    slow: SimpleMovingAverage,
    seen: usize,
    side: i8,
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
        let mk = |n: usize| SimpleMovingAverage::new(n.max(1)).expect("window >= 1");
        self.states = (0..universe.symbols.len())
            .map(|_| State { fast: mk(self.params.fast), slow: mk(self.params.slow), seen: 0, side: 0 })
            .collect();
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
            let f = st.fast.next(b.close);
            let s = st.slow.next(b.close);
            st.seen += 1;
            if st.seen < self.params.slow {
                continue;
            }
            let side: i8 = if f > s {
                1
            } else if f < s {
                -1
            } else {
                st.side
            };
            if side != st.side {
                st.side = side;
                targets.set(b.symbol, side as f64 * self.weight);
            }
        }
        Ok(())
    }
}
