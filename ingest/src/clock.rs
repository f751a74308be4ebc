//! A coarse wall clock for stamping ingest time.
//!
//! Reading the clock per event would cost a vDSO call per event; the stamp only
//! needs millisecond-ish resolution (it drives ingest-time expiry and latency
//! figures), so it is read every [`REFRESH_EVERY`] events, and for the first
//! event after the source published: a source publishes before it may wait,
//! and the event after a wait must carry the time it was read, not the
//! time before the wait (SPEC §2: without `ts`, that time is the clock that
//! opens and expires books).

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
    /// another [`REFRESH_EVERY`] ticks (or once expired).
    pub(crate) fn set(&mut self, ns: u64) {
        self.now = ns;
        self.countdown = REFRESH_EVERY;
    }

    /// The source may wait now: the next stamp reads the wall clock.
    pub(crate) fn expire(&mut self) {
        self.countdown = 1;
    }

    /// Reads the wall clock now.
    pub(crate) fn refresh(&mut self) {
        self.now = wall_ns();
        self.countdown = REFRESH_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_stamp_after_a_wait_is_read_again_not_kept_from_before() {
        let mut c = CoarseClock::new();
        let before = c.tick();
        assert_eq!(c.tick(), before, "between refreshes the stamp is cached");
        c.expire();
        std::thread::sleep(Duration::from_millis(5));
        let after = c.tick();
        assert!(
            after >= before + 5_000_000,
            "the first stamp after the wait is read then: {before} → {after}"
        );
    }
}
