//! The router's error.

use broker::{BrokerError, Classified};
use ingest::IngestError;

/// What can stop the router, or end one of its links.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A step of the AMQP link (connect, check the shards, declare,
    /// consume, publish, a confirm: nacked or returned unroutable
    /// included), classified by the broker's answer or the socket's.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A broker URL that cannot be used (permanent).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The link failed without an error of lapin's: no answer in time, the
    /// consumer cancelled by the broker, confirms still out at the end of
    /// the drain.
    #[error("amqp: {message}")]
    Amqp {
        /// What was refused and why.
        message: String,
        /// Whether trying again can succeed.
        class: Classified,
    },
    /// The SIGTERM/SIGINT handlers could not be installed.
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
    /// A broken invariant of the router's own bookkeeping: a bug.
    #[error("internal error (a bug): {0}")]
    Internal(String),
}

impl RouterError {
    /// Whether trying again can succeed: as the broker or the socket said
    /// for an AMQP step; a signal handler or a bug fails the same way again.
    pub fn class(&self) -> Classified {
        match self {
            RouterError::Ingest(e) => e.class(),
            RouterError::Broker(e) => e.class(),
            RouterError::Amqp { class, .. } => *class,
            RouterError::Signals(_) | RouterError::Internal(_) => Classified::Permanent,
        }
    }
}

/// Result with [`RouterError`] as the default error.
pub type Result<T, E = RouterError> = std::result::Result<T, E>;
