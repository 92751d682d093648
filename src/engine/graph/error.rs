//! Errors of the analyst graph.

use crate::memory::MemoryError;
use crate::strategy::Universe;

/// Why the analyst graph could not start or go on. Times (`at`) are the step's bar start,
/// RFC 3339.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The actor system's thread could not be spawned.
    #[error("cannot start the analyst actors: {0}")]
    Spawn(#[source] std::io::Error),
    /// The actor system stopped before it was ready (its thread panicked while starting).
    #[error("the analyst actor system stopped while starting: {message}")]
    Stopped {
        /// The panic's message.
        message: String,
    },
    /// The memory failed at a step (publishing, or recording outcomes).
    #[error("memory at {at}")]
    Memory {
        /// The step's bar start, RFC 3339.
        at: String,
        /// The memory error.
        #[source]
        source: MemoryError,
    },
    /// An analyst's memory write or recall failed.
    #[error("analyst `{agent}` at {at}")]
    Analyst {
        /// The analyst's name.
        agent: String,
        /// The step's bar start, RFC 3339.
        at: String,
        /// The memory error.
        #[source]
        source: MemoryError,
    },
    /// An actor did not answer (its thread stopped, e.g. after a panic in the analyst).
    #[error("{actor} did not answer at {at}")]
    Mailbox {
        /// Which actor, e.g. "analyst `wyckoff`" or "the composer".
        actor: String,
        /// The step's bar start, RFC 3339.
        at: String,
        /// The actix mailbox error.
        #[source]
        source: actix::MailboxError,
    },
    /// An analyst voted on a symbol that has no bar in the step (a bug in the analyst).
    #[error("analyst `{agent}` voted on {symbol} at {at}, which has no bar in that step")]
    VoteOffStep {
        /// The analyst's name.
        agent: String,
        /// The symbol it voted on.
        symbol: String,
        /// The step's bar start, RFC 3339.
        at: String,
    },
    /// The run's universe (symbols, asset classes, interval) is not the one the graph was
    /// built for.
    #[error("the graph was built for {built:?}, the run has {given:?}")]
    Universe {
        /// The universe the graph was built for.
        built: Universe,
        /// The universe of the run.
        given: Universe,
    },
}
