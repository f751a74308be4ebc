//! Paced replay: hold a source to a target rate in events per second.

use std::time::{Duration, Instant};

use crate::line_ingestor::LineIngestor;

pub(crate) struct Pacer {
    start: Instant,
    per_event: f64,
    sent: u64,
    every: u64,
}

impl Pacer {
    /// A pacer for `rate` events per second (`None` or 0: as fast as possible).
    pub(crate) fn new(rate: Option<u64>) -> Option<Self> {
        let rate = rate.filter(|&r| r > 0)?;
        Some(Pacer {
            start: Instant::now(),
            per_event: 1.0 / rate as f64,
            sent: 0,
            // Check about every 50 µs worth of events, so sleeps are coarse
            // enough to be honoured and fine enough to keep latency low.
            every: (rate / 20_000).max(1),
        })
    }

    /// Called after each event; sleeps while the source is ahead of schedule.
    pub(crate) fn after_event(&mut self, ing: &mut LineIngestor) {
        self.sent += 1;
        if !self.sent.is_multiple_of(self.every) {
            return;
        }
        let due = self.start + Duration::from_secs_f64(self.sent as f64 * self.per_event);
        let now = Instant::now();
        if due > now {
            ing.publish();
            std::thread::sleep(due - now);
            ing.publish();
        }
    }
}
