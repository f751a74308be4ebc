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
}

impl BrokerError {
    /// Whether trying again can succeed (a URL never fixes itself).
    pub fn class(&self) -> Classified {
        match self {
            BrokerError::Url { .. } => classify(Failure::Url),
        }
    }
}

/// Result with [`BrokerError`] as the default error.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;
