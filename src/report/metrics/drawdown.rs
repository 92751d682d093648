//! Maximum drawdown `max_t (1 - E_t / max_{s≤t} E_s)` (as a positive fraction) and the
//! longest drawdown duration: the most marks spent below a previous peak before regaining
//! it (or until the end, if never regained), in marks and in calendar days.

use crate::market::Ts;
use crate::market::time::NS_PER_DAY;

/// Drawdown statistics of an equity curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawdown {
    /// Largest peak-to-trough loss as a fraction of the peak (0.12 = 12%).
    pub max: f64,
    /// Longest time under water, in marks.
    pub duration_bars: usize,
    /// Longest time under water, in calendar days.
    pub duration_days: f64,
}

/// Computes drawdown statistics; the initial cash counts as the first peak.
pub fn drawdown(initial: f64, ts: &[Ts], equity: &[f64]) -> Drawdown {
    let mut peak = initial;
    let mut peak_idx: Option<usize> = None;
    let mut max: f64 = 0.0;
    let (mut best_bars, mut best_ns) = (0usize, 0i64);
    let mut under = false;
    for (i, &e) in equity.iter().enumerate() {
        if e >= peak {
            if under {
                let start = peak_idx.map(|p| p as i64).unwrap_or(-1);
                let bars = (i as i64 - start) as usize;
                let ns = ts[i] - peak_idx.map(|p| ts[p]).unwrap_or(ts[0]);
                if bars > best_bars {
                    best_bars = bars;
                    best_ns = ns;
                }
                under = false;
            }
            peak = e;
            peak_idx = Some(i);
        } else {
            under = true;
            max = max.max(1.0 - e / peak);
        }
    }
    if under {
        let last = equity.len() - 1;
        let start = peak_idx.map(|p| p as i64).unwrap_or(-1);
        let bars = (last as i64 - start) as usize;
        if bars > best_bars {
            best_bars = bars;
            best_ns = ts[last] - peak_idx.map(|p| ts[p]).unwrap_or(ts[0]);
        }
    }
    Drawdown { max, duration_bars: best_bars, duration_days: best_ns as f64 / NS_PER_DAY as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_drawdown_hand_computed() {
        let d = NS_PER_DAY;
        let ts = [0, d, 2 * d, 3 * d, 4 * d, 5 * d];
        let eq = [100.0, 120.0, 90.0, 110.0, 121.0, 115.0];
        let r = drawdown(100.0, &ts, &eq);
        assert!((r.max - 0.25).abs() < 1e-12);
        // Under water from the 120 peak (index 1) to the new high at index 4: 3 marks, 3 days.
        assert_eq!(r.duration_bars, 3);
        assert!((r.duration_days - 3.0).abs() < 1e-12);
    }

    #[test]
    fn test_drawdown_never_recovered_runs_to_end() {
        let d = NS_PER_DAY;
        let r = drawdown(100.0, &[0, d, 2 * d], &[90.0, 80.0, 85.0]);
        assert!((r.max - 0.20).abs() < 1e-12);
        assert_eq!(r.duration_bars, 3);
        let flat = drawdown(100.0, &[0, d], &[100.0, 101.0]);
        assert_eq!((flat.max, flat.duration_bars), (0.0, 0));
    }
}
