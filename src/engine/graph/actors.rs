//! The actor system's lifecycle: one actix `System` on its own thread, one arbiter (thread)
//! per analyst, the composer on the system's arbiter. Started once per run, stopped when
//! the graph is dropped.
//!
//! Why an arbiter per analyst: analysts recall from the memory (the costly part of a step)
//! independently, so they run in parallel; the engine sends one message per analyst per
//! step and waits for all answers (every cross-thread message is a wake-up system call,
//! measured ~5 µs on the development VM).

use std::sync::Arc;
use std::sync::mpsc;

use actix::{Actor, Addr, Arbiter, System};

use super::GraphError;
use crate::agents::Analyst;
use crate::agents::actor::AnalystActor;
use crate::composer::Composer;
use crate::composer::actor::ComposerActor;
use crate::error::panic_message;
use crate::memory::MemoryStore;

/// The running actor system: analyst actors on their arbiters, the composer.
pub(super) struct Actors {
    pub(super) analysts: Vec<Addr<AnalystActor>>,
    pub(super) composer: Addr<ComposerActor>,
    arbiters: Vec<Arbiter>,
    system: System,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Actors {
    /// Starts the system with one actor per analyst (roster order) and the composer.
    pub(super) fn start(
        analysts: Vec<Box<dyn Analyst>>,
        composer: Composer,
        store: Arc<MemoryStore>,
    ) -> Result<Actors, GraphError> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("quorum-actors".into())
            .spawn(move || {
                let sys = System::new();
                sys.block_on(async move {
                    let mut arbiters = Vec::new();
                    let mut addrs = Vec::new();
                    for (index, analyst) in analysts.into_iter().enumerate() {
                        let arb = Arbiter::new();
                        let store = store.clone();
                        addrs.push(AnalystActor::start_in_arbiter(&arb.handle(), move |_| AnalystActor {
                            analyst,
                            index,
                            store,
                        }));
                        arbiters.push(arb);
                    }
                    let composer = ComposerActor(composer).start();
                    // The receiver waits for this message: it cannot be gone.
                    let _ = tx.send((addrs, composer, arbiters, System::current()));
                });
                // Returns when `Drop` stops the system. An error here means the runtime
                // itself failed; the engine then meets it as a typed `Mailbox` error at
                // the next message, naming the actor.
                if let Err(e) = sys.run() {
                    tracing::error!(error = %e, "the analyst actor system stopped with an error");
                }
            })
            .map_err(GraphError::Spawn)?;
        let Ok((analysts, composer, arbiters, system)) = rx.recv() else {
            let message = match thread.join() {
                Err(payload) => panic_message(payload),
                Ok(()) => "it ended without starting the actors".into(),
            };
            return Err(GraphError::Stopped { message });
        };
        Ok(Actors { analysts, composer, arbiters, system, thread: Some(thread) })
    }
}

impl Drop for Actors {
    fn drop(&mut self) {
        for a in &self.arbiters {
            a.stop();
        }
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
