//! Annualisation: how many return periods make a year, from the bar interval and the
//! market's session length — not a blanket 252.
//!
//! `periods_per_year = days_per_year × bars_per_session`, with
//! - US equities: 252 trading days; bars per regular session from the calendar
//!   (390 at 1m, 78 at 5m, 26 at 15m, 7 at 1h clock-aligned), or, when extended hours are
//!   kept, the observed mean number of steps per session date;
//! - 24/7 crypto: 365 days × 1440 min / interval.
//!
//! So SPY 1m regular-session returns annualise with 252 × 390 = 98,280 periods, not 252.

use serde::Serialize;

/// The annualisation in force for a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Annualisation {
    /// Trading days per year: 252 for US equities, 365 for crypto (NaN when overridden).
    pub days_per_year: f64,
    /// Return periods (bars) per session day, e.g. 390 for 1m equities (NaN when overridden).
    pub bars_per_session: f64,
    /// days_per_year × bars_per_session, or `metrics.periods_per_year` when set.
    pub periods_per_year: f64,
}

impl Annualisation {
    /// From a session length in bars and days per year.
    pub fn new(days_per_year: f64, bars_per_session: f64) -> Self {
        Annualisation { days_per_year, bars_per_session, periods_per_year: days_per_year * bars_per_session }
    }

    /// A fixed number of periods per year (user override).
    pub fn fixed(periods_per_year: f64) -> Self {
        Annualisation { days_per_year: f64::NAN, bars_per_session: f64::NAN, periods_per_year }
    }

    /// Scales a per-period mean to a year.
    pub fn mean(&self, per_period: f64) -> f64 {
        per_period * self.periods_per_year
    }

    /// Scales a per-period standard deviation (or a ratio of mean to deviation) to a year.
    pub fn sqrt(&self) -> f64 {
        self.periods_per_year.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::session::bars_per_regular_session;
    use crate::market::time::NS_PER_MIN;

    #[test]
    fn test_annualisation_minute_equities_is_not_252() {
        let a = Annualisation::new(252.0, bars_per_regular_session(NS_PER_MIN));
        assert_eq!(a.periods_per_year, 98_280.0);
        let h = Annualisation::new(252.0, bars_per_regular_session(60 * NS_PER_MIN));
        assert_eq!(h.periods_per_year, 1_764.0);
        let c = Annualisation::new(365.0, 1440.0);
        assert_eq!(c.periods_per_year, 525_600.0);
    }
}
