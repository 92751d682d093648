//! How recalled memories change a vote.
//!
//! Among the recalled memories, the outcomes of earlier votes in similar situations (kind
//! `outcome`, matched by text and by market-state vector) are the evidence:
//!
//! ```text
//! e        = Σ sᵢ·sign(outcomeᵢ) / Σ sᵢ                in [-1, 1]   (sᵢ: recall score;
//!                                                     sign(0) = 0: a flat outcome is
//!                                                     neither a win nor a loss)
//! strength = n / (n + 2),  n = number of outcome memories            (shrinks thin evidence)
//! m        = e · strength
//! factor   = 1 + m                                      in [0, 2]
//! direction' = clamp(direction · factor, -1, 1); confidence' = clamp(confidence · factor, 0, 1)
//! ```
//!
//! So a setup whose past votes all lost (e = -1, n = 6: m = -0.75) keeps a quarter of its
//! size; one that kept winning gets up to ×1.75. Other recalled memories (patterns, news,
//! regimes) do not move the vote here; an analyst can use them in its own `decide`. The
//! vote lists every recalled id, so the learning loop reinforces what shaped it.

use super::{Decision, Proposal, Recalled};
use crate::memory::{ItemId, Kind};

/// Evidence from recalled outcomes: (e, n).
pub fn outcome_evidence(recalled: &[Recalled]) -> (f64, usize) {
    let (mut num, mut den, mut n) = (0.0, 0.0, 0usize);
    for r in recalled {
        if r.kind != Kind::Outcome {
            continue;
        }
        if let Some(o) = r.outcome {
            let w = r.score.max(0.0);
            num += w * crate::num::sign(o);
            den += w;
            n += 1;
        }
    }
    if den > 0.0 { (num / den, n) } else { (0.0, 0) }
}

/// The default decision: the proposal scaled by outcome evidence.
pub fn apply(p: &Proposal, recalled: &[Recalled]) -> Decision {
    let (e, n) = outcome_evidence(recalled);
    let m = e * n as f64 / (n as f64 + 2.0);
    let factor = 1.0 + m;
    let ids: Vec<ItemId> = recalled.iter().map(|r| r.id).collect();
    let mut rationale = p.rationale.clone();
    if n > 0 {
        rationale.push_str(&format!("; memory: {n} similar outcomes, evidence {e:+.2}"));
    }
    Decision {
        direction: (p.direction * factor).clamp(-1.0, 1.0),
        confidence: (p.confidence * factor).clamp(0.0, 1.0),
        rationale,
        memory_ids: ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rec(id: u64, outcome: f64) -> Recalled {
        Recalled {
            id,
            score: 1.0,
            kind: Kind::Outcome,
            agent: "wyckoff".into(),
            outcome: Some(outcome),
            text: Arc::from("x"),
            layer: crate::memory::Layer::Short,
        }
    }

    #[test]
    fn test_evidence_scales_votes_hand_computed() {
        let p = Proposal { direction: 0.8, confidence: 0.6, rationale: "spring".into(), writes: vec![], recall: None };
        let losses: Vec<Recalled> = (0..6).map(|i| rec(i, -0.01)).collect();
        let d = apply(&p, &losses);
        assert!((d.direction - 0.8 * 0.25).abs() < 1e-12 && (d.confidence - 0.6 * 0.25).abs() < 1e-12);
        assert!(d.rationale.contains("6 similar outcomes"));
        assert_eq!(d.memory_ids.len(), 6);
        let wins: Vec<Recalled> = (0..2).map(|i| rec(i, 0.02)).collect();
        let d = apply(&p, &wins);
        assert!((d.direction - 1.0).abs() < 1e-12 && (d.confidence - 0.9).abs() < 1e-12);
        assert_eq!(apply(&p, &[]).direction, 0.8);
    }

    #[test]
    fn test_flat_outcomes_are_neither_wins_nor_losses() {
        // Two flat outcomes (one written as -0.0 by a short vote) and one win: e = 1/3.
        let r = [rec(0, 0.0), rec(1, -0.0), rec(2, 0.01)];
        let (e, n) = outcome_evidence(&r);
        assert_eq!(n, 3);
        assert!((e - 1.0 / 3.0).abs() < 1e-12, "{e}");
    }
}
