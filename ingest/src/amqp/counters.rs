//! What the AMQP source shows other threads while it runs: counters, the
//! negotiated heartbeat and why it ended. All of it lock-free to read (atomics
//! and a set-once cell), so a metrics scrape, a health check or a pair's
//! shipper can read it as often as it likes.

use std::sync::{OnceLock, atomic::AtomicU64};

use super::lease::EndReason;

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
    /// The heartbeat timeout negotiated on the current connection, in
    /// seconds (0: none, or not connected yet).
    pub heartbeat_secs: AtomicU64,
    /// Why the source stopped delivering, once it has.
    end: OnceLock<EndReason>,
}

impl AmqpCounters {
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
