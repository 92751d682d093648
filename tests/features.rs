//! The market-state vector on the shipped minute bars: after the warm-up no dimension
//! dominates the squared norm, no two dimensions say the same thing, and few values sit
//! at the clip — so a cosine recall weighs every feature, not "which side of VWAP".

use quorum::features::{FeatureBank, STATE_CLIP, STATE_DIM};
use quorum::market::{SessionMode, load};

use crate::common::{equities_1m, opts};

/// Bars per symbol skipped before measuring (every window full, the z-scores settled).
const SKIP: usize = 120;
const CLIP: f32 = STATE_CLIP;

#[test]
fn test_state_vector_balanced_on_real_bars() {
    let mut o = opts(&equities_1m());
    o.session = SessionMode::Regular;
    let (bars, _) = load(&o).unwrap();
    let n_sym = bars.symbols.len();
    let mut banks: Vec<FeatureBank> = (0..n_sym).map(|_| FeatureBank::new()).collect();
    let mut rows: Vec<[f32; STATE_DIM]> = Vec::new();
    for i in 0..bars.len() {
        let b = bars.bar(i);
        let f = banks[b.symbol as usize].update(&b);
        if f.count > SKIP {
            rows.push(f.state);
        }
    }
    let n = rows.len() as f64;
    let mut sq = [0.0f64; STATE_DIM];
    let mut at_clip = 0usize;
    for r in &rows {
        for d in 0..STATE_DIM {
            sq[d] += (r[d] as f64).powi(2);
            if r[d].abs() >= CLIP - 1e-4 {
                at_clip += 1;
            }
        }
    }
    let total: f64 = sq.iter().sum();
    let share: Vec<f64> = sq.iter().map(|s| s / total).collect();
    let mean: Vec<f64> = (0..STATE_DIM).map(|d| rows.iter().map(|r| r[d] as f64).sum::<f64>() / n).collect();
    let sd: Vec<f64> = (0..STATE_DIM)
        .map(|d| (rows.iter().map(|r| (r[d] as f64 - mean[d]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let corr = |a: usize, b: usize| {
        let c = rows.iter().map(|r| (r[a] as f64 - mean[a]) * (r[b] as f64 - mean[b])).sum::<f64>() / n;
        if sd[a] > 0.0 && sd[b] > 0.0 { c / (sd[a] * sd[b]) } else { 0.0 }
    };
    let clip_frac = at_clip as f64 / (n * STATE_DIM as f64);
    println!("{} vectors after {SKIP} bars per symbol", rows.len());
    for d in 0..STATE_DIM {
        let at = rows.iter().filter(|r| r[d].abs() >= CLIP - 1e-4).count() as f64 / n;
        println!(
            "dim {d:2}: share {:5.1}%  mean {:+.2}  sd {:.2}  at clip {:4.1}%",
            share[d] * 100.0,
            mean[d],
            sd[d],
            at * 100.0
        );
    }
    let mut pairs = Vec::new();
    for a in 0..STATE_DIM {
        for b in a + 1..STATE_DIM {
            pairs.push((corr(a, b), a, b));
        }
    }
    pairs.sort_by(|x, y| y.0.abs().total_cmp(&x.0.abs()));
    for (c, a, b) in pairs.iter().take(8) {
        println!("corr({a:2}, {b:2}) = {c:+.3}");
    }
    println!("values at the clip: {:.2}%", clip_frac * 100.0);
    let (top, d) = share.iter().zip(0..).fold((0.0, 0), |m, (&s, d)| if s > m.0 { (s, d) } else { m });
    assert!(top <= 0.20, "dim {d} carries {:.1}% of the squared norm", top * 100.0);
    let (c, a, b) = pairs[0];
    assert!(c.abs() <= 0.7, "dims {a} and {b} correlate at {c:+.3}");
    assert!(clip_frac < 0.02, "{:.2}% of values at the clip", clip_frac * 100.0);
}
