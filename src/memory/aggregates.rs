//! Win/loss aggregates from `outcome` memories, kept incrementally for the composer.
//!
//! Per agent and per (agent, symbol): exponentially decayed counts of wins (return > 0) and
//! losses (return < 0), the decayed weight of all outcomes and the decayed sum of returns.
//! A contribution made at τ weighs `0.5^((t - τ) / H)` at t (H = `outcome_half_life_hours`).
//! Adding an outcome decays the running sums to its time and adds 1: O(1), no scan. Reading
//! at t ≥ the last outcome decays the sums once more. Reading at an earlier t (a historical
//! `--at`) recomputes from the outcome log, which keeps contributions younger than 40
//! half-lives (older ones weigh < 1e-12). A property test checks the incremental sums
//! against that brute force.
//!
//! **Evidence** (what the composer weighs by) is discounted by outcomes, not by time: each
//! new outcome of a key multiplies that key's earlier evidence by `λ = 0.5^(1/N)` (N =
//! `outcome_half_life_outcomes`), so the 200th-last outcome weighs half as much as the last,
//! whatever the bar interval. An hour-based discount left the composer 4–10 effective
//! outcomes per analyst on hourly bars (72 event hours is three sessions); outcome-counted,
//! it keeps N/ln 2 ≈ 1.44·N once warm, on minute and hourly data alike. Time passing
//! without outcomes does not erode evidence. The brute force recomputes it too, from the
//! log as pruned by hours: a historical read (`memory stats --at`) of evidence older than
//! 40 hour-half-lives misses the pruned outcomes and can differ from what the composer read
//! at the time; the composer itself always reads the incremental sums.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::market::Ts;
use crate::market::time::NS_PER_HOUR;

/// Outcome-discounted sums of one key (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Discounted number of wins (outcome > 0).
    pub wins: f64,
    /// Discounted number of losses (outcome < 0).
    pub losses: f64,
    /// Discounted number of outcomes (flat ones included).
    pub count: f64,
    /// Discounted sum of outcomes.
    pub ret_sum: f64,
}

/// Adds an outcome `ret` of weight `w` to (wins, losses, count, return sum): a win if
/// `ret > 0`, a loss if `ret < 0`, neither if flat. The one counting rule of every tally.
fn credit([wins, losses, count, ret_sum]: [&mut f64; 4], ret: f64, w: f64) {
    *count += w;
    *ret_sum += w * ret;
    if ret > 0.0 {
        *wins += w;
    } else if ret < 0.0 {
        *losses += w;
    }
}

impl Evidence {
    fn add(&mut self, ret: f64, lambda: f64) {
        for x in [&mut self.wins, &mut self.losses, &mut self.count, &mut self.ret_sum] {
            *x *= lambda;
        }
        credit([&mut self.wins, &mut self.losses, &mut self.count, &mut self.ret_sum], ret, 1.0);
    }

    /// Posterior mean win rate under a Beta(a, b) prior: (a + wins) / (a + b + wins + losses).
    pub fn win_rate(&self, a: f64, b: f64) -> f64 {
        (a + self.wins) / (a + b + self.wins + self.losses)
    }

    /// Discounted mean outcome (0 without outcomes).
    pub fn mean_return(&self) -> f64 {
        if self.count > 0.0 { self.ret_sum / self.count } else { 0.0 }
    }
}

/// Decayed sums of one key.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Tally {
    pub wins: f64,
    pub losses: f64,
    pub weight: f64,
    pub ret_sum: f64,
    pub last: Ts,
    /// Outcome-discounted evidence (absent in checkpoints written before it existed).
    #[serde(default)]
    pub evidence: Evidence,
}

impl Tally {
    fn factor(half_life_h: f64, from: Ts, to: Ts) -> f64 {
        0.5f64.powf((to - from).max(0) as f64 / NS_PER_HOUR as f64 / half_life_h)
    }

    /// The sums decayed to `t` (t ≥ last).
    pub fn at(&self, t: Ts, half_life_h: f64) -> Tally {
        let f = Self::factor(half_life_h, self.last, t);
        Tally {
            wins: self.wins * f,
            losses: self.losses * f,
            weight: self.weight * f,
            ret_sum: self.ret_sum * f,
            last: t.max(self.last),
            evidence: self.evidence,
        }
    }

    fn add(&mut self, t: Ts, ret: f64, half_life_h: f64, lambda: f64) {
        let mut d = self.at(t, half_life_h);
        d.evidence.add(ret, lambda);
        credit([&mut d.wins, &mut d.losses, &mut d.weight, &mut d.ret_sum], ret, 1.0);
        *self = d;
    }
}

/// What the composer reads for one agent (or agent × symbol).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct AgentStats {
    /// Decayed number of wins.
    pub wins: f64,
    /// Decayed number of losses.
    pub losses: f64,
    /// Decayed number of outcomes.
    pub count: f64,
    /// Decayed mean return.
    pub mean_return: f64,
    /// Outcome-discounted evidence, what the composer weighs by.
    pub evidence: Evidence,
}

impl AgentStats {
    fn from(t: &Tally) -> Self {
        AgentStats {
            wins: t.wins,
            losses: t.losses,
            count: t.weight,
            mean_return: if t.weight > 0.0 { t.ret_sum / t.weight } else { 0.0 },
            evidence: t.evidence,
        }
    }

    /// Posterior mean win rate under a Beta(a, b) prior: (a + wins) / (a + b + wins + losses).
    pub fn win_rate(&self, a: f64, b: f64) -> f64 {
        (a + self.wins) / (a + b + self.wins + self.losses)
    }
}

/// One logged outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub time: Ts,
    pub agent: String,
    pub symbol: String,
    pub ret: f64,
}

/// Incremental aggregates plus the outcome log behind them.
///
/// The log is kept in shared chunks of at most 64 records: a snapshot and the writer share
/// every full chunk, so publishing copies at most one small chunk (copying the whole log at
/// every publish with outcomes was a measurable cost of the graph's hot loop).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Aggregates {
    /// H: half-life of an outcome's weight, event hours (`memory.outcome_half_life_hours`).
    pub half_life_hours: f64,
    /// N: half-life of evidence, in outcomes of the same key (`memory.outcome_half_life_outcomes`).
    #[serde(default = "default_half_life_outcomes")]
    pub half_life_outcomes: f64,
    /// Decayed tallies per agent name.
    pub by_agent: BTreeMap<String, Tally>,
    /// Decayed tallies per agent name, then per symbol.
    pub by_agent_symbol: BTreeMap<String, BTreeMap<String, Tally>>,
    /// Outcomes younger than 40 half-lives, in chunks of ≤ 64, for reads at earlier times.
    pub log: Vec<std::sync::Arc<Vec<OutcomeRecord>>>,
}

const LOG_CHUNK: usize = 64;

fn default_half_life_outcomes() -> f64 {
    super::MemoryParams::default().outcome_half_life_outcomes
}

impl Aggregates {
    /// Empty aggregates with the given half-lives (event hours; outcomes).
    pub fn new(half_life_hours: f64, half_life_outcomes: f64) -> Self {
        Aggregates { half_life_hours, half_life_outcomes, ..Default::default() }
    }

    /// λ: the factor each new outcome applies to its key's earlier evidence.
    fn lambda(&self) -> f64 {
        0.5f64.powf(1.0 / self.half_life_outcomes)
    }

    /// Adds an outcome (outcomes arrive in non-decreasing time per key).
    pub fn add(&mut self, time: Ts, agent: &str, symbol: &str, ret: f64) {
        let (h, l) = (self.half_life_hours, self.lambda());
        self.by_agent.entry(agent.to_string()).or_default().add(time, ret, h, l);
        self.by_agent_symbol
            .entry(agent.to_string())
            .or_default()
            .entry(symbol.to_string())
            .or_default()
            .add(time, ret, h, l);
        let rec = OutcomeRecord { time, agent: agent.to_string(), symbol: symbol.to_string(), ret };
        match self.log.last_mut() {
            Some(chunk) if chunk.len() < LOG_CHUNK => std::sync::Arc::make_mut(chunk).push(rec),
            _ => self.log.push(std::sync::Arc::new(vec![rec])),
        }
    }

    /// Drops log entries older than 40 half-lives before `now` (whole chunks; records in a
    /// partly old chunk stay until the chunk is all old — they weigh < 1e-12 anyway).
    pub fn prune(&mut self, now: Ts) {
        let horizon = now - (40.0 * self.half_life_hours * NS_PER_HOUR as f64) as i64;
        self.log.retain(|c| c.last().is_some_and(|r| r.time >= horizon));
    }

    /// Stats of `agent` (and `symbol`, if given) as of `t`.
    pub fn stats(&self, agent: &str, symbol: Option<&str>, t: Ts) -> AgentStats {
        let h = self.half_life_hours;
        let tally = match symbol {
            None => self.by_agent.get(agent),
            Some(s) => self.by_agent_symbol.get(agent).and_then(|m| m.get(s)),
        };
        match tally {
            None => AgentStats::default(),
            Some(tl) if t >= tl.last => AgentStats::from(&tl.at(t, h)),
            Some(_) => self.brute_force(agent, symbol, t),
        }
    }

    /// Recomputes stats from the log (outcomes at or before `t`; evidence from the outcomes
    /// the log still holds).
    pub fn brute_force(&self, agent: &str, symbol: Option<&str>, t: Ts) -> AgentStats {
        let (h, lambda) = (self.half_life_hours, self.lambda());
        let mut tl = Tally::default();
        for r in self.log.iter().flat_map(|c| c.iter()) {
            if r.agent == agent && symbol.is_none_or(|s| r.symbol == s) && r.time <= t {
                tl.evidence.add(r.ret, lambda);
                let w = Tally::factor(h, r.time, t);
                credit([&mut tl.wins, &mut tl.losses, &mut tl.weight, &mut tl.ret_sum], r.ret, w);
            }
        }
        AgentStats::from(&tl)
    }

    /// Agents with any outcome.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.by_agent.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn test_aggregates_hand_computed_half_life() {
        let h = NS_PER_HOUR;
        let mut a = Aggregates::new(1.0, 200.0);
        a.add(0, "wyckoff", "SPY", 0.02);
        a.add(h, "wyckoff", "SPY", -0.01);
        let s = a.stats("wyckoff", None, h);
        assert!((s.wins - 0.5).abs() < 1e-12 && (s.losses - 1.0).abs() < 1e-12);
        assert!((s.count - 1.5).abs() < 1e-12);
        assert!((s.mean_return - (0.01 - 0.01) / 1.5).abs() < 1e-12);
        assert!((s.win_rate(1.0, 1.0) - 1.5 / 3.5).abs() < 1e-12);
        let later = a.stats("wyckoff", Some("SPY"), 2 * h);
        assert!((later.count - 0.75).abs() < 1e-12);
        assert_eq!(a.stats("markov", None, h), AgentStats::default());
    }

    /// Evidence is discounted per outcome, not per hour: with N = 1, a win then a loss a
    /// week later leave wins 0.5, losses 1, whatever the gap, and a year without outcomes
    /// changes nothing.
    #[test]
    fn test_evidence_is_discounted_by_outcomes_not_hours() {
        let h = NS_PER_HOUR;
        let mut a = Aggregates::new(1.0, 1.0);
        a.add(0, "wyckoff", "SPY", 0.02);
        a.add(168 * h, "wyckoff", "SPY", -0.01);
        a.add(168 * h, "wyckoff", "SPY", 0.0);
        let e = a.stats("wyckoff", None, 168 * h).evidence;
        assert!((e.wins - 0.25).abs() < 1e-12 && (e.losses - 0.5).abs() < 1e-12, "{e:?}");
        assert!((e.count - 1.75).abs() < 1e-12, "a flat outcome counts, neither win nor loss");
        assert_eq!(a.stats("wyckoff", None, 9000 * h).evidence, e);
        assert!((e.win_rate(1.0, 1.0) - 1.25 / 2.75).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn prop_incremental_equals_brute_force(
            events in prop::collection::vec((0i64..500, 0usize..3, 0usize..2, -0.05f64..0.05), 1..60),
            query_at in 0i64..600,
        ) {
            let mut events = events;
            events.sort_by_key(|e| e.0);
            let agents = ["hedge", "liquidity", "markov"];
            let symbols = ["SPY", "IBM"];
            let mut a = Aggregates::new(3.0, 5.0);
            for (t, ag, sy, r) in &events {
                a.add(t * NS_PER_HOUR / 10, agents[*ag], symbols[*sy], *r);
            }
            let at = query_at * NS_PER_HOUR / 10;
            for ag in agents {
                for sy in [None, Some("SPY"), Some("IBM")] {
                    let inc = a.stats(ag, sy, at);
                    let bf = a.brute_force(ag, sy, at);
                    let (ie, be) = (inc.evidence, bf.evidence);
                    let pairs = [
                        (inc.wins, bf.wins), (inc.losses, bf.losses), (inc.count, bf.count), (inc.mean_return, bf.mean_return),
                        (ie.wins, be.wins), (ie.losses, be.losses), (ie.count, be.count), (ie.ret_sum, be.ret_sum),
                    ];
                    for (x, y) in pairs {
                        prop_assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{ag} {sy:?}: {inc:?} vs {bf:?}");
                    }
                }
            }
        }
    }
}
