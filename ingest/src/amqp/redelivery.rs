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
//! An acknowledgement is a frame without a reply: one written just before
//! the connection died may never have reached the broker, which then
//! redelivers a message this process acknowledged. So a lost channel's
//! acknowledged deliveries (the last window of them) are remembered too, as
//! *maybe returned*, until the next channel's first fresh delivery: a queue
//! hands back what it requeued before anything it never delivered, so past
//! that point none of them can still come.
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
    /// forwarded on a channel that is gone without acknowledging them.
    known: HashMap<u64, u32>,
    /// Digests a lost channel forwarded and acknowledged: they come back only
    /// if the acknowledgement was lost with it.
    maybe: HashMap<u64, u32>,
    /// What this process forwarded on the current channel, oldest first:
    /// (channel generation, delivery tag, digest). The first `acked` of them
    /// are acknowledged.
    forwarded: VecDeque<(u64, u64, u64)>,
    acked: usize,
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
        let what = if !redelivered {
            // Everything requeued has come back by now.
            self.maybe.clear();
            Delivery::Process
        } else if take(&mut self.known, digest) || take(&mut self.maybe, digest) {
            // Skipped, it is still this channel's to acknowledge.
            Delivery::Skip
        } else {
            Delivery::Process
        };
        self.remember(generation, tag, digest);
        what
    }

    fn remember(&mut self, generation: u64, tag: u64, digest: u64) {
        if self.forwarded.len() == self.cap {
            self.forwarded.pop_front();
            self.acked = self.acked.saturating_sub(1);
        }
        self.forwarded.push_back((generation, tag, digest));
    }

    /// Everything through `tag` on channel `generation` was acknowledged
    /// (written to the connection: whether the broker read it is not known).
    pub(crate) fn on_ack(&mut self, generation: u64, tag: u64) {
        while let Some(&(g, t, _)) = self.forwarded.get(self.acked) {
            if g == generation && t <= tag {
                self.acked += 1;
            } else {
                break;
            }
        }
    }

    /// Channel `generation` is gone: what it forwarded unacknowledged comes
    /// back redelivered, already processed; what it acknowledged may.
    pub(crate) fn on_channel_lost(&mut self, generation: u64) {
        // Only the current channel forwards, so everything held is its.
        for (i, (g, _, d)) in self.forwarded.drain(..).enumerate() {
            debug_assert!(g <= generation, "a delivery of a later channel");
            let to = if i < self.acked {
                &mut self.maybe
            } else {
                &mut self.known
            };
            *to.entry(d).or_default() += 1;
        }
        self.acked = 0;
    }
}

/// Takes one of `digest` from `m`, if it holds one.
fn take(m: &mut HashMap<u64, u32>, digest: u64) -> bool {
    let Some(n) = m.get_mut(&digest) else {
        return false;
    };
    *n -= 1;
    if *n == 0 {
        m.remove(&digest);
    }
    true
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
        // An acknowledgement for the old channel does not touch the new one's.
        r.on_ack(1, 99);
        r.on_channel_lost(2);
        assert_eq!(r.on_delivery(3, 1, 20, true), Delivery::Skip);
    }

    /// The bug: an acknowledgement written just before the connection died
    /// never reached the broker, the message came back redelivered and was
    /// processed (counted, dead-lettered) a second time.
    #[test]
    fn an_acknowledged_delivery_that_comes_back_was_processed_already() {
        let mut r = Redelivery::new(&[], 16);
        for (tag, d) in [(1, 10), (2, 20)] {
            assert_eq!(r.on_delivery(1, tag, d, false), Delivery::Process);
        }
        r.on_ack(1, 2);
        r.on_channel_lost(1);
        assert_eq!(r.on_delivery(2, 1, 20, true), Delivery::Skip);
        assert_eq!(
            r.on_delivery(2, 2, 10, true),
            Delivery::Skip,
            "its acknowledgement died with the channel"
        );
        assert_eq!(
            r.on_delivery(2, 3, 10, true),
            Delivery::Process,
            "once only"
        );
    }

    #[test]
    fn what_may_come_back_is_forgotten_at_the_first_fresh_delivery() {
        let mut r = Redelivery::new(&[], 16);
        for (tag, d) in [(1, 10), (2, 20)] {
            r.on_delivery(1, tag, d, false);
        }
        r.on_ack(1, 2);
        r.on_channel_lost(1);
        // The broker had the acknowledgements: nothing comes back, the
        // queue's next message does.
        assert_eq!(r.on_delivery(2, 1, 30, false), Delivery::Process);
        assert_eq!(
            r.on_delivery(2, 2, 10, true),
            Delivery::Process,
            "past the requeued ones, a redelivery is one this process never read"
        );
        assert!(r.maybe.is_empty());
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

#[cfg(test)]
mod model {
    //! The tracker against a broker model: one queue, one consumer at a
    //! time with a prefetch window, deliveries and acknowledgements in flight
    //! on the connection, and connection losses that drop whatever is in
    //! flight. Every message has its own body, so each must be processed
    //! exactly once, however the losses fall.

    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    const PREFETCH: usize = 4;

    #[derive(Default)]
    struct Broker {
        /// (message, redelivered), head first.
        ready: VecDeque<(u64, bool)>,
        /// (tag, message) delivered on the current channel, not acknowledged.
        unacked: Vec<(u64, u64)>,
        next_tag: u64,
    }

    struct World {
        broker: Broker,
        generation: u64,
        /// Deliveries written to the connection, not yet read by the client.
        to_client: VecDeque<(u64, u64, bool)>,
        /// Acknowledgements (multiple) written, not yet read by the broker.
        to_broker: VecDeque<u64>,
        /// Tags the client read and may acknowledge, in order.
        readable_acks: Vec<u64>,
        tracker: Redelivery,
        processed: Vec<u32>,
    }

    impl World {
        fn new(messages: u64) -> Self {
            World {
                broker: Broker {
                    ready: (0..messages).map(|m| (m, false)).collect(),
                    ..Broker::default()
                },
                generation: 1,
                to_client: VecDeque::new(),
                to_broker: VecDeque::new(),
                readable_acks: Vec::new(),
                tracker: Redelivery::new(&[], 2 * PREFETCH),
                processed: vec![0; messages as usize],
            }
        }

        fn deliver(&mut self) {
            if self.broker.unacked.len() < PREFETCH
                && let Some((m, redelivered)) = self.broker.ready.pop_front()
            {
                self.broker.next_tag += 1;
                let tag = self.broker.next_tag;
                self.broker.unacked.push((tag, m));
                self.to_client.push_back((tag, m, redelivered));
            }
        }

        fn client_reads(&mut self) {
            if let Some((tag, m, redelivered)) = self.to_client.pop_front() {
                let what = self
                    .tracker
                    .on_delivery(self.generation, tag, m, redelivered);
                if what == Delivery::Process {
                    self.processed[m as usize] += 1;
                }
                self.readable_acks.push(tag);
            }
        }

        fn client_acks(&mut self, upto: usize) {
            if self.readable_acks.is_empty() {
                return;
            }
            let i = upto % self.readable_acks.len();
            let tag = self.readable_acks[i];
            self.readable_acks.drain(..=i);
            self.tracker.on_ack(self.generation, tag);
            self.to_broker.push_back(tag);
        }

        fn broker_reads_ack(&mut self) {
            if let Some(tag) = self.to_broker.pop_front() {
                self.broker.unacked.retain(|&(t, _)| t > tag);
            }
        }

        fn lose_connection(&mut self) {
            self.to_client.clear();
            self.to_broker.clear();
            self.readable_acks.clear();
            for &(_, m) in self.broker.unacked.iter().rev() {
                self.broker.ready.push_front((m, true));
            }
            self.broker.unacked.clear();
            self.broker.next_tag = 0;
            self.tracker.on_channel_lost(self.generation);
            self.generation += 1;
        }

        /// No more losses: everything is delivered, read and acknowledged.
        fn drain(&mut self) {
            while !(self.broker.ready.is_empty() && self.broker.unacked.is_empty()) {
                self.deliver();
                while !self.to_client.is_empty() {
                    self.client_reads();
                }
                self.client_acks(usize::MAX);
                while !self.to_broker.is_empty() {
                    self.broker_reads_ack();
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_message_is_processed_exactly_once_whatever_the_losses(
            messages in 1u64..40,
            steps in proptest::collection::vec((0u8..5, any::<usize>()), 0..200),
        ) {
            let mut w = World::new(messages);
            for (op, arg) in steps {
                match op {
                    0 => w.deliver(),
                    1 => w.client_reads(),
                    2 => w.client_acks(arg),
                    3 => w.broker_reads_ack(),
                    // Losses are rarer than the rest.
                    _ if arg % 4 == 0 => w.lose_connection(),
                    _ => w.deliver(),
                }
            }
            w.drain();
            for (m, &n) in w.processed.iter().enumerate() {
                prop_assert_eq!(n, 1, "message {} processed {} times", m, n);
            }
        }
    }
}
