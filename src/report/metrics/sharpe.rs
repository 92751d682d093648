//! Sharpe ratio (Sharpe, "The Sharpe Ratio", 1994): mean excess period return over its
//! sample standard deviation, times sqrt(periods per year). The annual risk-free rate is
//! converted to a per-period rate geometrically: `(1 + rf)^(1/periods) - 1`.

use super::annualise::Annualisation;
use super::returns::{mean, stdev};

/// Per-period risk-free rate from an annual one.
pub fn per_period_rf(annual: f64, a: &Annualisation) -> f64 {
    (1.0 + annual).powf(1.0 / a.periods_per_year) - 1.0
}

/// Annualised Sharpe ratio.
pub fn sharpe(returns: &[f64], rf_annual: f64, a: &Annualisation) -> f64 {
    let rf = per_period_rf(rf_annual, a);
    let excess: Vec<f64> = returns.iter().map(|r| r - rf).collect();
    let sd = stdev(&excess);
    if sd.is_nan() || sd <= 0.0 {
        return f64::NAN;
    }
    mean(&excess) / sd * a.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_sharpe_hand_computed() {
        let r = [0.01, -0.005, 0.02, 0.0];
        // mean 0.00625; deviations .00375 -.01125 .01375 -.00625 -> SS = 3.6875e-4, var 1.229e-4.
        let a = Annualisation::new(252.0, 1.0);
        let sd = (3.6875e-4f64 / 3.0).sqrt();
        assert!((sharpe(&r, 0.0, &a) - 0.00625 / sd * 252f64.sqrt()).abs() < 1e-9);
        assert!(sharpe(&[0.01, 0.01], 0.0, &a).is_nan());
    }

    #[test]
    fn test_per_period_rf_compounds_back() {
        let a = Annualisation::new(252.0, 390.0);
        let p = per_period_rf(0.05, &a);
        assert!(((1.0 + p).powf(a.periods_per_year) - 1.05).abs() < 1e-9);
    }
}
