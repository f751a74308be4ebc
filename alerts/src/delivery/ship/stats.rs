//! [`SinkStats`]: the live counters of one sink, written by its shipper and
//! read by the engine's metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

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
    /// The shipper is fenced: its ship gate
    /// ([`ShipGate`](crate::delivery::ShipGate)) is closed, so it begins no
    /// send. Set when the shipper looks at the gate: before every send, and
    /// at least once per poll interval while it is caught up.
    pub fenced: AtomicBool,
    /// Why the sink is paused (its endpoint refuses every record, see
    /// [`SendError::EndpointDown`](crate::delivery::SendError::EndpointDown)),
    /// or `None` while it is not. Read with [`SinkStats::paused`].
    paused: Mutex<Option<String>>,
    /// Why the shipper stopped early (a cursor or dead-letter write failed,
    /// a panic), once it has. Read with [`SinkStats::error`].
    error: Mutex<Option<String>>,
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
            fenced: AtomicBool::new(false),
            paused: Mutex::new(None),
            error: Mutex::new(None),
        }
    }

    /// Why the shipper stopped on an error, if it did (then `running` is
    /// false for good).
    pub fn error(&self) -> Option<String> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records why the shipper stopped (the shipper's; public for readers of
    /// the stats to test against).
    pub fn set_error(&self, error: &str) {
        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_owned());
    }

    /// Why the sink is paused, if it is: the endpoint's last answer said it
    /// refuses every record (wrong URL or credentials).
    pub fn paused(&self) -> Option<String> {
        self.paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Pauses the sink with `reason`, or (`None`) resumes it; returns whether
    /// that changed its state (a new pause, or a resume). The shipper's;
    /// public for readers of the stats to test against.
    pub fn set_paused(&self, reason: Option<&str>) -> bool {
        // A poisoned lock only means a panic elsewhere; the value stays valid.
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = paused.is_some() != reason.is_some();
        *paused = reason.map(str::to_owned);
        changed
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
