//! Sortino ratio (Sortino & Price, "Performance Measurement in a Downside Risk
//! Framework", 1994): mean excess period return over the target downside deviation
//! `sqrt(mean(min(0, r - rf)^2))` (over all periods), times sqrt(periods per year).

use super::annualise::Annualisation;
use super::returns::mean;
use super::sharpe::per_period_rf;

/// Annualised Sortino ratio; NaN without downside.
pub fn sortino(returns: &[f64], rf_annual: f64, a: &Annualisation) -> f64 {
    let rf = per_period_rf(rf_annual, a);
    let excess: Vec<f64> = returns.iter().map(|r| r - rf).collect();
    let dd = (excess.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / excess.len().max(1) as f64).sqrt();
    if dd.is_nan() || dd <= 0.0 {
        return f64::NAN;
    }
    mean(&excess) / dd * a.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_sortino_hand_computed() {
        let r = [0.02, -0.01, 0.03, -0.02];
        // mean 0.005; downside dev sqrt((1e-4 + 4e-4) / 4) = sqrt(1.25e-4).
        let a = Annualisation::new(252.0, 1.0);
        let want = 0.005 / 1.25e-4f64.sqrt() * 252f64.sqrt();
        assert!((sortino(&r, 0.0, &a) - want).abs() < 1e-9);
        assert!(sortino(&[0.01, 0.02], 0.0, &a).is_nan());
    }
}
