//! Running, causal z-scores: the market-state vector's standardisation.
//!
//! Why: the raw features have very different scales and tails. Before this, the distance to
//! VWAP in ATRs carried 57.7% of the state vector's squared norm on the shipped minute bars
//! and sat at its clip on 38% of bars, so a cosine recall mostly asked "which side of
//! VWAP". Each dimension is now standardised against its own history, per symbol:
//!
//! ```text
//! nₜ = nₜ₋₁ + 1,   αₜ = max(1/nₜ, α),   dₜ = xₜ − mₜ₋₁
//! mₜ = mₜ₋₁ + αₜ · dₜ                   vₜ = (1 − αₜ) · (vₜ₋₁ + αₜ · dₜ²)
//! zₜ = clamp((xₜ − mₜ) / √vₜ, −c, c)
//! ```
//!
//! the exponentially weighted mean and variance of West (1979, "Updating mean and variance
//! estimates: an improved method") / Finch (2009, "Incremental calculation of weighted mean
//! and variance"), with the weight floored at 1/n so the first 1/α values get the plain
//! expanding mean and (population) variance instead of an estimate biased toward the zero
//! start. zₜ uses data up to and including xₜ only (no look-ahead). Until `min_samples`
//! values are in, z is 0 (warm-up); a non-finite x is 0 and is not added.

/// The running mean and variance of one dimension.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunningZ {
    n: u64,
    mean: f64,
    var: f64,
}

impl RunningZ {
    /// Adds `x` (ignored if not finite) with weight max(1/n, `alpha`) and returns its z-score
    /// against the estimate including it, clamped to ±`clip`; 0 while fewer than
    /// `min_samples` values are in, or the variance is 0.
    pub fn push(&mut self, x: f64, alpha: f64, min_samples: u64, clip: f64) -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        self.n += 1;
        let a = (1.0 / self.n as f64).max(alpha);
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
        if self.n < min_samples || self.var <= 0.0 {
            return 0.0;
        }
        ((x - self.mean) / self.var.sqrt()).clamp(-clip, clip)
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The running mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The running (population) variance.
    pub fn var(&self) -> f64 {
        self.var
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_running_z_expanding_then_exponential() {
        // With α small, the first values give the plain mean and population variance.
        let mut z = RunningZ::default();
        let xs = [1.0, 2.0, 3.0, 4.0];
        let out: Vec<f64> = xs.iter().map(|&x| z.push(x, 1e-3, 2, 10.0)).collect();
        assert_eq!(out[0], 0.0, "warm-up");
        assert!((z.mean() - 2.5).abs() < 1e-12);
        assert!((z.var() - 1.25).abs() < 1e-12);
        assert!((out[3] - 1.5 / 1.25f64.sqrt()).abs() < 1e-12, "z of 4 against 1..4: {}", out[3]);
        // α = 1/2 from the third value on, by hand:
        // n=1: m=1, v=0; n=2 (a=1/2): d=1, m=1.5, v=0.5·(0+0.5) = 0.25;
        // n=3 (a=1/2, not 1/3): d=1.5, m=2.25, v=0.5·(0.25+0.5·2.25) = 0.6875.
        let mut e = RunningZ::default();
        for x in [1.0, 2.0, 3.0] {
            e.push(x, 0.5, 1, 10.0);
        }
        assert!((e.mean() - 2.25).abs() < 1e-12 && (e.var() - 0.6875).abs() < 1e-12);
        // Non-finite values are skipped; the clip holds.
        assert_eq!(e.push(f64::NAN, 0.5, 1, 10.0), 0.0);
        assert_eq!(e.count(), 3);
        // Including the value bounds z by about √n: far out after 100 values, so clipped.
        let mut f = RunningZ::default();
        for k in 0..100 {
            f.push(k as f64, 1e-3, 1, 4.0);
        }
        assert_eq!(f.push(1e9, 1e-3, 1, 4.0), 4.0);
        assert_eq!(f.push(-1e12, 1e-3, 1, 4.0), -4.0);
    }
}
