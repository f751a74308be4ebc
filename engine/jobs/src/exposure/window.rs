//! One (client, stock) pair's sliding window of counted purchases.

use std::collections::VecDeque;

/// Purchases in event-time order, their sum, and the alert state.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// (event time, shares, purchase key), sorted by event time.
    entries: VecDeque<(u64, u64, u128)>,
    /// Sum of `entries`' shares; u128 cannot overflow (2^64 entries × 2^53).
    sum: u128,
    /// An alert was raised and the sum has not fallen back to the limit since.
    pub(super) alerted: bool,
    /// The pair's limit (its client's).
    pub(super) limit: u64,
    /// An expiry entry for this pair is queued.
    pub(super) scheduled: bool,
}

impl Window {
    /// An empty window for a pair whose limit is `limit`.
    pub(super) fn new(limit: u64) -> Self {
        Window {
            limit,
            ..Window::default()
        }
    }

    /// Drops purchases outside the window `(clock − window, clock]`, i.e.
    /// with `t + window <= clock` (no subtraction: the window may reach
    /// before the epoch).
    pub(super) fn evict(&mut self, clock: u64, window: u64) {
        while let Some(&(t, shares, _)) = self.entries.front() {
            if t.saturating_add(window) > clock {
                break;
            }
            self.sum -= shares as u128;
            self.entries.pop_front();
        }
    }

    /// Whether purchase `key` is in the window.
    pub(super) fn contains(&self, key: u128) -> bool {
        self.entries.iter().any(|&(_, _, k)| k == key)
    }

    /// Adds a purchase, keeping event-time order (a late one is inserted).
    pub(super) fn add(&mut self, t: u64, shares: u64, key: u128) {
        let at = match self.entries.back() {
            Some(&(last, _, _)) if last > t => self.entries.partition_point(|&(e, _, _)| e <= t),
            _ => self.entries.len(),
        };
        self.entries.insert(at, (t, shares, key));
        self.sum += shares as u128;
    }

    /// The windowed sum, saturated to u64 for reporting.
    pub(super) fn sum(&self) -> u64 {
        u64::try_from(self.sum).unwrap_or(u64::MAX)
    }

    /// Whether the sum exceeds the limit.
    pub(super) fn above(&self) -> bool {
        self.sum > self.limit as u128
    }

    /// Re-arms the alert if the sum is back at or below the limit; returns
    /// whether it did.
    pub(super) fn rearm(&mut self) -> bool {
        let rearmed = self.alerted && !self.above();
        if rearmed {
            self.alerted = false;
        }
        rearmed
    }

    /// The purchases, oldest first.
    pub(super) fn entries(&self) -> impl Iterator<Item = &(u64, u64, u128)> + '_ {
        self.entries.iter()
    }

    /// Event time of the oldest purchase in the window.
    pub(super) fn oldest(&self) -> Option<u64> {
        self.entries.front().map(|&(t, _, _)| t)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_evicts_and_orders() {
        let mut w = Window::new(6);
        w.add(10, 5, 1);
        w.add(30, 7, 2);
        w.add(20, 1, 3); // out of order
        assert_eq!(w.sum(), 13);
        assert!(w.contains(3));
        assert_eq!(w.oldest(), Some(10));
        w.evict(10, 0);
        assert_eq!(w.sum(), 8);
        w.evict(20, 0);
        assert_eq!(w.sum(), 7);
        assert!(!w.contains(3));
        assert!(w.above());
        w.limit = 7;
        assert!(!w.above());
        w.evict(30, 0);
        assert!(w.is_empty());
    }
}
