//! The broker crate's error.

use crate::{Classified, Failure, classify};

/// What this crate can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// A broker URL that cannot be used; `shown` is it without its password.
    #[error("invalid broker URL {shown}: {reason}")]
    Url {
        /// The URL as it may be printed ([`crate::redact`]).
        shown: String,
        /// Why, never quoting the URL itself.
        reason: String,
    },
    /// A TLS file that cannot be used: missing, unreadable, not what its
    /// key says, or a key that is not its certificate's.
    #[error("{key} {}: {reason}", path.display())]
    Tls {
        /// The config key (`tls.ca_file`, `tls.cert_file`, `tls.key_file`).
        key: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why, never quoting a key's bytes.
        reason: String,
    },
}

impl BrokerError {
    /// Whether trying again can succeed (a URL or a file never fixes
    /// itself).
    pub fn class(&self) -> Classified {
        match self {
            BrokerError::Url { .. } => classify(Failure::Url),
            // Read once at start; only an operator changes a file.
            BrokerError::Tls { .. } => Classified::Permanent,
        }
    }
}

/// Result with [`BrokerError`] as the default error.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;
