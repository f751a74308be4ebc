//! Which input messages may be acknowledged: the pure bookkeeping between
//! the confirms of the outputs and the acks of the inputs, per channel.
//!
//! Each input message (a delivery tag, increasing on its channel) becomes
//! `k` outputs (its events and dead letters, maybe none); it is done once
//! the broker has confirmed all `k`. Acks are `multiple`, so the router may
//! acknowledge up to the highest tag whose message *and every message
//! before it* are done — never past a message with an output unconfirmed
//! (it would be lost with the link), and never a tag already covered by an
//! ack (LAPIN-NOTES pitfall 6: the broker closes the channel on a double
//! ack). Confirms may come in any order.
//!
//! [`AckTracker::due`] is the policy on top: ack once enough messages are
//! done, or when every message held is done (the router is idle, or
//! draining before it stops), so an ack is never held back by a quiet
//! input.

use std::collections::VecDeque;

/// One unacknowledged input message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    tag: u64,
    /// Outputs not confirmed yet.
    left: usize,
}

/// The inputs of one channel not yet acknowledged, in tag order.
#[derive(Debug, Default)]
pub(crate) struct AckTracker {
    held: VecDeque<Held>,
    /// How many of the first `held` are done: the ackable prefix.
    done: usize,
    /// The highest tag acknowledged (0: none).
    acked: u64,
}

/// A call the bookkeeping refuses: the router's own bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Misuse {
    /// A tag not above every tag seen before on the channel.
    TagNotIncreasing(u64),
    /// A confirm for a message that is not held, or with nothing left.
    UnknownConfirm(u64),
}

impl std::fmt::Display for Misuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misuse::TagNotIncreasing(t) => write!(f, "delivery tag {t} is not above the last"),
            Misuse::UnknownConfirm(t) => write!(f, "confirm for delivery tag {t}, not awaited"),
        }
    }
}

impl AckTracker {
    /// Input `tag` arrived and becomes `outputs` outputs.
    pub(crate) fn received(&mut self, tag: u64, outputs: usize) -> Result<(), Misuse> {
        let last = self.held.back().map_or(self.acked, |h| h.tag);
        if tag <= last {
            return Err(Misuse::TagNotIncreasing(tag));
        }
        self.held.push_back(Held { tag, left: outputs });
        self.advance();
        Ok(())
    }

    /// One output of input `tag` was confirmed.
    pub(crate) fn confirmed(&mut self, tag: u64) -> Result<(), Misuse> {
        let at = self
            .held
            .binary_search_by_key(&tag, |h| h.tag)
            .map_err(|_| Misuse::UnknownConfirm(tag))?;
        let h = &mut self.held[at];
        if h.left == 0 {
            return Err(Misuse::UnknownConfirm(tag));
        }
        h.left -= 1;
        self.advance();
        Ok(())
    }

    fn advance(&mut self) {
        while self.held.get(self.done).is_some_and(|h| h.left == 0) {
            self.done += 1;
        }
    }

    /// The tag to acknowledge with `multiple` now, if any: the last of the
    /// done prefix.
    pub(crate) fn ackable(&self) -> Option<u64> {
        self.done.checked_sub(1).map(|i| self.held[i].tag)
    }

    /// [`AckTracker::ackable`] if `every` messages are done, or all that
    /// are held.
    pub(crate) fn due(&self, every: usize) -> Option<u64> {
        if self.done >= every.max(1) || self.done == self.held.len() {
            self.ackable()
        } else {
            None
        }
    }

    /// The ack of everything up to `tag` was sent; returns how many
    /// messages it covered.
    pub(crate) fn acked(&mut self, tag: u64) -> usize {
        let mut n = 0;
        while self
            .held
            .front()
            .is_some_and(|h| h.tag <= tag && h.left == 0)
        {
            self.held.pop_front();
            n += 1;
        }
        self.done -= n;
        self.acked = self.acked.max(tag);
        n
    }

    /// Messages held, acknowledged not yet.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn acks_the_done_prefix_only() {
        let mut t = AckTracker::default();
        t.received(1, 2).unwrap();
        t.received(2, 0).unwrap();
        t.received(5, 1).unwrap();
        assert_eq!(t.ackable(), None);
        t.confirmed(5).unwrap();
        assert_eq!(t.ackable(), None, "message 1 still waits");
        t.confirmed(1).unwrap();
        assert_eq!(t.ackable(), None);
        t.confirmed(1).unwrap();
        assert_eq!(t.ackable(), Some(5));
        assert_eq!(t.acked(5), 3);
        assert_eq!(t.ackable(), None);
        assert_eq!(t.held(), 0);
    }

    #[test]
    fn misuse_is_refused() {
        let mut t = AckTracker::default();
        t.received(3, 1).unwrap();
        assert_eq!(t.received(3, 1), Err(Misuse::TagNotIncreasing(3)));
        assert_eq!(t.confirmed(4), Err(Misuse::UnknownConfirm(4)));
        t.confirmed(3).unwrap();
        assert_eq!(t.confirmed(3), Err(Misuse::UnknownConfirm(3)));
        t.acked(3);
        assert_eq!(t.received(2, 0), Err(Misuse::TagNotIncreasing(2)));
    }

    #[test]
    fn due_waits_for_a_batch_unless_everything_is_done() {
        let mut t = AckTracker::default();
        for tag in 1..=3 {
            t.received(tag, 1).unwrap();
        }
        t.received(4, 1).unwrap();
        for tag in 1..=3 {
            t.confirmed(tag).unwrap();
        }
        assert_eq!(t.due(4), None, "3 done of 4 held");
        assert_eq!(t.due(3), Some(3));
        t.confirmed(4).unwrap();
        assert_eq!(t.due(100), Some(4), "all done: idle");
    }

    /// One step of a channel's life, as the proptest drives it.
    #[derive(Debug, Clone)]
    enum Step {
        /// A new message with this many outputs, after a gap in the tags.
        Receive { outputs: usize, gap: u64 },
        /// Confirm the `n`-th unconfirmed output (mod their number).
        Confirm(usize),
        /// Acknowledge what is ackable.
        Ack,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            2 => (0usize..4, 1u64..3).prop_map(|(outputs, gap)| Step::Receive { outputs, gap }),
            3 => any::<usize>().prop_map(Step::Confirm),
            1 => Just(Step::Ack),
        ]
    }

    proptest! {
        /// Against the simplest model: a list of (tag, outputs left) of
        /// every message ever received, and the last tag acked. What may
        /// be acked is the highest tag whose message and all before it
        /// are done; acks never cover an unconfirmed output or repeat.
        #[test]
        fn matches_the_model(steps in prop::collection::vec(step(), 0..200)) {
            let mut t = AckTracker::default();
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut acked = 0u64;
            let mut next_tag = 0u64;
            for s in steps {
                match s {
                    Step::Receive { outputs, gap } => {
                        next_tag += gap;
                        t.received(next_tag, outputs).unwrap();
                        model.push((next_tag, outputs));
                    }
                    Step::Confirm(n) => {
                        let open: Vec<usize> = model
                            .iter()
                            .enumerate()
                            .flat_map(|(i, &(_, left))| std::iter::repeat_n(i, left))
                            .collect();
                        if open.is_empty() {
                            continue;
                        }
                        let i = open[n % open.len()];
                        t.confirmed(model[i].0).unwrap();
                        model[i].1 -= 1;
                    }
                    Step::Ack => {
                        if let Some(tag) = t.ackable() {
                            prop_assert!(tag > acked, "double ack of {}", tag);
                            prop_assert!(
                                model.iter().filter(|m| m.0 <= tag).all(|m| m.1 == 0),
                                "ack {} covers an unconfirmed output", tag
                            );
                            t.acked(tag);
                            acked = tag;
                        }
                    }
                }
                let want = model
                    .iter()
                    .filter(|m| m.0 > acked)
                    .take_while(|m| m.1 == 0)
                    .last()
                    .map(|m| m.0);
                prop_assert_eq!(t.ackable(), want);
            }
        }
    }
}
