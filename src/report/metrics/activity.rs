//! Activity: turnover (traded notional over mean equity, total and per year), exposure
//! (share of marks with any position; mean gross exposure over equity) and costs
//! (commission + slippage, in currency).

use crate::portfolio::Fill;

use super::returns::mean;

/// Trading activity of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// Traded notional / mean equity over the whole span.
    pub turnover: f64,
    /// Turnover per year: turnover / years (NaN over an empty span).
    pub annual_turnover: f64,
    /// Share of equity marks with any position, in [0, 1].
    pub time_in_market: f64,
    /// Mean gross exposure Σ|position × mark| / equity, as a fraction of equity.
    pub avg_gross_exposure: f64,
    /// Total commission of the fills, in currency.
    pub commission: f64,
    /// Total slippage cost of the fills, in currency.
    pub slippage: f64,
}

/// Computes activity measures over `years` of marks. (`+ 0.0` after each sum: Rust sums an
/// empty f64 iterator to −0.0, which printed as "-0.00" for a run without fills.)
pub fn activity(fills: &[Fill], equity: &[f64], gross: &[f64], years: f64) -> Activity {
    let notional = fills.iter().map(|f| (f.qty * f.price).abs()).sum::<f64>() + 0.0;
    let avg_eq = mean(equity);
    let turnover = if avg_eq > 0.0 { notional / avg_eq } else { f64::NAN };
    let in_market = gross.iter().filter(|g| **g > 0.0).count() as f64 / gross.len().max(1) as f64;
    let exposure: Vec<f64> = gross.iter().zip(equity).map(|(g, e)| if *e > 0.0 { g / e } else { 0.0 }).collect();
    Activity {
        turnover,
        annual_turnover: if years > 0.0 { turnover / years } else { f64::NAN },
        time_in_market: in_market,
        avg_gross_exposure: mean(&exposure),
        commission: fills.iter().map(|f| f.commission).sum::<f64>() + 0.0,
        slippage: fills.iter().map(|f| f.slippage).sum::<f64>() + 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_no_fills_is_plus_zero() {
        let a = activity(&[], &[100.0, 100.0], &[0.0, 0.0], 1.0);
        assert!(a.turnover.is_sign_positive() && a.commission.is_sign_positive() && a.slippage.is_sign_positive());
    }

    #[test]
    fn test_activity_hand_computed() {
        let f =
            |qty: f64, price: f64| Fill { ts: 1, decided_at: 0, symbol: 0, qty, price, commission: 1.0, slippage: 0.5 };
        let a = activity(
            &[f(10.0, 100.0), f(-10.0, 110.0)],
            &[1000.0, 1000.0, 1000.0, 1000.0],
            &[0.0, 1000.0, 500.0, 0.0],
            0.5,
        );
        assert!((a.turnover - 2.1).abs() < 1e-12);
        assert!((a.annual_turnover - 4.2).abs() < 1e-12);
        assert_eq!(a.time_in_market, 0.5);
        assert!((a.avg_gross_exposure - 0.375).abs() < 1e-12);
        assert_eq!((a.commission, a.slippage), (2.0, 1.0));
    }
}
