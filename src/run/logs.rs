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
}
