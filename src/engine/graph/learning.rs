//! The learning loop: which votes are judged, when, and what the memory keeps of them.
//!
//! Learning is sampled on non-overlapping horizons: for each (analyst, symbol) one vote
//! with |direction| ≥ `min_vote` is held until its horizon (the analyst's profile, in
//! bars of the symbol) has passed, judged at that bar's close, and only then is the next
//! one taken. Judging every bar's vote would count the same move up to `horizon` times and
//! flood the memory with correlated outcomes.
//!
//! ```text
//! market_return = ln(close_resolve / close_vote)
//! outcome       = sign(direction) · market_return            > 0 is a win
//! reward        = tanh(outcome / (σ · √horizon))             in [-1, 1], σ: 1-bar stdev at the vote
//! ```
//!
//! What is remembered ([`record`]): an `outcome` memory of the analyst (its text names the
//! setup's rationale, so later recalls of the same setup find it; its vector is the market
//! state at the vote; importance 50 + 30·|reward|; the signed outcome, which feeds the
//! composer's win rates), and the memories the vote used are reinforced by the reward.
//! The graph records an analyst's outcomes just before it sends the analyst the step, so
//! the store sees each analyst's writes in the same order whatever the thread timing.
//!
//! **Does the evidence predict?** Each held vote keeps the analyst's posterior win rate at
//! the vote (the composer's, from the memory); when it resolves, [`Calibration`] pairs it
//! with the result (1 win, 0 loss; flat outcomes are counted apart) and reports per analyst
//! the Pearson correlation of the two — the point-biserial correlation (Tate 1954). Near 0
//! means the remembered win rate says nothing about the next outcome, and weighting by it
//! cannot help; the run summary shows it whatever it is.

use crate::agents::actor::StepBar;
use crate::agents::{MemoryUse, Stance, Vote};
use crate::market::{SymbolId, Ts};
use crate::memory::{ItemId, Kind, MemoryError, MemoryStore, NewItem};

/// A vote's resolution, once its horizon has passed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolution {
    /// Dense symbol id of the symbol voted on.
    pub(crate) symbol: SymbolId,
    /// Symbol name, e.g. `SPY` (the outcome memory's symbol).
    pub(crate) symbol_name: String,
    /// When the vote was made.
    pub(crate) vote_ts: Ts,
    /// When it resolved (bar start of the resolving step).
    pub(crate) ts: Ts,
    /// The vote's direction in [-1, 1].
    pub(crate) direction: f64,
    /// Log return of the symbol over the horizon.
    pub(crate) market_return: f64,
    /// `sign(direction) × market_return`: positive is a win.
    pub(crate) outcome: f64,
    /// Reward in [-1, 1] for the memories the vote used: tanh(outcome / (σ·√h)).
    pub(crate) reward: f64,
    /// The vote's rationale, named in the outcome memory's text.
    pub(crate) rationale: String,
    /// Bars the vote was held (the analyst's profile `horizon`).
    pub(crate) horizon: usize,
    /// Market-state vector at the vote (the outcome memory's vector).
    pub(crate) state: Vec<f32>,
    /// Memories the vote used, reinforced by `reward`.
    pub(crate) memory_ids: Vec<ItemId>,
    /// The analyst's posterior win rate when it voted.
    pub(crate) win_rate: f64,
    /// The vote's confidence, in [0, 1].
    pub(crate) confidence: f64,
    /// What the vote's recall brought.
    pub(crate) memory: MemoryUse,
}

/// A vote held for judging.
#[derive(Debug, Clone)]
struct OpenVote {
    win_rate: f64,
    confidence: f64,
    vote_ts: Ts,
    close: f64,
    direction: f64,
    bars_left: usize,
    sigma: f64,
    rationale: String,
    state: Vec<f32>,
    memory_ids: Vec<ItemId>,
    memory: MemoryUse,
}

/// The votes under evaluation, one slot per (analyst, symbol).
#[derive(Debug, Clone)]
pub(crate) struct Learning {
    horizons: Vec<usize>,
    min_vote: f64,
    open: Vec<Vec<Option<OpenVote>>>,
}

impl Learning {
    /// A loop for analysts with these horizons (roster order) over `n_symbols` symbols.
    pub(crate) fn new(horizons: Vec<usize>, min_vote: f64, n_symbols: usize) -> Self {
        let open = vec![vec![None; n_symbols]; horizons.len()];
        Learning { horizons, min_vote, open }
    }

    /// Counts one bar off every held vote of the step's symbols and resolves those whose
    /// horizon has passed, at the step's close; per analyst, in roster order.
    pub(crate) fn due(&mut self, bars: &[StepBar], t: Ts) -> Vec<Vec<Resolution>> {
        let mut out = vec![Vec::new(); self.horizons.len()];
        for (a, opens) in self.open.iter_mut().enumerate() {
            for b in bars {
                let Some(slot) = opens.get_mut(b.symbol as usize) else { continue };
                let due = |ov: &mut OpenVote| {
                    ov.bars_left = ov.bars_left.saturating_sub(1);
                    ov.bars_left == 0
                };
                let Some(ov) = slot.take_if(due) else { continue };
                let market_return = (b.features.bar.close / ov.close).ln();
                // sign(0) = 0 and a zero return stays +0.0: a flat outcome, never a loss.
                let outcome = crate::num::sign(ov.direction) * market_return + 0.0;
                let h = self.horizons[a];
                let scale = ov.sigma * (h as f64).sqrt();
                out[a].push(Resolution {
                    symbol: b.symbol,
                    symbol_name: b.symbol_name.to_string(),
                    vote_ts: ov.vote_ts,
                    ts: t,
                    direction: ov.direction,
                    market_return,
                    outcome,
                    reward: if scale > 0.0 { (outcome / scale).tanh() } else { 0.0 },
                    rationale: ov.rationale,
                    horizon: h,
                    state: ov.state,
                    memory_ids: ov.memory_ids,
                    win_rate: ov.win_rate,
                    confidence: ov.confidence,
                    memory: ov.memory,
                });
            }
        }
        out
    }

    /// Holds the step's votes that can be judged: |direction| ≥ `min_vote`, and no vote of
    /// the same analyst on the same symbol already held; `win_rates[a]` is analyst a's
    /// posterior win rate at the vote. A vote on a symbol with no bar in the step (an
    /// analyst bug) is returned as (analyst index, symbol).
    pub(crate) fn open(
        &mut self,
        votes: &[Vote],
        bars: &[StepBar],
        t: Ts,
        win_rates: &[f64],
    ) -> Result<(), (usize, SymbolId)> {
        for v in votes {
            let opens = &mut self.open[v.agent];
            if opens.len() <= v.symbol as usize {
                opens.resize(v.symbol as usize + 1, None);
            }
            if opens[v.symbol as usize].is_none() && v.direction.abs() >= self.min_vote {
                let b = bars.iter().find(|b| b.symbol == v.symbol).ok_or((v.agent, v.symbol))?;
                opens[v.symbol as usize] = Some(OpenVote {
                    win_rate: win_rates.get(v.agent).copied().unwrap_or(f64::NAN),
                    confidence: v.confidence,
                    vote_ts: t,
                    close: b.features.bar.close,
                    direction: v.direction,
                    bars_left: self.horizons[v.agent],
                    sigma: b.features.sigma,
                    rationale: v.rationale.clone(),
                    state: b.features.state.to_vec(),
                    memory_ids: v.memory_ids.clone(),
                    memory: v.memory,
                });
            }
        }
        Ok(())
    }
}

/// Per analyst: resolved votes, and whether the posterior win rate at the vote predicted
/// the result (see the module docs); and whether the vote's own confidence, read as the
/// probability of being right, is calibrated: Brier score `mean((c − y)²)` (Brier 1950) and
/// a reliability table of five confidence buckets against the realised hit rate.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    sums: Vec<[f64; 7]>,
    /// Per analyst: Σ (c − y)² over wins and losses.
    brier: Vec<f64>,
    /// Per analyst and bucket [0.2·b, 0.2·(b+1)): (votes, wins, Σ confidence).
    buckets: Vec<[(f64, f64, f64); 5]>,
    horizons: Vec<usize>,
    /// Per analyst and stance (agree, disagree, none): (judged, wins).
    stances: Vec<[(usize, usize); 3]>,
    /// Per analyst, for wins [0] and losses [1]: votes, votes that recalled anything, and
    /// recalled memories per kind (7) then per layer (4).
    used: Vec<[(usize, usize, [u64; 11]); 2]>,
}

/// The hit rate of one analyst's judged votes whose recalled evidence stood one way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StanceLine {
    /// `agree`, `disagree` or `none`.
    pub stance: String,
    /// Judged votes (wins and losses).
    pub judged: usize,
    /// Share of them that won.
    pub hit_rate: Option<f64>,
}

/// What the judged votes of one result (wins or losses) recalled.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemoryUsed {
    /// Judged votes with this result.
    pub votes: usize,
    /// Of them, votes that recalled at least one memory.
    pub recalled_any: usize,
    /// Recalled memories per kind (snake_case names), summed over those votes.
    pub kinds: std::collections::BTreeMap<String, u64>,
    /// Recalled memories per layer, summed over those votes.
    pub layers: std::collections::BTreeMap<String, u64>,
}

/// One confidence bucket of a reliability table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReliabilityBucket {
    /// Lower bound of the bucket's confidence (its upper bound is this + 0.2).
    pub from: f64,
    /// Judged votes (wins and losses) in the bucket.
    pub votes: usize,
    /// Mean confidence of those votes.
    pub mean_confidence: Option<f64>,
    /// Share of them that won.
    pub hit_rate: Option<f64>,
}

/// One analyst's line of [`Calibration::report`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalystCalibration {
    /// Analyst name.
    pub agent: String,
    /// Votes judged (wins + losses + flat).
    pub resolved: usize,
    /// Outcomes > 0.
    pub wins: usize,
    /// Outcomes < 0.
    pub losses: usize,
    /// Outcomes of exactly 0 (no price change over the horizon).
    pub flat: usize,
    /// Mean posterior win rate at the vote (over wins and losses).
    pub mean_win_rate: Option<f64>,
    /// Realised share of wins among wins and losses.
    pub hit_rate: Option<f64>,
    /// Pearson correlation of the posterior win rate at the vote with the result (1/0);
    /// None with fewer than 3 results or no variation.
    pub win_rate_outcome_corr: Option<f64>,
    /// Bars a vote is held before it is judged (the profile's horizon): the hit rate is
    /// per horizon.
    pub horizon: usize,
    /// Brier score of the votes' confidence as the probability of winning (0 is perfect,
    /// 0.25 is a coin at confidence ½).
    pub brier: Option<f64>,
    /// Confidence buckets against the realised hit rate.
    pub reliability: Vec<ReliabilityBucket>,
    /// Hit rate of the judged votes whose recalled outcome evidence agreed with the vote,
    /// disagreed, or was absent.
    pub evidence: Vec<StanceLine>,
    /// What the winning votes recalled, by memory kind and layer.
    pub memory_of_wins: MemoryUsed,
    /// The same for the losing votes, to compare.
    pub memory_of_losses: MemoryUsed,
}

impl Calibration {
    /// Empty sums for analysts with these horizons (roster order).
    pub fn new(horizons: Vec<usize>) -> Self {
        let n = horizons.len();
        Calibration {
            sums: vec![[0.0; 7]; n],
            brier: vec![0.0; n],
            buckets: vec![[(0.0, 0.0, 0.0); 5]; n],
            horizons,
            stances: vec![[(0, 0); 3]; n],
            used: vec![[(0, 0, [0; 11]); 2]; n],
        }
    }

    /// Adds what analyst `a`'s resolved vote recalled, by its result: whether the evidence
    /// backed it ([`MemoryUse::stance`]), and the kinds and layers used. Flat outcomes are
    /// left out, as in the hit rate.
    pub(crate) fn add_memory(&mut self, a: usize, outcome: f64, m: &MemoryUse) {
        if outcome == 0.0 || a >= self.stances.len() {
            return;
        }
        let win = outcome > 0.0;
        let s = match m.stance() {
            Stance::Agree => 0,
            Stance::Disagree => 1,
            Stance::None => 2,
        };
        let line = &mut self.stances[a][s];
        *line = (line.0 + 1, line.1 + usize::from(win));
        let (votes, any, counts) = &mut self.used[a][usize::from(!win)];
        *votes += 1;
        let all = m.kinds.iter().chain(&m.layers).map(|&c| u64::from(c));
        *any += usize::from(m.kinds.iter().any(|&c| c > 0));
        for (c, x) in counts.iter_mut().zip(all) {
            *c += x;
        }
    }

    fn memory_used(&self, a: usize, r: usize) -> MemoryUsed {
        let (votes, recalled_any, counts) = self.used[a][r];
        MemoryUsed {
            votes,
            recalled_any,
            kinds: crate::memory::Kind::ALL.iter().zip(&counts[..7]).map(|(k, &c)| (k.name().to_string(), c)).collect(),
            layers: crate::memory::Layer::ALL
                .iter()
                .zip(&counts[7..])
                .map(|(l, &c)| (l.name().to_string(), c))
                .collect(),
        }
    }

    /// Adds analyst `a`'s resolved vote: win rate at the vote, outcome, confidence.
    pub(crate) fn add(&mut self, a: usize, p: f64, outcome: f64, confidence: f64) {
        let Some(s) = self.sums.get_mut(a) else { return };
        if outcome == 0.0 || !p.is_finite() {
            s[6] += 1.0;
            return;
        }
        let y = if outcome > 0.0 { 1.0 } else { 0.0 };
        let c = confidence.clamp(0.0, 1.0);
        self.brier[a] += (c - y) * (c - y);
        let b = &mut self.buckets[a][((c * 5.0) as usize).min(4)];
        *b = (b.0 + 1.0, b.1 + y, b.2 + c);
        for (k, v) in [1.0, p, y, p * y, p * p, y * y].into_iter().enumerate() {
            s[k] += v;
        }
    }

    /// The per-analyst lines, in roster order.
    pub fn report(&self, agents: &[String]) -> Vec<AnalystCalibration> {
        self.sums
            .iter()
            .zip(agents)
            .enumerate()
            .map(|(a, (s, agent))| {
                let [n, sp, sy, spy, spp, syy, flat] = *s;
                let mean = |x: f64| (n > 0.0).then(|| x / n);
                let cov = spy / n.max(1.0) - (sp / n.max(1.0)) * (sy / n.max(1.0));
                let vp = spp / n.max(1.0) - (sp / n.max(1.0)).powi(2);
                let vy = syy / n.max(1.0) - (sy / n.max(1.0)).powi(2);
                let corr = (n >= 3.0 && vp > 1e-18 && vy > 1e-18).then(|| cov / (vp * vy).sqrt());
                AnalystCalibration {
                    agent: agent.clone(),
                    resolved: (n + flat) as usize,
                    wins: sy as usize,
                    losses: (n - sy) as usize,
                    flat: flat as usize,
                    mean_win_rate: mean(sp),
                    hit_rate: mean(sy),
                    win_rate_outcome_corr: corr,
                    horizon: self.horizons.get(a).copied().unwrap_or(0),
                    brier: (n > 0.0).then(|| self.brier[a] / n),
                    reliability: self.buckets[a]
                        .iter()
                        .enumerate()
                        .map(|(b, &(k, w, c))| ReliabilityBucket {
                            from: b as f64 * 0.2,
                            votes: k as usize,
                            mean_confidence: (k > 0.0).then(|| c / k),
                            hit_rate: (k > 0.0).then(|| w / k),
                        })
                        .collect(),
                    evidence: ["agree", "disagree", "none"]
                        .iter()
                        .zip(self.stances[a])
                        .map(|(&stance, (judged, wins))| StanceLine {
                            stance: stance.to_string(),
                            judged,
                            hit_rate: (judged > 0).then(|| wins as f64 / judged as f64),
                        })
                        .collect(),
                    memory_of_wins: self.memory_used(a, 0),
                    memory_of_losses: self.memory_used(a, 1),
                }
            })
            .collect()
    }
}

/// The text of an outcome memory: a sentence with the vote's rationale, so later recalls of
/// the same setup find it. An outcome of exactly 0 is written as flat, not as a loss.
pub(super) fn outcome_text(agent: &str, r: &Resolution) -> String {
    let (verb, noun) = match crate::num::sign(r.outcome) {
        s if s > 0.0 => ("won", "win"),
        s if s < 0.0 => ("lost", "loss"),
        _ => ("was flat", "flat"),
    };
    format!(
        "{} {} {} ({}) {} {:+.3}% over {} bars: {}",
        agent,
        if r.direction >= 0.0 { "long" } else { "short" },
        r.symbol_name,
        r.rationale,
        verb,
        r.outcome * 100.0,
        r.horizon,
        noun
    )
}

/// Writes `agent`'s outcome memories and reinforces the memories its votes used.
pub(super) fn record(store: &MemoryStore, agent: &str, outcomes: &[Resolution]) -> Result<(), MemoryError> {
    for r in outcomes {
        let item = NewItem::new(r.ts, agent, &r.symbol_name, Kind::Outcome, outcome_text(agent, r))
            .with_vector(r.state.clone())
            .with_importance((50.0 + 30.0 * r.reward.abs()).min(100.0))
            .with_outcome(r.outcome);
        store.insert(item)?;
        if !r.memory_ids.is_empty() {
            store.reinforce(agent, &r.memory_ids, r.reward);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::features::FeatureBank;
    use crate::market::Bar;
    use crate::market::time::NS_PER_MIN;

    /// One step's bars for symbols 0 and 1, closes given.
    fn step(k: i64, closes: [f64; 2], banks: &mut [FeatureBank; 2]) -> Vec<StepBar> {
        (0..2u32)
            .map(|s| {
                let c = closes[s as usize];
                let bar = Bar { ts: k * NS_PER_MIN, symbol: s, open: c, high: c, low: c, close: c, volume: 1e6 };
                StepBar {
                    symbol: s,
                    symbol_name: Arc::from(["X", "Y"][s as usize]),
                    features: banks[s as usize].update(&bar),
                    extra_names: Arc::from(Vec::new()),
                    extra_values: Vec::new(),
                    news: Vec::new(),
                }
            })
            .collect()
    }

    fn vote(agent: usize, symbol: u32, direction: f64) -> Vote {
        Vote {
            ts: 0,
            symbol,
            agent,
            direction,
            confidence: 1.0,
            rationale: "r".into(),
            memory_ids: vec![7],
            memory: Default::default(),
        }
    }

    /// A vote is judged after exactly its analyst's horizon in bars of its symbol, as
    /// sign(direction) × log return; small votes are not judged; one vote per (analyst,
    /// symbol) is held at a time.
    #[test]
    fn test_learning_judges_after_the_horizon_one_vote_at_a_time() {
        let mut banks = [FeatureBank::new(), FeatureBank::new()];
        let mut l = Learning::new(vec![2, 3], 0.1, 2);
        let b0 = step(0, [100.0, 50.0], &mut banks);
        l.open(&[vote(0, 0, 0.5), vote(1, 0, -0.8), vote(1, 1, 0.05)], &b0, 0, &[0.5, 0.5]).unwrap();
        let b1 = step(1, [101.0, 51.0], &mut banks);
        assert!(l.due(&b1, NS_PER_MIN).iter().all(|v| v.is_empty()));
        // A second vote of analyst 0 on symbol 0 while one is held: ignored.
        l.open(&[vote(0, 0, -1.0)], &b1, NS_PER_MIN, &[0.5, 0.5]).unwrap();
        let b2 = step(2, [110.0, 52.0], &mut banks);
        let due = l.due(&b2, 2 * NS_PER_MIN);
        assert_eq!(due[0].len(), 1, "analyst 0: horizon 2");
        assert!(due[1].is_empty(), "analyst 1: horizon 3");
        let r = &due[0][0];
        assert_eq!((r.vote_ts, r.ts, r.direction, r.horizon), (0, 2 * NS_PER_MIN, 0.5, 2));
        assert!((r.outcome - (110.0f64 / 100.0).ln()).abs() < 1e-15 && r.outcome == r.market_return);
        assert_eq!(r.memory_ids, vec![7]);
        let b3 = step(3, [90.0, 53.0], &mut banks);
        let due = l.due(&b3, 3 * NS_PER_MIN);
        assert!(due[0].is_empty(), "the ignored vote was never held");
        assert_eq!(due[1].len(), 1, "the 0.05 vote on Y was below min_vote");
        assert!((due[1][0].outcome - -(90.0f64 / 100.0).ln()).abs() < 1e-15, "short wins when price falls");
        assert!(due[1][0].reward > 0.0 && due[1][0].reward <= 1.0);
    }

    #[test]
    fn test_learning_vote_off_step_is_an_error() {
        let mut banks = [FeatureBank::new(), FeatureBank::new()];
        let mut l = Learning::new(vec![2], 0.1, 3);
        let b = step(0, [100.0, 50.0], &mut banks);
        assert_eq!(l.open(&[vote(0, 2, 0.5)], &b, 0, &[0.5]), Err((0, 2)));
    }

    #[test]
    fn test_outcome_text_names_setup_and_result() {
        let r = Resolution {
            symbol: 0,
            symbol_name: "SPY".into(),
            vote_ts: 0,
            ts: 1,
            direction: -0.4,
            market_return: -0.002,
            outcome: 0.002,
            reward: 0.5,
            rationale: "upthrust failed".into(),
            horizon: 15,
            state: vec![],
            memory_ids: vec![],
            win_rate: 0.5,
            confidence: 0.5,
            memory: MemoryUse::default(),
        };
        assert_eq!(outcome_text("wyckoff", &r), "wyckoff short SPY (upthrust failed) won +0.200% over 15 bars: win");
    }

    /// A short vote on a symbol whose price did not move: outcome +0.0 (not -0.0, which the
    /// aggregates and evidence would read as a loss), written as flat.
    #[test]
    fn test_zero_return_is_a_flat_outcome_for_long_and_short() {
        let mut banks = [FeatureBank::new(), FeatureBank::new()];
        let mut l = Learning::new(vec![1], 0.1, 2);
        let b0 = step(0, [100.0, 50.0], &mut banks);
        l.open(&[vote(0, 0, -0.5), vote(0, 1, 0.5)], &b0, 0, &[0.5]).unwrap();
        let due = l.due(&step(1, [100.0, 50.0], &mut banks), NS_PER_MIN);
        assert_eq!(due[0].len(), 2);
        for r in &due[0] {
            assert!(r.outcome == 0.0 && r.outcome.is_sign_positive(), "{}", r.outcome);
            assert_eq!(r.reward, 0.0);
            let text = outcome_text("wyckoff", r);
            assert!(text.contains("was flat") && text.ends_with(": flat"), "{text}");
        }
    }

    #[test]
    fn test_calibration_correlation_hand_computed() {
        // Win rates 0.4, 0.5, 0.6, 0.7 with results 0, 0, 1, 1 (and one flat, counted apart):
        // p̄ = 0.55, ȳ = 0.5, cov = 0.1625 − 0.275 = ... computed below by hand.
        let mut c = Calibration::new(vec![15]);
        // Confidences 0.1, 0.3, 0.9, 0.9 (the flat vote's 0.5 is not judged).
        for (p, o, conf) in [(0.4, -0.01, 0.1), (0.5, -0.02, 0.3), (0.6, 0.01, 0.9), (0.7, 0.03, 0.9), (0.9, 0.0, 0.5)]
        {
            c.add(0, p, o, conf);
        }
        let r = &c.report(&["a".into()])[0];
        assert_eq!((r.resolved, r.wins, r.losses, r.flat), (5, 2, 2, 1));
        let (ps, ys) = ([0.4, 0.5, 0.6, 0.7], [0.0, 0.0, 1.0, 1.0]);
        let (mp, my) = (0.55, 0.5);
        let cov: f64 = ps.iter().zip(&ys).map(|(p, y)| (p - mp) * (y - my)).sum::<f64>() / 4.0;
        let vp: f64 = ps.iter().map(|p| (p - mp).powi(2)).sum::<f64>() / 4.0;
        let vy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum::<f64>() / 4.0;
        let want = cov / (vp * vy).sqrt();
        assert!((r.win_rate_outcome_corr.unwrap() - want).abs() < 1e-9, "{r:?} vs {want}");
        assert!((want - 0.894427191).abs() < 1e-6);
        assert_eq!(r.hit_rate, Some(0.5));
        assert_eq!(Calibration::new(vec![1]).report(&["b".into()])[0].win_rate_outcome_corr, None);
        // Brier: ((0.1−0)² + (0.3−0)² + (0.9−1)² + (0.9−1)²) / 4 = 0.12 / 4 = 0.03.
        assert!((r.brier.unwrap() - 0.03).abs() < 1e-12, "{:?}", r.brier);
        assert_eq!(r.horizon, 15);
        let b: Vec<(usize, Option<f64>)> = r.reliability.iter().map(|b| (b.votes, b.hit_rate)).collect();
        assert_eq!(b, vec![(1, Some(0.0)), (1, Some(0.0)), (0, None), (0, None), (2, Some(1.0))]);
    }

    /// The evidence stance of a vote and the memory kinds and layers of wins and losses,
    /// hand-counted: winning evidence (similar votes won, long or short) agrees, losing
    /// evidence disagrees, no outcome memories is none; flat outcomes are left out.
    #[test]
    fn test_memory_evidence_stances_and_kinds_hand_counted() {
        use crate::agents::Recalled;
        use crate::memory::Layer;
        let rec = |kind: Kind, outcome: Option<f64>, layer: Layer| Recalled {
            id: 1,
            score: 1.0,
            kind,
            agent: "a".into(),
            outcome,
            text: Arc::from("x"),
            layer,
        };
        let winning =
            MemoryUse::of(&[rec(Kind::Outcome, Some(0.01), Layer::Mid), rec(Kind::Pattern, None, Layer::Short)]);
        let losing = MemoryUse::of(&[rec(Kind::Outcome, Some(-0.01), Layer::Short)]);
        let none = MemoryUse::of(&[rec(Kind::Pattern, None, Layer::Long)]);
        assert_eq!((winning.evidence, winning.outcomes, winning.kinds[4], winning.kinds[2]), (1.0, 1, 1, 1));
        assert_eq!(winning.stance(), Stance::Agree, "backs a short vote as much as a long one");
        assert_eq!(losing.stance(), Stance::Disagree);
        assert_eq!(none.stance(), Stance::None);
        assert_eq!(MemoryUse::default().stance(), Stance::None);
        let mut c = Calibration::new(vec![5]);
        c.add_memory(0, 0.02, &winning); // agree, win
        c.add_memory(0, -0.01, &winning); // agree, loss
        c.add_memory(0, 0.01, &losing); // disagree, win
        c.add_memory(0, 0.0, &losing); // flat: left out
        c.add_memory(0, -0.01, &MemoryUse::default()); // none, loss
        let r = &c.report(&["a".into()])[0];
        let lines: Vec<(&str, usize, Option<f64>)> =
            r.evidence.iter().map(|s| (s.stance.as_str(), s.judged, s.hit_rate)).collect();
        assert_eq!(lines, vec![("agree", 2, Some(0.5)), ("disagree", 1, Some(1.0)), ("none", 1, Some(0.0))]);
        let w = &r.memory_of_wins;
        assert_eq!((w.votes, w.recalled_any, w.kinds["outcome"], w.kinds["pattern"]), (2, 2, 2, 1));
        assert_eq!((w.layers["mid"], w.layers["short"], w.layers["long"]), (1, 2, 0));
        let l = &r.memory_of_losses;
        assert_eq!((l.votes, l.recalled_any, l.kinds["outcome"]), (2, 1, 1));
    }
}
