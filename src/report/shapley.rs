//! Exact Shapley values and leave-one-out over the analysts.
//!
//! A coalition S of analysts is worth v(S): a metric (total return, Sharpe, total costs) of
//! the book the composer would have built from S's votes alone. Shapley (1953):
//!
//! ```text
//! φ_i = Σ_{S ⊆ N∖{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S))
//! ```
//!
//! computed exactly over all 2ⁿ coalitions (32 for five analysts; refused above 16). The
//! values satisfy efficiency (Σ φ_i = v(N) − v(∅)), symmetry (interchangeable analysts get
//! equal values) and the null-player property (an analyst that never changes v gets 0).
//! Leave-one-out is `v(N) − v(N ∖ {i})`.
//!
//! Two modes (`graph.shapley`, `--shapley`):
//!
//! - *Replay* (every graph run by default): v(S) re-runs the composer, its band and cost
//!   gate, and the portfolio with the same costs over the **logged** votes, with the
//!   weights of analysts outside S set to 0. Fast (2ⁿ portfolio replays, no analysts), but
//!   the votes are those of the run with every analyst: the analysts share one memory, and
//!   a coalition alone would have remembered — and so voted — differently.
//! - *Full* (`--shapley full`): v(S) re-runs the **whole graph** with only S's analysts,
//!   each coalition with its own fresh memory (or its own copy of `--memory-from`), so
//!   recalls, outcome memories and the composer's win rates are the coalition's own.
//!   2ⁿ − 1 graph runs, two at a time, with a progress bar; v(∅) is the empty book (no
//!   votes, no trades), the same in both modes. The gap between the two modes is what
//!   the shared memory changes. A coalition of m analysts is not refused for a
//!   `composer.cap` at or below 1/m (the full roster passed that check): its weights are
//!   then simply equal.

use serde::{Deserialize, Serialize};

/// Largest roster for exact values (2^16 coalitions).
pub const MAX_PLAYERS: usize = 16;

/// Exact Shapley values of `n` players for the value function `v` over coalition masks
/// (bit i set: player i is in). `v` is called once per coalition.
pub fn shapley(n: usize, v: impl Fn(u32) -> f64) -> Vec<f64> {
    assert!(n <= MAX_PLAYERS, "exact Shapley values over {n} players");
    let values: Vec<f64> = (0..1u32 << n).map(&v).collect();
    shapley_from(n, &values)
}

/// Shapley values from the value of every coalition (`values[mask]`).
pub fn shapley_from(n: usize, values: &[f64]) -> Vec<f64> {
    let fact: Vec<f64> = (0..=n)
        .scan(1.0, |f, k| {
            let out = *f;
            *f *= (k + 1) as f64;
            Some(out)
        })
        .collect();
    let mut phi = vec![0.0; n];
    for (i, p) in phi.iter_mut().enumerate() {
        for s in 0..1u32 << n {
            if s & (1 << i) != 0 {
                continue;
            }
            let k = s.count_ones() as usize;
            let w = fact[k] * fact[n - k - 1] / fact[n];
            *p += w * (values[(s | 1 << i) as usize] - values[s as usize]);
        }
    }
    phi
}

/// Leave-one-out values: v(N) − v(N ∖ {i}).
pub fn leave_one_out(n: usize, values: &[f64]) -> Vec<f64> {
    let all = (1u32 << n) - 1;
    (0..n).map(|i| values[all as usize] - values[(all & !(1 << i)) as usize]).collect()
}

/// One analyst's Shapley and leave-one-out values (replay mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentShapley {
    /// Analyst name.
    pub agent: String,
    /// Shapley value of total return (fraction of initial cash).
    pub total_return: f64,
    /// Shapley value of the Sharpe ratio (0 contributions where a coalition's is undefined).
    pub sharpe: f64,
    /// Shapley value of total costs (currency).
    pub total_costs: f64,
    /// Leave-one-out of total return.
    pub loo_total_return: f64,
    /// Leave-one-out of the Sharpe ratio.
    pub loo_sharpe: f64,
    /// Leave-one-out of total costs.
    pub loo_total_costs: f64,
}

/// Shapley values of every analyst, with the coalition values they came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapleyReport {
    /// `replay`: coalitions re-run the composer over the logged votes; `full`: coalitions
    /// re-run the whole graph, each with its own memory.
    pub mode: String,
    /// v(N) − v(∅) of total return: what the values sum to.
    pub total_return_all: f64,
    /// Per analyst, roster order.
    pub agents: Vec<AgentShapley>,
}

/// Builds the report from the metrics of every coalition (`[return, sharpe, costs]` per
/// mask; a NaN Sharpe counts as 0).
pub fn report(mode: &str, agents: &[String], coalitions: &[[f64; 3]]) -> ShapleyReport {
    let n = agents.len();
    let col = |j: usize| -> Vec<f64> { coalitions.iter().map(|c| if c[j].is_finite() { c[j] } else { 0.0 }).collect() };
    let (ret, sharpe, costs) = (col(0), col(1), col(2));
    let (pr, ps, pc) = (shapley_from(n, &ret), shapley_from(n, &sharpe), shapley_from(n, &costs));
    let (lr, ls, lc) = (leave_one_out(n, &ret), leave_one_out(n, &sharpe), leave_one_out(n, &costs));
    ShapleyReport {
        mode: mode.into(),
        total_return_all: ret[(1usize << n) - 1] - ret[0],
        agents: (0..n)
            .map(|i| AgentShapley {
                agent: agents[i].clone(),
                total_return: pr[i],
                sharpe: ps[i],
                total_costs: pc[i],
                loo_total_return: lr[i],
                loo_sharpe: ls[i],
                loo_total_costs: lc[i],
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three players, v({0}) = 1, v({1}) = 2, v({2}) = 0, v({0,1}) = 4, v({0,2}) = 2,
    /// v({1,2}) = 3, v(N) = 6, v(∅) = 0. By hand, marginal contributions over the six
    /// orderings (0,1,2), (0,2,1), (1,0,2), (1,2,0), (2,0,1), (2,1,0):
    /// player 0: 1, 1, 2, 3, 2, 3 → 2; player 1: 3, 4, 2, 2, 4, 3 → 3;
    /// player 2: 2, 1, 2, 1, 0, 0 → 1. Leave-one-out: 6 − 3, 6 − 2, 6 − 4 = 3, 4, 2.
    #[test]
    fn test_shapley_hand_computed_three_players() {
        let v = [0.0, 1.0, 2.0, 4.0, 0.0, 2.0, 3.0, 6.0];
        let phi = shapley_from(3, &v);
        for (got, want) in phi.iter().zip([2.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{phi:?}");
        }
        assert_eq!(leave_one_out(3, &v), vec![3.0, 4.0, 2.0]);
    }

    /// Efficiency, symmetry and the null player on a random-looking game.
    #[test]
    fn test_shapley_axioms() {
        // Players 0 and 1 are interchangeable, player 3 never changes anything.
        let n = 4;
        let v = |s: u32| {
            let (a, b, c) = (s & 1 != 0, s & 2 != 0, s & 4 != 0);
            let base = (a as u8 + b as u8) as f64 * 1.5 + if c { 0.7 } else { 0.0 };
            if a && b && c { base + 2.0 } else { base }
        };
        let phi = shapley(n, v);
        let total: f64 = phi.iter().sum();
        assert!((total - (v(15) - v(0))).abs() < 1e-12, "efficiency");
        assert!((phi[0] - phi[1]).abs() < 1e-12, "symmetry");
        assert!(phi[3].abs() < 1e-12, "null player");
    }
}
