//! The source's side of the lease: what [`super::start_amqp`] does with a
//! failed first attempt, and why a source stopped delivering. Pure
//! decisions, tested without a broker.

use broker::{Next, Stage, next};

use super::OnLost;
use crate::IngestError;

/// Why the AMQP source stopped delivering ([`super::AmqpSourceHandle::ended`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// It was asked to stop ([`super::AmqpSourceHandle::stop`]).
    Stopped,
    /// Its connection or channel was lost with [`OnLost::End`]: with
    /// `exclusive`, the lease went with it (the broker releases an exclusive
    /// consumer with its channel), so another node may hold it now.
    LeaseLost {
        /// What failed, in lapin's or the broker's words.
        reason: String,
    },
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndReason::Stopped => f.write_str("stopped"),
            EndReason::LeaseLost { reason } => write!(f, "lease lost: {reason}"),
        }
    }
}

/// What [`super::start_amqp`] does when its first attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtStart {
    /// Return the error to the caller now.
    Fail,
    /// Start anyway; the source's thread retries with backoff.
    RetryInBackground,
}

/// The decision after the first attempt failed with `e`:
///
/// | failure | `OnLost::Reconnect` | `OnLost::End` |
/// |---|---|---|
/// | the lease is held ([`IngestError::LeaseHeld`]) | fail, at once | fail, at once |
/// | permanent | fail | fail |
/// | transient | retry in the background | fail |
///
/// A held lease fails even though it is transient: the caller (a standby
/// asking every ~100 ms) decides when to ask again, and must not find a
/// thread that obtains the lease behind its back. An `End` source makes one
/// link in its life, so its start is that link's outcome.
pub(crate) fn at_start(e: &IngestError, on_lost: OnLost) -> AtStart {
    if matches!(e, IngestError::LeaseHeld { .. }) || on_lost == OnLost::End {
        return AtStart::Fail;
    }
    match next(e.class(), Stage::Starting) {
        Next::Fail => AtStart::Fail,
        Next::RetryStart | Next::Reconnect => AtStart::RetryInBackground,
    }
}

#[cfg(test)]
mod tests {
    use broker::Classified;

    use super::*;

    fn amqp(class: Classified) -> IngestError {
        IngestError::Amqp {
            message: "x".into(),
            class,
        }
    }

    #[test]
    fn a_held_lease_always_fails_the_start() {
        for on_lost in [OnLost::Reconnect, OnLost::End] {
            let e = IngestError::LeaseHeld { queue: "q".into() };
            assert_eq!(e.class(), Classified::Transient);
            assert_eq!(at_start(&e, on_lost), AtStart::Fail, "{on_lost:?}");
        }
    }

    #[test]
    fn a_reconnecting_source_retries_what_is_transient_as_before() {
        assert_eq!(
            at_start(&amqp(Classified::Transient), OnLost::Reconnect),
            AtStart::RetryInBackground
        );
        assert_eq!(
            at_start(&amqp(Classified::Permanent), OnLost::Reconnect),
            AtStart::Fail
        );
    }

    #[test]
    fn an_ending_source_returns_every_failure() {
        for class in [Classified::Transient, Classified::Permanent] {
            assert_eq!(at_start(&amqp(class), OnLost::End), AtStart::Fail);
        }
    }

    #[test]
    fn the_reason_reads_as_a_sentence() {
        let lost = EndReason::LeaseLost {
            reason: "consume: connection closed".into(),
        };
        assert_eq!(lost.to_string(), "lease lost: consume: connection closed");
        assert_eq!(EndReason::Stopped.to_string(), "stopped");
    }
}
