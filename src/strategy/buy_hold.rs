//! Buy-and-hold: an equal weight `1/N` in each of the N symbols, bought at each symbol's
//! first decision (filled at its second bar's open) and never sold. The benchmark every run
//! reports beside its strategy, on the same bars and with the same costs.

use super::{PortfolioView, Step, Strategy, Targets, Universe};

/// Equal-weight buy-and-hold.
#[derive(Debug, Clone, Default)]
pub struct BuyAndHold {
    bought: Vec<bool>,
    weight: f64,
}

impl BuyAndHold {
    /// A new buy-and-hold strategy.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Strategy for BuyAndHold {
    type Error = std::convert::Infallible;

    fn name(&self) -> String {
        "buy-and-hold".into()
    }

    fn on_start(&mut self, universe: &Universe) -> Result<(), Self::Error> {
        self.bought = vec![false; universe.symbols.len()];
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
            let s = b.symbol as usize;
            if !self.bought[s] {
                self.bought[s] = true;
                targets.set(b.symbol, self.weight);
            }
        }
        Ok(())
    }
}
