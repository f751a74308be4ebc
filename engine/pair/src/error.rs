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
    /// The node's epoch file is of a format version this binary does not
    /// read (a newer release wrote it): never guessed at, since an epoch
    /// read too low could let this node ship under a fenced epoch.
    /// Permanent.
    #[error(
        "epoch file {}: format version {found}, but this aldebaran reads {reads}; run the \
         aldebaran release that wrote it (never delete the file: the epoch must not go down)",
        path.display()
    )]
    UnknownVersion {
        path: std::path::PathBuf,
        found: u64,
        /// The versions read, as printed ("versions 1 and 2").
        reads: String,
    },
}

impl PairError {
    /// Whether trying again later can succeed: only a link's failure; a
    /// protocol, a refusal, an epoch file unread or of an unknown format
    /// version fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(self, PairError::Io(_))
    }
}

/// Result with [`PairError`] as the default error.
pub type Result<T, E = PairError> = std::result::Result<T, E>;
