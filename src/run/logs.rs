//! The analyst graph's logs: every vote and every composer weight, step by step. The
//! baselines replay them (`engine::graph::replay`) and the run folder stores them
//! (`votes.parquet`, `weights.parquet`).

use crate::agents::Vote;
use crate::composer::AgentWeight;
use crate::market::Ts;

/// Votes of a run, step by step.
#[derive(Debug, Clone, Default)]
pub struct VoteLog {
    /// (step timestamp, start index into `votes`) per step.
    pub steps: Vec<(Ts, usize)>,
    /// Every vote of the run, grouped by step in step order.
    pub votes: Vec<Vote>,
}

impl VoteLog {
    /// The votes of step `k`.
    pub fn step(&self, k: usize) -> &[Vote] {
        let Some(&(_, a)) = self.steps.get(k) else { return &[] };
        let b = self.steps.get(k + 1).map_or(self.votes.len(), |x| x.1);
        &self.votes[a..b]
    }

    /// Appends the votes of the step at `ts`.
    pub fn push_step(&mut self, ts: Ts, votes: &[Vote]) {
        self.steps.push((ts, self.votes.len()));
        self.votes.extend_from_slice(votes);
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// No steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Moves the steps of `later`, which follow this log's last step, to its end, leaving
    /// `later` empty with its capacity for reuse (an empty log swaps with `later`, taking
    /// its capacity too).
    pub fn append(&mut self, later: &mut VoteLog) {
        if self.steps.is_empty() && self.votes.is_empty() {
            std::mem::swap(self, later);
            return;
        }
        let base = self.votes.len();
        self.steps.extend(later.steps.drain(..).map(|(t, a)| (t, a + base)));
        self.votes.append(&mut later.votes);
    }

    /// Empties the log, keeping its capacity.
    pub fn clear(&mut self) {
        self.steps.clear();
        self.votes.clear();
    }
}

/// Composer weights of a run, step by step (memory-based, whatever the live mode).
#[derive(Debug, Clone, Default)]
pub struct WeightLog {
    /// Bar start of each step.
    pub ts: Vec<Ts>,
    /// `agents` entries per step.
    pub weights: Vec<AgentWeight>,
    /// Number of analysts: weight entries per step.
    pub agents: usize,
}

impl WeightLog {
    /// An empty log for `agents` analysts.
    pub fn new(agents: usize) -> Self {
        WeightLog { agents, ..Default::default() }
    }

    /// The weights of step `k`.
    pub fn step(&self, k: usize) -> &[AgentWeight] {
        let a = k * self.agents;
        self.weights.get(a..a + self.agents).unwrap_or(&[])
    }

    /// Appends the weights of the step at `ts` (one per analyst).
    pub fn push_step(&mut self, ts: Ts, weights: Vec<AgentWeight>) {
        assert_eq!(weights.len(), self.agents, "one weight per analyst at every step");
        self.ts.push(ts);
        self.weights.extend(weights);
    }

    /// Moves the steps of `later` (a log of as many analysts), which follow this log's last
    /// step, to its end, leaving `later` empty with its capacity (an empty log swaps).
    pub fn append(&mut self, later: &mut WeightLog) {
        assert_eq!(later.agents, self.agents, "logs of one roster");
        if self.ts.is_empty() && self.weights.is_empty() {
            std::mem::swap(self, later);
            return;
        }
        self.ts.append(&mut later.ts);
        self.weights.append(&mut later.weights);
    }

    /// Empties the log, keeping its capacity.
    pub fn clear(&mut self) {
        self.ts.clear();
        self.weights.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vote_log_steps_slice_their_votes() {
        let v = |symbol: u32| Vote::new(0, symbol, 0, 0.0, 0.0);
        let mut log = VoteLog::default();
        log.push_step(10, &[v(0), v(1)]);
        log.push_step(20, &[]);
        log.push_step(30, &[v(2)]);
        assert_eq!(log.step(0).len(), 2);
        assert!(log.step(1).is_empty());
        assert_eq!(log.step(2)[0].symbol, 2);
        assert!(log.step(3).is_empty(), "past the end");
    }

    /// A log appended from pieces is the log written in one go, step by step.
    #[test]
    fn test_logs_append_pieces_in_order() {
        let v = |symbol: u32| Vote::new(0, symbol, 0, 0.0, 0.0);
        let steps: [&[Vote]; 4] = [&[v(0), v(1)], &[], &[v(2)], &[v(3), v(4), v(5)]];
        let (mut whole, mut w_whole) = (VoteLog::default(), WeightLog::new(1));
        let (mut joined, mut w_joined) = (VoteLog::default(), WeightLog::new(1));
        let weight = |k: usize| {
            let x = k as f64;
            vec![AgentWeight { agent: 0, weight: x, win_rate: x, wins: x, losses: x, edge: x, mean_outcome: x }]
        };
        for (k, s) in steps.iter().enumerate() {
            whole.push_step(k as Ts, s);
            w_whole.push_step(k as Ts, weight(k));
        }
        for piece in [0..1, 1..3, 3..3, 3..4] {
            let (mut p, mut w) = (VoteLog::default(), WeightLog::new(1));
            for k in piece {
                p.push_step(k as Ts, steps[k]);
                w.push_step(k as Ts, weight(k));
            }
            joined.append(&mut p);
            w_joined.append(&mut w);
            assert!(p.is_empty() && w.ts.is_empty() && w.weights.is_empty(), "the piece is left empty");
        }
        assert_eq!((joined.len(), w_joined.ts.len()), (4, 4));
        for k in 0..5 {
            let syms = |l: &VoteLog| l.step(k).iter().map(|v| v.symbol).collect::<Vec<_>>();
            assert_eq!(syms(&joined), syms(&whole), "step {k}");
            assert_eq!(w_joined.step(k).first().map(|w| w.weight), w_whole.step(k).first().map(|w| w.weight));
        }
    }
}
