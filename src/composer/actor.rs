//! The composer as an actix actor: one `Compose` message per step.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, MessageResponse};

use super::{AgentWeight, Composer};
use crate::agents::Vote;
use crate::market::{SymbolId, Ts};
use crate::memory::Snapshot;

/// The step's votes and memory snapshot; answered with targets and the weights used.
#[derive(Message)]
#[rtype(result = "Composed")]
pub(crate) struct Compose {
    pub ts: Ts,
    pub votes: Arc<Vec<Vote>>,
    pub snapshot: Arc<Snapshot>,
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
        let w: Vec<f64> = weights.iter().map(|x| x.weight).collect();
        Composed { targets: self.0.targets(&msg.votes, &w), weights }
    }
}
