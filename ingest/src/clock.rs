//! A coarse wall clock for stamping ingest time.
//!
//! Reading the clock per event would cost a vDSO call per event; the stamp only
//! needs millisecond-ish resolution (it drives ingest-time expiry and latency
//! figures), so it is refreshed every [`REFRESH_EVERY`] events and whenever
//! the source waits.

use std::time::{SystemTime, UNIX_EPOCH};

const REFRESH_EVERY: u32 = 64;

/// Wall-clock nanoseconds since the Unix epoch, now.
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The cached clock of one ingest thread.
pub(crate) struct CoarseClock {
    now: u64,
    countdown: u32,
}

impl CoarseClock {
    pub(crate) fn new() -> Self {
        CoarseClock {
            now: wall_ns(),
            countdown: REFRESH_EVERY,
        }
    }

    /// The stamp for the next event.
    pub(crate) fn tick(&mut self) -> u64 {
        self.countdown -= 1;
        if self.countdown == 0 {
            self.refresh();
        }
        self.now
    }

    /// Makes `ns` the next stamp; the wall clock is read again only after
    /// another [`REFRESH_EVERY`] ticks (or a refresh).
    pub(crate) fn set(&mut self, ns: u64) {
        self.now = ns;
        self.countdown = REFRESH_EVERY;
    }

    /// Reads the wall clock now.
    pub(crate) fn refresh(&mut self) {
        self.now = wall_ns();
        self.countdown = REFRESH_EVERY;
    }
}
