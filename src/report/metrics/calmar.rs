//! Calmar ratio (Young, 1991): CAGR over the maximum drawdown of the same span (the
//! whole run here, not a trailing 36 months).

/// CAGR / max drawdown; NaN without a drawdown.
pub fn calmar(cagr: f64, max_drawdown: f64) -> f64 {
    if max_drawdown > 0.0 { cagr / max_drawdown } else { f64::NAN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_calmar_hand_computed() {
        assert!((calmar(0.15, 0.25) - 0.6).abs() < 1e-12);
        assert!(calmar(0.15, 0.0).is_nan());
    }
}
