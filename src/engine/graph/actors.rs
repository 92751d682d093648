//! The actor system's lifecycle. Two placements, chosen per run ([`Placement`]):
//!
//! - **Shared**: one actix `System` owned by the driver's thread, the analysts and the
//!   composer on its arbiter. The actors run while the driver waits for their answers
//!   (`SystemRunner::block_on`), so a step's messages never cross a thread: no wake-up
//!   system call, no task switch. Its tokio runtime has timers but no I/O driver: with
//!   one, every wake of the waiting future (each answer) wrote the driver's eventfd and the
//!   next park read it back with `epoll_wait`, two system calls per message although
//!   nothing ever waited on I/O (issue 16: 10% of the spy_1m_2011 graph's samples in
//!   `write` and `epoll_wait`; without the I/O driver the graph ran 12% faster, results
//!   byte-identical).
//! - **Spread**: one `System` on its own thread, one arbiter (thread) per analyst, the
//!   composer on the system's arbiter: analysts recall in parallel, at the price of a
//!   cross-thread wake-up per message (each a futex or eventfd system call and a task
//!   switch, measured ~5 µs on the development VM).
//!
//! Profiling the default `quorum backtest` on spy_1m_2011 (perf record -g, 2 cores) before
//! the shared placement existed: 37% of samples in the kernel's task switching
//! (`finish_task_switch`, spin unlocks from `try_to_wake_up`), against a few percent in
//! the analysts' own recall: a one-symbol step is a few microseconds of work per analyst,
//! which the wake-ups multiplied. Either way each actor handles its messages in order and
//! the driver gathers votes in roster order, so the placement cannot change a result.

use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;

use actix::{Actor, Addr, Arbiter, System};

use super::GraphError;
use crate::agents::Analyst;
use crate::agents::actor::AnalystActor;
use crate::composer::Composer;
use crate::composer::actor::ComposerActor;
use crate::config::ActorPlacement as Placement;
use crate::error::panic_message;
use crate::memory::MemoryStore;

/// The running actor system: analyst actors, the composer, and where they run.
pub(super) struct Actors {
    pub(super) analysts: Vec<Addr<AnalystActor>>,
    pub(super) composer: Addr<ComposerActor>,
    place: Place,
}

enum Place {
    Shared(actix::SystemRunner),
    Spread { arbiters: Vec<Arbiter>, system: System, thread: Option<std::thread::JoinHandle<()>> },
}

impl Actors {
    /// Starts the actors as `placement` says: one per analyst (roster order) and the
    /// composer.
    pub(super) fn start(
        analysts: Vec<Box<dyn Analyst>>,
        composer: Composer,
        store: Arc<MemoryStore>,
        placement: Placement,
    ) -> Result<Actors, GraphError> {
        match placement {
            Placement::Shared => Ok(Self::shared(analysts, composer, store)),
            Placement::Spread => Self::spread(analysts, composer, store),
        }
    }

    fn shared(analysts: Vec<Box<dyn Analyst>>, composer: Composer, store: Arc<MemoryStore>) -> Actors {
        // `System::new()` would enable tokio's I/O driver (see the module doc). Building a
        // runtime without it cannot fail on I/O setup; if it fails anyway, the default.
        let runner = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(rt) => System::with_tokio_rt(move || rt),
            Err(_) => System::new(),
        };
        let (analysts, composer) = runner.block_on(async move {
            let addrs: Vec<Addr<AnalystActor>> = analysts
                .into_iter()
                .enumerate()
                .map(|(index, analyst)| AnalystActor { analyst, index, store: store.clone() }.start())
                .collect();
            (addrs, ComposerActor(composer).start())
        });
        Actors { analysts, composer, place: Place::Shared(runner) }
    }

    fn spread(
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
        Ok(Actors { analysts, composer, place: Place::Spread { arbiters, system, thread: Some(thread) } })
    }

    /// Waits for `f` (the answers of the actors): runs the shared actors meanwhile, or
    /// parks until the spread ones answer.
    pub(super) fn wait<F: Future>(&self, f: F) -> F::Output {
        match &self.place {
            Place::Shared(runner) => runner.block_on(f),
            Place::Spread { .. } => futures::executor::block_on(f),
        }
    }
}

impl Drop for Actors {
    fn drop(&mut self) {
        if let Place::Spread { arbiters, system, thread } = &mut self.place {
            for a in arbiters.iter() {
                a.stop();
            }
            system.stop();
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}
