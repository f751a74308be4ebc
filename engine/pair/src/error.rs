//! The pair's errors.

/// What can go wrong between the two nodes.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// The connection failed or closed: transient, the standby reconnects.
    #[error("replication link: {0}")]
    Io(#[source] std::io::Error),
    /// The peer does not speak this protocol (or bytes were damaged): the
    /// connection is dropped; permanent for this peer until it changes.
    #[error("replication protocol: {0}")]
    Protocol(String),
    /// The peer refused the connection, saying why (a diverged journal,
    /// another version, two actives).
    #[error("the peer refused: {0}")]
    Refused(String),
    /// The node's epoch file could not be read or written.
    #[error("epoch file {}: {reason}", path.display())]
    Epoch {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl PairError {
    /// Whether trying again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PairError::Io(_))
    }
}

/// Result with [`PairError`] as the default error.
pub type Result<T, E = PairError> = std::result::Result<T, E>;
