//! Deadlines in arrival order: the expiry service for keyed state.
//!
//! State opened at a non-decreasing clock with a fixed time-to-live has
//! non-decreasing deadlines, so a FIFO is a priority queue. Entries are not
//! removed when their element closes early; the element's generation is
//! stored with the entry so the owner can tell a stale entry from a live one.

use std::collections::VecDeque;

/// A FIFO of `(deadline, item)` with non-decreasing deadlines.
#[derive(Debug, Clone)]
pub struct ExpiryQueue<T> {
    queue: VecDeque<(u64, T)>,
}

impl<T> Default for ExpiryQueue<T> {
    fn default() -> Self {
        ExpiryQueue {
            queue: VecDeque::new(),
        }
    }
}

impl<T: Copy> ExpiryQueue<T> {
    /// Schedules `item` at `deadline`, which must not precede the last one
    /// pushed (a later deadline is clamped up to keep the queue sorted).
    pub fn push(&mut self, deadline: u64, item: T) {
        let floor = self.queue.back().map_or(0, |&(d, _)| d);
        self.queue.push_back((deadline.max(floor), item));
    }

    /// The oldest entry, if it is due at `clock`; it stays queued.
    pub fn peek_due(&self, clock: u64) -> Option<(u64, T)> {
        match self.queue.front() {
            Some(&(d, item)) if d <= clock => Some((d, item)),
            _ => None,
        }
    }

    /// Removes and returns the oldest entry if it is due at `clock`.
    pub fn pop_due(&mut self, clock: u64) -> Option<(u64, T)> {
        let due = self.peek_due(clock)?;
        self.queue.pop_front();
        Some(due)
    }

    /// Removes the oldest entry (after [`ExpiryQueue::peek_due`] chose it).
    pub fn pop(&mut self) -> Option<(u64, T)> {
        self.queue.pop_front()
    }

    /// Removes and returns the oldest entry, due or not (for the drain).
    pub fn pop_any(&mut self) -> Option<(u64, T)> {
        self.queue.pop_front()
    }

    /// Entries in deadline order, stale ones included.
    pub fn iter(&self) -> impl Iterator<Item = &(u64, T)> + '_ {
        self.queue.iter()
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_only_when_due() {
        let mut q = ExpiryQueue::default();
        q.push(10, 'a');
        q.push(20, 'b');
        q.push(5, 'c'); // clamped to 20
        assert_eq!(q.pop_due(9), None);
        assert_eq!(q.peek_due(10), Some((10, 'a')));
        assert_eq!(q.pop_due(10), Some((10, 'a')));
        assert_eq!(q.pop_due(19), None);
        assert_eq!(q.pop_due(25), Some((20, 'b')));
        assert_eq!(q.pop_any(), Some((20, 'c')));
        assert!(q.is_empty());
    }
}
