//! Paced replay: hold a source to a target rate in events per second.
//!
//! A paced event is stamped with the time it was *due*, not the time the
//! source got to it: if the engine falls behind and the source with it, the
//! wait shows in the latency figures instead of being hidden by a late
//! stamp (coordinated omission, as a load generator that measures from
//! each request's intended send time corrects it).

use std::time::{Duration, Instant};

use crate::{clock::wall_ns, line_ingestor::LineIngestor};

pub(crate) struct Pacer {
    start: Instant,
    start_wall_ns: u64,
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
            start_wall_ns: wall_ns(),
            per_event: 1.0 / rate as f64,
            sent: 0,
            // Check about every 50 µs worth of events, so sleeps are coarse
            // enough to be honoured and fine enough to keep latency low.
            every: (rate / 20_000).max(1),
        })
    }

    /// The wall-clock time the next event is due at, in ns since the epoch.
    pub(crate) fn due_ns(&self) -> u64 {
        self.start_wall_ns + (self.sent as f64 * self.per_event * 1e9) as u64
    }

    /// Called after each event; sleeps while the source is ahead of schedule.
    fn after_event(&mut self, ing: &mut LineIngestor) {
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

/// Ingests one line; with a pacer, stamped with the time it was due and
/// then held to the rate.
pub(crate) fn line(pacer: Option<&mut Pacer>, ing: &mut LineIngestor, pos: u64, line: &[u8]) {
    match pacer {
        Some(p) => {
            ing.stamp_next(p.due_ns());
            ing.line(pos, line);
            p.after_event(ing);
        }
        None => ing.line(pos, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_due_one_interval_apart_from_the_start() {
        let mut p = Pacer::new(Some(1_000_000)).expect("a positive rate makes a pacer");
        let t0 = p.due_ns();
        assert_eq!(t0, p.start_wall_ns);
        p.sent = 1_000;
        assert_eq!(p.due_ns() - t0, 1_000_000, "1,000 events at 1M/s are 1 ms");
        p.sent = 3_000_000;
        assert_eq!(p.due_ns() - t0, 3_000_000_000);
    }

    #[test]
    fn no_rate_no_pacer() {
        assert!(Pacer::new(None).is_none());
        assert!(Pacer::new(Some(0)).is_none());
    }
}
