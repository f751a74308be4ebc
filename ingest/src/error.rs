use std::path::PathBuf;

use broker::{BrokerError, Classified};

/// Errors of the ingest stage.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input could not be opened or read.
    #[error("cannot read input {}", path.display())]
    Input {
        /// The input path (`-` for stdin).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The ingest thread could not be started.
    #[error("cannot start the ingest thread: {0}")]
    Spawn(std::io::Error),
    /// The ingest thread panicked; this is a bug.
    #[error("internal error (a bug): the ingest thread panicked")]
    Panicked,
    /// A ring record failed to decode; this is a bug.
    #[error("internal error (a bug): corrupt ring record ({0} bytes, tag {1})")]
    Ring(usize, u8),
    /// The AMQP broker refused or dropped an operation, or could not be
    /// reached.
    #[error("amqp: {message}")]
    Amqp {
        /// What was being done and why it failed, without the password.
        message: String,
        /// Whether trying again can succeed.
        class: Classified,
    },
    /// An exclusive consume of `queue` was refused because another consumer
    /// holds it: the lease of an active-standby pair is taken. Transient
    /// (it is free once that consumer's channel or connection goes), and
    /// returned by [`crate::amqp::start_amqp`] at once, without retrying,
    /// so a standby can ask again soon.
    #[error(
        "amqp: the lease on queue {queue} is held by another consumer (its lease queue {queue}.lease or its exclusive consume refused)"
    )]
    LeaseHeld {
        /// The queue whose exclusive consumer exists already.
        queue: String,
    },
    /// Options that contradict each other (permanent: the caller must
    /// change them), e.g. several events per message for the shards.
    #[error("{0}")]
    Options(String),
    /// The broker URL cannot be used (permanent).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// Building a columnar batch failed.
    #[error(transparent)]
    Columnar(#[from] columnar::ColumnarError),
}

impl IngestError {
    /// Whether trying again can succeed, so that a caller retries only
    /// what can: a broker error as the broker's reply or the socket says;
    /// a missing input, a bug or a bad batch fail the same way again; a
    /// thread that could not start may start once resources are freed; a
    /// lease held by another consumer is free once that consumer goes.
    pub fn class(&self) -> Classified {
        match self {
            IngestError::Amqp { class, .. } => *class,
            IngestError::Broker(e) => e.class(),
            IngestError::Spawn(_) | IngestError::LeaseHeld { .. } => Classified::Transient,
            IngestError::Input { .. }
            | IngestError::Options(_)
            | IngestError::Panicked
            | IngestError::Ring(..)
            | IngestError::Columnar(_) => Classified::Permanent,
        }
    }
}

impl IngestError {
    /// The same error with `hint` appended to an AMQP error's message (an
    /// empty hint, or another kind of error, is left as it is).
    pub(crate) fn context(self, hint: &str) -> IngestError {
        match self {
            IngestError::Amqp { message, class } if !hint.is_empty() => IngestError::Amqp {
                message: format!("{message} {}", hint.trim_start()),
                class,
            },
            other => other,
        }
    }
}

/// Result with [`IngestError`] as the default error.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
