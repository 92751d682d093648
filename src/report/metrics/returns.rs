//! Period returns, total return, CAGR and annualised volatility.
//!
//! - period return `r_i = E_i / E_{i-1} - 1` over consecutive equity marks;
//! - total return `E_n / E_0 - 1` with `E_0` the initial cash;
//! - CAGR `(E_n / E_0)^(1 / years) - 1`, `years = returns / periods_per_year`;
//! - volatility `stdev(r) · sqrt(periods_per_year)` (sample standard deviation, n − 1).

use super::annualise::Annualisation;

/// Simple returns between consecutive equity marks.
pub fn period_returns(equity: &[f64]) -> Vec<f64> {
    equity.windows(2).map(|w| if w[0] != 0.0 { w[1] / w[0] - 1.0 } else { 0.0 }).collect()
}

/// Final equity over initial cash, minus one.
pub fn total_return(initial: f64, equity: &[f64]) -> f64 {
    equity.last().map(|e| e / initial - 1.0).unwrap_or(0.0)
}

/// Years spanned by `n_returns` periods.
pub fn years(n_returns: usize, a: &Annualisation) -> f64 {
    n_returns as f64 / a.periods_per_year
}

/// Compound annual growth rate; NaN over an empty span, -1 when wiped out.
pub fn cagr(total_return: f64, years: f64) -> f64 {
    if years <= 0.0 {
        return f64::NAN;
    }
    let growth = 1.0 + total_return;
    if growth <= 0.0 { -1.0 } else { growth.powf(1.0 / years) - 1.0 }
}

/// Arithmetic mean.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() { f64::NAN } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

/// Sample standard deviation (n − 1).
pub fn stdev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Annualised volatility of period returns.
pub fn volatility(returns: &[f64], a: &Annualisation) -> f64 {
    stdev(returns) * a.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_returns_hand_computed() {
        let eq = [100.0, 110.0, 99.0, 108.9];
        let r = period_returns(&eq);
        assert!((r[0] - 0.10).abs() < 1e-12 && (r[1] + 0.10).abs() < 1e-12 && (r[2] - 0.10).abs() < 1e-12);
        assert!((total_return(100.0, &eq) - 0.089).abs() < 1e-12);
        // mean 1/30, deviations (0.0667, -0.1333, 0.0667): var = 0.02667/2 = 0.013333.
        assert!((stdev(&r) - (0.04f64 / 3.0).sqrt()).abs() < 1e-12);
        let a = Annualisation::new(252.0, 390.0);
        assert!((volatility(&r, &a) - (0.04f64 / 3.0).sqrt() * 98_280f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn test_cagr_hand_computed() {
        // +21% over two years is 10% a year.
        assert!((cagr(0.21, 2.0) - 0.10).abs() < 1e-12);
        // Half a year of +10%: 1.1^2 - 1 = 21%.
        assert!((cagr(0.10, 0.5) - 0.21).abs() < 1e-12);
        assert_eq!(cagr(-1.5, 1.0), -1.0);
        assert!(cagr(0.1, 0.0).is_nan());
        let a = Annualisation::new(252.0, 390.0);
        assert!((years(98_280, &a) - 1.0).abs() < 1e-12);
    }
}
