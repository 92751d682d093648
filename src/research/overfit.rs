//! Overfitting control for sweeps (issue 17, item 3): the Deflated Sharpe Ratio and the
//! Probability of Backtest Overfitting.
//!
//! # Deflated Sharpe Ratio
//!
//! Bailey & López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias,
//! Backtest Overfitting and Non-Normality", *Journal of Portfolio Management* 40(5), 2014.
//! The best of N tried configurations has a Sharpe ratio inflated by the selection. With
//! per-period Sharpe ratios (not annualised), `T` returns, their skewness `γ3` and kurtosis
//! `γ4` (not excess: 3 for a normal), and `V` the variance of the N trials' Sharpe ratios:
//!
//! - the expected maximum of N Sharpe ratios under the null of no skill (eq. 7):
//!   `SR* = √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)))`, γ ≈ 0.5772 (Euler–Mascheroni);
//! - the Probabilistic Sharpe Ratio of Bailey & López de Prado (2012), the probability that
//!   the true Sharpe exceeds `SR*` given the estimate `SR̂` (eq. 5):
//!   `PSR(SR*) = Φ((SR̂ − SR*) √(T − 1) / √(1 − γ3 SR̂ + (γ4 − 1)/4 SR̂²))`;
//! - `DSR = PSR(SR*)`. The paper's example (N = 100, V = 1/2 annualised, T = 1,250 daily
//!   returns, skew −3, kurtosis 10, SR̂ = 2.5 annualised) gives `SR*` ≈ 0.1132 a day and
//!   DSR ≈ 0.9004: a unit test checks both.
//!
//! With one trial there is no selection: `SR* = 0` and DSR is the PSR against 0. Where the
//! square root's argument is not positive (extreme skew with a large Sharpe), DSR is
//! undefined (NaN), not guessed.
//!
//! # Probability of Backtest Overfitting
//!
//! Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting",
//! *Journal of Computational Finance* 20(4), 2017, combinatorially symmetric
//! cross-validation (CSCV). The T × N matrix of the N configurations' per-period returns is
//! cut by rows into S equal blocks (S even; the last T mod S rows are dropped). For each of
//! the C(S, S/2) ways to pick half the blocks as in-sample (the rest out of sample): the
//! configuration with the best in-sample Sharpe, `n*`, is ranked among all N out of sample,
//! `ω = rank / (N + 1)` (ascending, 1 = worst), and `λ = ln(ω / (1 − ω))`. PBO is the share
//! of splits with `λ ≤ 0`: the in-sample winner did no better than the median out of sample.
//!
//! Edges, stated rather than left to chance: a block whose returns do not vary has Sharpe 0
//! (a flat configuration is neither good nor bad); in-sample ties go to the lowest
//! configuration index (the grid's order); out-of-sample ties share their average rank; a
//! winner exactly at the median (λ = 0) counts as overfit. Written by hand: no Rust crate
//! implements CSCV or the DSR; the normal distribution is `statrs`'.

use statrs::distribution::{ContinuousCDF, Normal};

/// The Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal exists")
}

/// Mean, sample standard deviation, skewness and kurtosis (not excess) of returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Observations.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
    /// Skewness, `m3 / m2^1.5` of the central moments (0 when flat).
    pub skew: f64,
    /// Kurtosis, `m4 / m2²` (3 for a normal; 3 when flat).
    pub kurtosis: f64,
}

impl Moments {
    /// The moments of `xs`.
    pub fn of(xs: &[f64]) -> Moments {
        let n = xs.len();
        if n == 0 {
            return Moments { n, mean: f64::NAN, std: f64::NAN, skew: f64::NAN, kurtosis: f64::NAN };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for x in xs {
            let d = x - mean;
            m2 += d * d;
            m3 += d * d * d;
            m4 += d * d * d * d;
        }
        let std = if n > 1 { (m2 / (n - 1) as f64).sqrt() } else { 0.0 };
        let (m2, m3, m4) = (m2 / n as f64, m3 / n as f64, m4 / n as f64);
        let (skew, kurtosis) = if m2 > 0.0 { (m3 / m2.powf(1.5), m4 / (m2 * m2)) } else { (0.0, 3.0) };
        Moments { n, mean, std, skew, kurtosis }
    }

    /// The per-period Sharpe ratio `mean / std` (risk-free already subtracted by the
    /// caller); 0 when the returns do not vary.
    pub fn sharpe(&self) -> f64 {
        if self.std > 0.0 { self.mean / self.std } else { 0.0 }
    }
}

/// The expected maximum Sharpe ratio of `trials` independent trials of no skill whose
/// Sharpe ratios have variance `variance` (same units as the Sharpe ratios); 0 for one trial.
pub fn expected_max_sharpe(trials: usize, variance: f64) -> f64 {
    if trials <= 1 {
        return 0.0;
    }
    let z = std_normal();
    let n = trials as f64;
    let e = std::f64::consts::E;
    variance.max(0.0).sqrt()
        * ((1.0 - EULER_GAMMA) * z.inverse_cdf(1.0 - 1.0 / n) + EULER_GAMMA * z.inverse_cdf(1.0 - 1.0 / (n * e)))
}

/// The Probabilistic Sharpe Ratio: the probability that the true per-period Sharpe ratio
/// exceeds `benchmark`, given the estimate `sr` over `n` returns with `skew` and `kurtosis`.
pub fn probabilistic_sharpe(sr: f64, benchmark: f64, n: usize, skew: f64, kurtosis: f64) -> f64 {
    let var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if n < 2 || var <= 0.0 || !var.is_finite() {
        return f64::NAN;
    }
    std_normal().cdf((sr - benchmark) * ((n - 1) as f64).sqrt() / var.sqrt())
}

/// The Deflated Sharpe Ratio of a selected configuration whose returns have moments `m`,
/// chosen among `trials` whose per-period Sharpe ratios have variance `sr_variance`.
pub fn deflated_sharpe(m: &Moments, trials: usize, sr_variance: f64) -> f64 {
    probabilistic_sharpe(m.sharpe(), expected_max_sharpe(trials, sr_variance), m.n, m.skew, m.kurtosis)
}

/// The result of CSCV.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pbo {
    /// The share of splits whose in-sample winner ranked at or below the median out of
    /// sample.
    pub pbo: f64,
    /// λ of every split, in combination order.
    pub logits: Vec<f64>,
    /// S, the blocks.
    pub blocks: usize,
    /// Rows per block.
    pub rows_per_block: usize,
}

/// Why PBO cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PboError {
    /// S must be even and at least 2.
    #[error("PBO needs an even number of blocks, at least 2 (got {0})")]
    Blocks(usize),
    /// At least two configurations to rank.
    #[error("PBO needs at least 2 configurations (got {0})")]
    Configurations(usize),
    /// Every configuration the same length.
    #[error("configuration {index} has {got} returns where the first has {want}")]
    Ragged {
        /// The configuration.
        index: usize,
        /// Its returns.
        got: usize,
        /// The first's.
        want: usize,
    },
    /// At least 2 returns a block.
    #[error("{rows} returns cannot make {blocks} blocks of at least 2")]
    TooShort {
        /// Returns per configuration.
        rows: usize,
        /// S.
        blocks: usize,
    },
}

/// PBO by CSCV over `returns` (one vector of per-period returns per configuration, all
/// the same length) cut into `blocks` blocks.
pub fn pbo(returns: &[Vec<f64>], blocks: usize) -> Result<Pbo, PboError> {
    if blocks < 2 || !blocks.is_multiple_of(2) {
        return Err(PboError::Blocks(blocks));
    }
    let n = returns.len();
    if n < 2 {
        return Err(PboError::Configurations(n));
    }
    let t = returns[0].len();
    if let Some((index, r)) = returns.iter().enumerate().find(|(_, r)| r.len() != t) {
        return Err(PboError::Ragged { index, got: r.len(), want: t });
    }
    let per = t / blocks;
    if per < 2 {
        return Err(PboError::TooShort { rows: t, blocks });
    }
    // Per configuration and block: count, sum, sum of squares (a split's Sharpe from sums).
    let sums: Vec<Vec<(f64, f64)>> = returns
        .iter()
        .map(|r| {
            (0..blocks)
                .map(|b| r[b * per..(b + 1) * per].iter().fold((0.0, 0.0), |(s, q), x| (s + x, q + x * x)))
                .collect()
        })
        .collect();
    let sharpe = |cfg: usize, pick: &[bool], inside: bool| -> f64 {
        let (mut s, mut q, mut k) = (0.0, 0.0, 0usize);
        for (b, &(bs, bq)) in sums[cfg].iter().enumerate() {
            if pick[b] == inside {
                s += bs;
                q += bq;
                k += per;
            }
        }
        let mean = s / k as f64;
        let var = (q - k as f64 * mean * mean) / (k - 1) as f64;
        // A variance at rounding level is a flat block set: Sharpe 0.
        if var > 1e-12 * (q / k as f64).max(f64::MIN_POSITIVE) { mean / var.sqrt() } else { 0.0 }
    };
    let mut logits = Vec::new();
    let mut pick = vec![false; blocks];
    for combo in combinations(blocks, blocks / 2) {
        pick.iter_mut().for_each(|p| *p = false);
        for &b in &combo {
            pick[b] = true;
        }
        let is: Vec<f64> = (0..n).map(|c| sharpe(c, &pick, true)).collect();
        let best = (0..n).fold(0, |best, c| if is[c] > is[best] { c } else { best });
        let oos: Vec<f64> = (0..n).map(|c| sharpe(c, &pick, false)).collect();
        let below = oos.iter().filter(|&&x| x < oos[best]).count();
        let equal = oos.iter().filter(|&&x| x == oos[best]).count();
        // Average rank of the tie group, 1-based ascending.
        let rank = below as f64 + (equal as f64 + 1.0) / 2.0;
        let w = rank / (n as f64 + 1.0);
        logits.push((w / (1.0 - w)).ln());
    }
    let overfit = logits.iter().filter(|&&l| l <= 0.0).count();
    Ok(Pbo { pbo: overfit as f64 / logits.len() as f64, logits, blocks, rows_per_block: per })
}

/// Every `k`-subset of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let Some(i) = (0..k).rev().find(|&i| c[i] < n - k + i) else { return out };
        c[i] += 1;
        for j in i + 1..k {
            c[j] = c[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Bailey & López de Prado (2014), section 5: 100 trials, the trials'
    /// Sharpe variance 1/2 annualised, 1,250 daily returns with skew −3 and kurtosis 10, a
    /// best annualised Sharpe of 2.5: SR* ≈ 0.1132 a day, DSR ≈ 0.9004.
    #[test]
    fn test_deflated_sharpe_paper_example() {
        let days = 250.0f64;
        let sr_star = expected_max_sharpe(100, 0.5 / days);
        assert!((sr_star - 0.1132).abs() < 5e-5, "SR* {sr_star}");
        let m = Moments { n: 1250, mean: 2.5 / days.sqrt(), std: 1.0, skew: -3.0, kurtosis: 10.0 };
        let dsr = deflated_sharpe(&m, 100, 0.5 / days);
        assert!((dsr - 0.9004).abs() < 5e-4, "DSR {dsr}");
        // Fewer trials, less deflation; one trial, the PSR against 0.
        assert!(deflated_sharpe(&m, 10, 0.5 / days) > dsr);
        let psr0 = probabilistic_sharpe(m.sharpe(), 0.0, 1250, -3.0, 10.0);
        assert_eq!(deflated_sharpe(&m, 1, 0.5 / days), psr0);
        assert!(probabilistic_sharpe(3.0, 0.0, 100, 5.0, 3.0).is_nan(), "negative variance: undefined");
    }

    #[test]
    fn test_moments_by_hand() {
        let m = Moments::of(&[1.0, 2.0, 3.0, 10.0]);
        // mean 4, deviations −3 −2 −1 6: m2 = 12.5, m3 = (−27 −8 −1 +216)/4 = 45,
        // m4 = (81 + 16 + 1 + 1296)/4 = 348.5; sample std √(50/3).
        assert_eq!(m.mean, 4.0);
        assert!((m.std - (50.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.skew - 45.0 / 12.5f64.powf(1.5)).abs() < 1e-12);
        assert!((m.kurtosis - 348.5 / 156.25).abs() < 1e-12);
        let flat = Moments::of(&[0.0; 5]);
        assert_eq!((flat.sharpe(), flat.skew, flat.kurtosis), (0.0, 0.0, 3.0));
    }

    /// Two blocks, two configurations: the in-sample winner always loses out of sample
    /// (PBO 1), or always wins (PBO 0); a flat configuration ties at Sharpe 0.
    #[test]
    fn test_pbo_extremes_and_ties() {
        let a = vec![0.01, 0.02, -0.01, -0.02];
        let b = vec![-0.01, -0.02, 0.01, 0.02];
        let p = pbo(&[a.clone(), b.clone()], 2).unwrap();
        assert_eq!((p.pbo, p.logits.len()), (1.0, 2));
        assert!((p.logits[0] - (1.0f64 / 3.0 / (2.0 / 3.0)).ln()).abs() < 1e-12);
        let good = vec![0.01, 0.02, 0.03, 0.031];
        let p = pbo(&[good.clone(), b.clone()], 2).unwrap();
        assert_eq!(p.pbo, 0.0);
        // Flat against flat: both Sharpe 0, winner index 0, average rank 1.5 of 2: ω = 1/2,
        // λ = 0, counted as overfit.
        let p = pbo(&[vec![0.0; 4], vec![0.0; 4]], 2).unwrap();
        assert_eq!((p.pbo, p.logits[0]), (1.0, 0.0));
    }

    /// Against a brute-force CSCV written separately in Python (each split's Sharpe from its
    /// rows, two-pass variance): 5 configurations, 64 returns, 8 blocks, 70 splits, 63 of
    /// them overfit; the first three logits as computed there.
    #[test]
    fn test_pbo_against_independent_brute_force() {
        let r: Vec<Vec<f64>> = (0..5)
            .map(|c| {
                (0..64)
                    .map(|t| {
                        let (t, c) = (t as f64, c as f64);
                        (t * (c + 1.0) * 0.37).sin() * 0.01 + c * 0.0001 * (t * 0.11).cos()
                    })
                    .collect()
            })
            .collect();
        let p = pbo(&r, 8).unwrap();
        assert_eq!(p.logits.len(), 70);
        assert_eq!(p.logits.iter().filter(|&&l| l <= 0.0).count(), 63);
        assert!((p.pbo - 0.9).abs() < 1e-12);
        let want = [-0.6931471805599454, -1.6094379124341005, 0.0];
        for (got, want) in p.logits.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn test_pbo_refusals_and_combinations() {
        assert_eq!(pbo(&[vec![0.0; 8], vec![0.0; 8]], 3), Err(PboError::Blocks(3)));
        assert_eq!(pbo(&[vec![0.0; 8]], 2), Err(PboError::Configurations(1)));
        assert_eq!(pbo(&[vec![0.0; 8], vec![0.0; 7]], 2), Err(PboError::Ragged { index: 1, got: 7, want: 8 }));
        assert_eq!(pbo(&[vec![0.0; 7], vec![0.0; 7]], 4), Err(PboError::TooShort { rows: 7, blocks: 4 }));
        assert_eq!(combinations(4, 2), vec![vec![0, 1], vec![0, 2], vec![0, 3], vec![1, 2], vec![1, 3], vec![2, 3]]);
        assert_eq!(combinations(16, 8).len(), 12_870);
    }
}
