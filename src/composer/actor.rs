//! The composer as an actix actor: one `Compose` message per step.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, MessageResponse};

use super::{AgentWeight, Book, Composer};
use crate::agents::Vote;
use crate::market::{SymbolId, Ts};
use crate::memory::Snapshot;
use crate::portfolio::CostConfig;

/// The step's votes and memory snapshot; answered with targets and the weights used.
#[derive(Message)]
#[rtype(result = "Composed")]
pub(crate) struct Compose {
    pub ts: Ts,
    pub votes: Arc<Vec<Vote>>,
    pub snapshot: Arc<Snapshot>,
    /// The book at the decision, for the cost gate (None: no gate).
    pub book: Option<OwnedBook>,
}

/// A [`Book`] that can travel in a message.
pub(crate) struct OwnedBook {
    pub equity: f64,
    pub positions: Vec<f64>,
    pub prices: Vec<f64>,
    pub as_traded: Vec<f64>,
    pub costs: CostConfig,
}

/// The composer's answer.
#[derive(Debug, Clone, MessageResponse)]
pub(crate) struct Composed {
    /// (symbol, target weight of equity) for symbols whose target changed.
    pub targets: Vec<(SymbolId, f64)>,
    pub weights: Vec<AgentWeight>,
}

/// The actor around a [`Composer`].
pub(crate) struct ComposerActor(pub Composer);

impl Actor for ComposerActor {
    type Context = Context<Self>;
}

impl Handler<Compose> for ComposerActor {
    type Result = Composed;

    fn handle(&mut self, msg: Compose, _ctx: &mut Context<Self>) -> Composed {
        let weights = self.0.weights(&msg.snapshot, msg.ts);
        let w = self.0.trading_weights(&weights);
        let m: Vec<f64> = weights.iter().map(|x| x.mean_outcome).collect();
        let book = msg.book.as_ref().map(|b| Book {
            equity: b.equity,
            positions: &b.positions,
            prices: &b.prices,
            as_traded: &b.as_traded,
            costs: &b.costs,
        });
        Composed { targets: self.0.targets(&msg.votes, &w, &m, book.as_ref()), weights }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composer::ComposerConfig;
    use crate::memory::{Kind, MemoryParams, MemoryStore, NewItem};

    const T0: Ts = 1_381_152_600_000_000_000;

    fn vote(agent: usize, symbol: SymbolId, direction: f64) -> Vote {
        Vote::new(T0, symbol, agent, direction, 1.0)
    }

    /// The actor answers exactly what the plain composer computes, and keeps its no-trade
    /// band state from one step to the next.
    #[test]
    fn test_composer_actor_answers_as_the_plain_composer() {
        let store = MemoryStore::new(MemoryParams::default()).unwrap();
        for k in 0..6 {
            let win = NewItem::new(T0, "a", "X", Kind::Outcome, format!("a won {k}")).with_outcome(0.01);
            let loss = NewItem::new(T0, "b", "X", Kind::Outcome, format!("b lost {k}")).with_outcome(-0.01);
            store.insert(win).unwrap();
            store.insert(loss).unwrap();
        }
        store.publish(T0).unwrap();
        let snapshot = store.snapshot();
        let agents = vec!["a".to_string(), "b".to_string()];
        let cfg = ComposerConfig::default();
        let votes = Arc::new(vec![vote(0, 0, 0.8), vote(1, 0, -0.6), vote(0, 1, 0.3), vote(1, 1, 0.3)]);
        let mut plain = Composer::new(cfg, agents.clone(), 2);
        let weights = plain.weights(&snapshot, T0);
        let w = plain.trading_weights(&weights);
        let m: Vec<f64> = weights.iter().map(|x| x.mean_outcome).collect();
        let targets = plain.targets(&votes, &w, &m, None);
        assert!(!targets.is_empty() && weights[0].weight > weights[1].weight, "{weights:?} {targets:?}");

        let sys = actix::System::new();
        let (first, second) = sys.block_on(async {
            let addr = ComposerActor(Composer::new(cfg, agents, 2)).start();
            let msg = || Compose { ts: T0, votes: votes.clone(), snapshot: snapshot.clone(), book: None };
            (addr.send(msg()).await.unwrap(), addr.send(msg()).await.unwrap())
        });
        assert_eq!(first.weights, weights);
        assert_eq!(first.targets, targets);
        assert_eq!(second.weights, weights);
        assert!(second.targets.is_empty(), "the same signals again sit inside the band");
    }
}
