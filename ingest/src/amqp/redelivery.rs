//! Telling a redelivered message the engine already holds from one it never
//! saw. The broker redelivers every message it has not seen acknowledged:
//! after a lost connection, the ones this process forwarded but whose
//! acknowledgement died with the channel; after a crash, the ones the restored
//! state holds but the dead process had not acknowledged yet. Processing them
//! again would be absorbed by the jobs (no alert twice), but would count them
//! twice and dead-letter their bad lines twice. A redelivered message whose
//! body's digest is one of those is skipped — its end is still marked, so it
//! is acknowledged in turn — and counted as such.
//!
//! Only messages the broker flags as redelivered are ever skipped, so a
//! publisher sending the same body twice is processed twice, as it should be.

use std::collections::{HashMap, VecDeque};

/// What to do with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Parse its lines.
    Process,
    /// The state holds it already: mark its end only.
    Skip,
}

/// The messages that may come back already processed.
#[derive(Debug, Default)]
pub(crate) struct Redelivery {
    /// Digests (with multiplicity) the restored state holds, or this process
    /// forwarded on a channel that is gone.
    known: HashMap<u64, u32>,
    /// What this process forwarded and has not seen acknowledged: (channel
    /// generation, delivery tag, digest), oldest first.
    forwarded: VecDeque<(u64, u64, u64)>,
    /// Bound of `forwarded` (the broker's prefetch window, with room).
    cap: usize,
}

impl Redelivery {
    /// A tracker that starts knowing `processed` (the restored state's last
    /// messages) and keeps at most `cap` forwarded ones.
    pub(crate) fn new(processed: &[u64], cap: usize) -> Self {
        let mut me = Redelivery {
            cap: cap.max(1),
            ..Redelivery::default()
        };
        for &d in processed {
            *me.known.entry(d).or_default() += 1;
        }
        me
    }

    /// The decision for a delivery on channel `generation`.
    pub(crate) fn on_delivery(
        &mut self,
        generation: u64,
        tag: u64,
        digest: u64,
        redelivered: bool,
    ) -> Delivery {
        if redelivered && let Some(n) = self.known.get_mut(&digest) {
            *n -= 1;
            if *n == 0 {
                self.known.remove(&digest);
            }
            // Skipped, it is still this channel's to acknowledge.
            self.remember(generation, tag, digest);
            return Delivery::Skip;
        }
        self.remember(generation, tag, digest);
        Delivery::Process
    }

    fn remember(&mut self, generation: u64, tag: u64, digest: u64) {
        if self.forwarded.len() == self.cap {
            self.forwarded.pop_front();
        }
        self.forwarded.push_back((generation, tag, digest));
    }

    /// Everything through `tag` on channel `generation` was acknowledged.
    pub(crate) fn on_ack(&mut self, generation: u64, tag: u64) {
        while let Some(&(g, t, _)) = self.forwarded.front() {
            if g == generation && t <= tag {
                self.forwarded.pop_front();
            } else {
                break;
            }
        }
    }

    /// Channel `generation` is gone: what it forwarded unacknowledged comes
    /// back redelivered, already processed.
    pub(crate) fn on_channel_lost(&mut self, generation: u64) {
        let (lost, kept): (Vec<_>, Vec<_>) = self
            .forwarded
            .drain(..)
            .partition(|&(g, _, _)| g <= generation);
        self.forwarded = kept.into();
        for (_, _, d) in lost {
            *self.known.entry(d).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_state_holds_is_skipped_once_and_only_when_redelivered() {
        let mut r = Redelivery::new(&[7, 7, 9], 16);
        assert_eq!(
            r.on_delivery(1, 1, 7, false),
            Delivery::Process,
            "a fresh copy"
        );
        assert_eq!(r.on_delivery(1, 2, 7, true), Delivery::Skip);
        assert_eq!(r.on_delivery(1, 3, 7, true), Delivery::Skip, "held twice");
        assert_eq!(
            r.on_delivery(1, 4, 7, true),
            Delivery::Process,
            "a third was not"
        );
        assert_eq!(
            r.on_delivery(1, 5, 8, true),
            Delivery::Process,
            "never seen"
        );
        assert_eq!(r.on_delivery(1, 6, 9, true), Delivery::Skip);
    }

    #[test]
    fn what_a_lost_channel_forwarded_unacknowledged_comes_back_skipped() {
        let mut r = Redelivery::new(&[], 16);
        for (tag, d) in [(1, 10), (2, 20), (3, 30)] {
            assert_eq!(r.on_delivery(1, tag, d, false), Delivery::Process);
        }
        r.on_ack(1, 1); // 10 acknowledged; 20 and 30 were not
        r.on_channel_lost(1);
        assert_eq!(r.on_delivery(2, 1, 20, true), Delivery::Skip);
        assert_eq!(r.on_delivery(2, 2, 30, true), Delivery::Skip);
        assert_eq!(
            r.on_delivery(2, 3, 10, true),
            Delivery::Process,
            "it was acknowledged"
        );
        // An acknowledgement for the old channel does not touch the new one's.
        r.on_ack(1, 99);
        r.on_channel_lost(2);
        assert_eq!(r.on_delivery(3, 1, 10, true), Delivery::Skip);
    }

    #[test]
    fn memory_is_bounded_by_the_window() {
        let mut r = Redelivery::new(&[], 4);
        for tag in 0..100 {
            r.on_delivery(1, tag, tag, false);
        }
        assert_eq!(r.forwarded.len(), 4);
    }
}
