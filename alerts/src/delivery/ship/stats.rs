//! [`SinkStats`]: the live counters of one sink, written by its shipper and
//! read by the engine's metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::spec::ShipperSpec;

/// Live counters of one sink, shared with the engine's metrics.
#[derive(Debug)]
pub struct SinkStats {
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    /// Records the sink confirmed, this run.
    pub delivered: AtomicU64,
    /// Transient failures (each followed by a back-off and a retry).
    pub retried: AtomicU64,
    /// Records dead-lettered after a permanent failure.
    pub failed: AtomicU64,
    /// Records found in doubt at start (a crash during their send).
    pub in_doubt: AtomicU64,
    /// The cursor: every seq up to it is delivered, dead-lettered or skipped.
    pub cursor: AtomicU64,
    /// The shipper's thread is running (false once it stopped, failed or
    /// panicked).
    pub running: AtomicBool,
}

impl SinkStats {
    pub(crate) fn new(spec: &ShipperSpec) -> Self {
        Self::named(&spec.name, &spec.kind, spec.mode)
    }

    /// Zeroed counters of a sink (a shipper makes its own; this is for
    /// readers of the counters to test against).
    pub fn named(name: &str, kind: &str, mode: DeliveryMode) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            mode,
            delivered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            in_doubt: AtomicU64::new(0),
            cursor: AtomicU64::new(0),
            running: AtomicBool::new(false),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
