//! [`ReleaseGate`]: the active's releases — acknowledgements to the broker,
//! the shippers' head — executed as [`pair::gate`] decides from what the
//! journal thread made durable here and what the standby acknowledged.
//!
//! The journal thread reports what is durable and hands over each
//! acknowledgement with the frame seq that holds its message; the
//! replicator reports the standby's acknowledgements and the link's state.
//! Each report steps the pure gate once (per group commit or per standby
//! acknowledgement, never per event) and sends what it released: the
//! newest acknowledgement whose frame may go (acknowledgements are
//! cumulative) and the shippable journal seq.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alerts::DurableHead;
use ingest::amqp::AckRequest;
use pair::gate::{Event, Gate, Heads, Link, Policy};
use tokio::sync::mpsc::UnboundedSender;

/// The gate and what waits behind it.
pub(crate) struct ReleaseGate {
    inner: Mutex<Inner>,
    policy: Policy,
    /// What the shippers may ship (their durable head).
    shippable: Arc<DurableHead>,
    epoch0: Instant,
}

struct Inner {
    gate: Gate,
    /// Acknowledgements not released yet, with the frame seq holding their
    /// message, oldest first.
    acks: VecDeque<(u64, AckRequest)>,
    acker: Option<UnboundedSender<AckRequest>>,
    /// Events logged through each durable frame seq, oldest first, kept
    /// back to the standby's acknowledged frame: its lag in events.
    events: VecDeque<(u64, u64)>,
}

impl ReleaseGate {
    /// A gate over restored `local` heads (released already: they were
    /// before the restart), shipping through `shippable`.
    pub(crate) fn new(local: Heads, policy: Policy, shippable: Arc<DurableHead>) -> Self {
        shippable.publish(local.journal);
        ReleaseGate {
            inner: Mutex::new(Inner {
                gate: Gate::new(local),
                acks: VecDeque::new(),
                acker: None,
                events: VecDeque::new(),
            }),
            policy,
            shippable,
            epoch0: Instant::now(),
        }
    }

    /// Where released acknowledgements go (the source of this active phase).
    pub(crate) fn set_acker(&self, acker: Option<UnboundedSender<AckRequest>>) {
        if let Ok(mut i) = self.inner.lock() {
            i.acks.clear();
            i.acker = acker;
        }
    }

    /// The end of the journal thread: waits up to `patience` for the
    /// standby to acknowledge what is pending (so a graceful stop
    /// acknowledges what the standby holds), then lets the source go — the
    /// source closes only once no one can acknowledge on it any more, and
    /// whatever was not acknowledged is redelivered to the next active.
    pub(crate) fn finish(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        loop {
            let pending = self.inner.lock().map_or(0, |i| i.acks.len());
            if pending == 0 || Instant::now() >= deadline || !self.gated() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Ok(mut i) = self.inner.lock() {
            i.acks.clear();
            i.acker = None;
        }
    }

    fn gated(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.gate.gated())
    }

    /// The shippers' head.
    pub(crate) fn shippable(&self) -> Arc<DurableHead> {
        Arc::clone(&self.shippable)
    }

    fn now_ns(&self) -> u64 {
        self.epoch0.elapsed().as_nanos() as u64
    }

    fn step(&self, event: Event, ack: Option<(u64, AckRequest)>, events: Option<(u64, u64)>) {
        let now = self.now_ns();
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        if let Some(a) = ack {
            i.acks.push_back(a);
        }
        if let Some(e) = events {
            i.events.push_back(e);
        }
        // Keep one entry at or before the standby's frame: its base.
        let acked = i.gate.replicated.input.max(match event {
            Event::Replicated(h) => h.input,
            _ => 0,
        });
        while i.events.len() > 1 && i.events.get(1).is_some_and(|(s, _)| *s <= acked) {
            i.events.pop_front();
        }
        let released = i.gate.step(event, now, self.policy);
        self.shippable.publish(released.journal);
        let mut newest = None;
        while i
            .acks
            .front()
            .is_some_and(|(seq, _)| *seq <= released.input)
        {
            newest = i.acks.pop_front().map(|(_, a)| a);
        }
        if let (Some(a), Some(tx)) = (newest, i.acker.as_ref()) {
            // The source is gone only when the phase ends; the broker then
            // redelivers what was not acknowledged.
            let _ = tx.send(a);
        }
    }

    /// The journal thread made the journal durable through `seq`.
    pub(crate) fn journal_durable(&self, seq: u64) {
        // Heads only move up: 0 leaves the input head as it is.
        self.step(
            Event::Local(Heads {
                input: 0,
                journal: seq,
            }),
            None,
            None,
        );
    }

    /// The journal thread made the input log durable through frame `seq`,
    /// which holds `events_through` events since the start of the phase;
    /// `ack`, if any, acknowledges the messages of the frames through it.
    pub(crate) fn input_durable(&self, seq: u64, ack: Option<AckRequest>, events_through: u64) {
        self.step(
            Event::Local(Heads {
                input: seq,
                journal: 0,
            }),
            ack.map(|a| (seq, a)),
            Some((seq, events_through)),
        );
    }

    /// Events durable here that the standby has not acknowledged (all of
    /// them since the phase began when there is no standby).
    pub(crate) fn lag_events(&self) -> u64 {
        let Ok(i) = self.inner.lock() else {
            return 0;
        };
        let newest = i.events.back().map_or(0, |(_, n)| *n);
        let acked = i.gate.replicated.input;
        let base = i
            .events
            .iter()
            .take_while(|(s, _)| *s <= acked)
            .last()
            .map_or(0, |(_, n)| *n);
        newest.saturating_sub(base)
    }

    /// The standby acknowledged `h`.
    pub(crate) fn replicated(&self, h: Heads) {
        self.step(Event::Replicated(h), None, None);
    }

    /// A standby joined holding `at`.
    pub(crate) fn joined(&self, at: Heads) {
        self.step(Event::Joined { at }, None, None);
    }

    /// The standby's link ended.
    pub(crate) fn lost(&self) {
        self.step(Event::Lost, None, None);
    }

    /// Time passed (a held gate may go alone).
    pub(crate) fn tick(&self) {
        self.step(Event::Tick, None, None);
    }

    /// The gate's link state.
    pub(crate) fn link(&self) -> Link {
        self.inner.lock().map_or(Link::Alone, |i| i.gate.link)
    }

    /// Durable here.
    pub(crate) fn local(&self) -> Heads {
        self.inner.lock().map_or(Heads::default(), |i| i.gate.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pair::gate::Mode;

    #[test]
    fn acknowledgements_wait_for_an_in_sync_standby_then_go_newest_first() {
        let head = Arc::new(DurableHead::new(0));
        let g = ReleaseGate::new(
            Heads::default(),
            Policy {
                mode: Mode::Sync,
                alone_after: Duration::from_secs(60),
            },
            Arc::clone(&head),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        g.set_acker(Some(tx));
        g.joined(Heads::default());
        assert_eq!(g.link(), Link::Synced);
        let ack = |tag| AckRequest { generation: 1, tag };
        g.journal_durable(4);
        g.input_durable(2, Some(ack(10)), 100);
        g.input_durable(3, Some(ack(20)), 150);
        assert_eq!(g.lag_events(), 150);
        assert!(rx.try_recv().is_err(), "the standby holds nothing yet");
        assert_eq!(head.get(), 0);
        g.replicated(Heads {
            input: 3,
            journal: 2,
        });
        assert_eq!(rx.try_recv().ok(), Some(ack(20)), "the newest covers both");
        assert_eq!(g.lag_events(), 0);
        assert!(rx.try_recv().is_err());
        assert_eq!(head.get(), 2);
        g.lost();
        g.input_durable(4, Some(ack(30)), 170);
        assert!(rx.try_recv().is_err(), "held");
    }
}
