//! What the AMQP source shows other threads while it runs: counters, the
//! broker's liveness and why it ended. All of it lock-free to read (atomics
//! and a set-once cell), so a metrics scrape, a health check or a pair's
//! shipper can read it as often as it likes.

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{lease::EndReason, liveness};

/// Counters of the AMQP source, readable while it runs.
#[derive(Debug, Default)]
pub struct AmqpCounters {
    /// Messages received.
    pub messages: AtomicU64,
    /// Messages the broker marked as redelivered.
    pub redelivered: AtomicU64,
    /// Messages acknowledged.
    pub acked: AtomicU64,
    /// Redelivered messages the state already held, not processed again.
    pub skipped: AtomicU64,
    /// Connections made (1 + reconnects).
    pub connections: AtomicU64,
    /// 1 while connected and consuming.
    pub connected: AtomicU64,
    /// When the broker last certainly heard from the source: the send time
    /// of the last probe (or consume) it answered on the consumer's
    /// connection, as a stamp of the process's monotonic clock, 0 before
    /// the first. Read it through [`AmqpCounters::silent_for`].
    pub heard_at_ns: AtomicU64,
    /// The heartbeat timeout negotiated on the current connection, in
    /// seconds (0: none, or not connected yet).
    pub heartbeat_secs: AtomicU64,
    /// Why the source stopped delivering, once it has.
    end: OnceLock<EndReason>,
}

impl AmqpCounters {
    /// How long before `now` the broker last certainly heard from the
    /// source ([`AmqpCounters::heard_at_ns`]): never less than the silence
    /// the broker itself sees, so a pair that ships only while this is
    /// below [`super::fence_after`] stops before the broker can release its
    /// lease. [`Duration::MAX`] if the broker never answered.
    pub fn silent_for(&self, now: Instant) -> Duration {
        liveness::since(self.heard_at_ns.load(Ordering::Acquire), now)
    }

    /// Why the source stopped delivering (the cutter then ends), or `None`
    /// while it delivers.
    pub fn ended(&self) -> Option<&EndReason> {
        self.end.get()
    }

    /// Records why the source ends; the first reason stays.
    pub(crate) fn set_ended(&self, why: EndReason) {
        let _ = self.end.set(why);
    }
}
