//! Why the broker refused a `basic.consume`: because another consumer holds
//! the queue (the *lease* of an active-standby pair, which the holder gives
//! up by closing its channel or losing its connection), or for a reason
//! that does not go away by itself.
//!
//! Both come back as reply 403 `ACCESS_REFUSED` on the consume, so the code
//! alone cannot tell them apart; RabbitMQ's reply text can:
//!
//! | reply text (RabbitMQ 3.x) | means | [`ConsumeRefusal`] |
//! |---|---|---|
//! | `ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use` | an exclusive consumer holds `q`, or an exclusive consume met consumers already there | `LeaseHeld` |
//! | `ACCESS_REFUSED - access to queue 'q' in vhost '/' refused for user 'u'` | `u` may not read `q` | `Other` |
//! | `ACCESS_REFUSED - Login was refused …` (at connect, never on a consume) | wrong credentials | `Other` |
//! | `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q.lease' …` (405, on the lease queue's declare) | another connection holds the lease queue | `LeaseHeld` |
//! | any other code (404 no queue, …) | not the lease | `Other` |
//!
//! The lease queue: RabbitMQ 3.10's quorum queues accept a second
//! exclusive consumer (measured on the test cluster: exclusivity of a
//! consumer is a classic queue's feature), so the lease is also an
//! exclusive, auto-deleted classic queue `<input queue>.lease` that the
//! holder declares on its connection before it consumes: queue names are
//! unique across a cluster, the broker refuses it to every other connection
//! (405), and deletes it when the holder's connection goes, on any node.
//!
//! The caller gives this function only the failure of its `basic.consume`
//! (the method that failed is part of the evidence); a 403 at login or on a
//! declare never reaches it.

use crate::{Failure, reply};

/// What a refused `basic.consume` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeRefusal {
    /// Another consumer holds the queue exclusively (or an exclusive consume
    /// met other consumers): it may be free later, once that consumer goes.
    LeaseHeld,
    /// Anything else: classify it as usual ([`crate::classify`]).
    Other,
}

/// The words of RabbitMQ's refusal of a consume on a queue in exclusive use
/// (`rabbit_channel`: `"~ts in exclusive use"`).
const IN_EXCLUSIVE_USE: &str = "in exclusive use";
/// The words of its refusal of an exclusive queue another connection owns
/// (`rabbit_amqqueue`: `"cannot obtain exclusive access to locked ~ts"`).
const LOCKED: &str = "cannot obtain exclusive access to locked";

/// What the failure of a `basic.consume`, with the broker's reply text,
/// means (the table in the module's doc).
pub fn consume_refusal(failure: Failure, reply_text: &str) -> ConsumeRefusal {
    match failure {
        Failure::Reply(reply::ACCESS_REFUSED) if reply_text.contains(IN_EXCLUSIVE_USE) => {
            ConsumeRefusal::LeaseHeld
        }
        Failure::Reply(reply::RESOURCE_LOCKED) if reply_text.contains(LOCKED) => {
            ConsumeRefusal::LeaseHeld
        }
        _ => ConsumeRefusal::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_in_exclusive_use_is_the_lease() {
        let text = "ACCESS_REFUSED - queue 'q-1' in vhost '/' in exclusive use";
        assert_eq!(
            consume_refusal(Failure::Reply(reply::ACCESS_REFUSED), text),
            ConsumeRefusal::LeaseHeld
        );
    }

    #[test]
    fn a_lease_queue_locked_by_another_connection_is_the_lease() {
        let text = "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue \
                    'q-1.lease' in vhost '/'. It could be originally declared on another \
                    connection or the exclusive property value does not match that of the \
                    original declaration.";
        assert_eq!(
            consume_refusal(Failure::Reply(reply::RESOURCE_LOCKED), text),
            ConsumeRefusal::LeaseHeld
        );
        assert_eq!(
            consume_refusal(Failure::Reply(reply::ACCESS_REFUSED), text),
            ConsumeRefusal::Other
        );
    }

    #[test]
    fn a_permission_refusal_is_not_the_lease() {
        for text in [
            "ACCESS_REFUSED - access to queue 'q-1' in vhost '/' refused for user 'u'",
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.",
            "",
        ] {
            assert_eq!(
                consume_refusal(Failure::Reply(reply::ACCESS_REFUSED), text),
                ConsumeRefusal::Other,
                "{text}"
            );
        }
    }

    #[test]
    fn the_words_alone_are_not_enough() {
        // The same words under another code (or no reply at all) are not the
        // broker's refusal of an exclusive consume.
        let text = "queue 'q' in vhost '/' in exclusive use";
        for f in [
            Failure::Reply(reply::RESOURCE_LOCKED),
            Failure::Reply(reply::NOT_FOUND),
            Failure::Lost,
            Failure::Timeout,
        ] {
            assert_eq!(consume_refusal(f, text), ConsumeRefusal::Other, "{f:?}");
        }
    }
}
