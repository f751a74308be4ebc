//! How long a client waits before its next round of connection attempts:
//! from `min`, doubling after each round that failed (or each link that was
//! lost before it did any work), up to `max`; back to `min` once a link
//! has worked. A client whose links die as soon as they open (a node that
//! accepts connections but fails every publish) so backs off like one that
//! cannot connect at all, instead of spinning.

use std::time::Duration;

/// The wait before the next round, as a pure state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min` (at least 1 ms), doubles up to `max` (at least `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// A round failed: the wait before the next one (then doubled).
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// A link worked: the next failure waits `min` again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn doubles_from_100_ms_to_5_s_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let waits: Vec<u64> = (0..9).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.failed(), Duration::from_millis(100));
    }

    proptest! {
        #[test]
        fn every_wait_is_within_bounds_and_never_shrinks_without_a_reset(
            min_ms in 0u64..2_000,
            max_ms in 0u64..20_000,
            resets in prop::collection::vec(any::<bool>(), 1..40),
        ) {
            let (min, max) = (Duration::from_millis(min_ms), Duration::from_millis(max_ms));
            let mut b = Backoff::new(min, max);
            let floor = min.max(Duration::from_millis(1));
            let mut last = Duration::ZERO;
            for reset in resets {
                if reset {
                    b.reset();
                    last = Duration::ZERO;
                }
                let w = b.failed();
                prop_assert!(w >= floor && w <= max.max(floor));
                prop_assert!(w >= last);
                last = w;
            }
        }
    }
}
