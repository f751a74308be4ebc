//! Deadlines in arrival order: the expiry service for keyed state.
//!
//! State opened at a non-decreasing clock with a fixed time-to-live has
//! non-decreasing deadlines, so a FIFO is a priority queue. Entries are not
//! removed when their element closes early; the element's generation is
//! stored with the entry so the owner can tell a stale entry from a live one.
//!
//! An entry is one per open element, so its size is part of what an element
//! costs: a deadline is kept as a `u32` offset from a base shared by a run of
//! entries (49 days of milliseconds), and a deadline past its run's reach
//! starts a new run.

use std::collections::VecDeque;

/// A FIFO of `(deadline, item)` with non-decreasing deadlines.
#[derive(Debug, Clone)]
pub struct ExpiryQueue<T> {
    /// `(deadline - base of its run, item)`, oldest first.
    entries: VecDeque<(u32, T)>,
    /// The runs: `(index of its first entry, base)`, oldest first; indices
    /// count every entry ever pushed. The front run holds the front entry.
    runs: VecDeque<(u64, u64)>,
    /// Index of the front entry (entries popped so far).
    popped: u64,
    /// The last deadline pushed: the floor of the next.
    last: u64,
}

impl<T> Default for ExpiryQueue<T> {
    fn default() -> Self {
        ExpiryQueue {
            entries: VecDeque::new(),
            runs: VecDeque::new(),
            popped: 0,
            last: 0,
        }
    }
}

impl<T: Copy> ExpiryQueue<T> {
    /// Schedules `item` at `deadline`, which must not precede the last one
    /// pushed (a later deadline is clamped up to keep the queue sorted).
    pub fn push(&mut self, deadline: u64, item: T) {
        let deadline = deadline.max(self.last);
        self.last = deadline;
        let index = self.popped + self.entries.len() as u64;
        let base = match self.runs.back() {
            Some(&(_, base))
                if !self.entries.is_empty() && deadline - base <= u64::from(u32::MAX) =>
            {
                base
            }
            _ => {
                if self.entries.is_empty() {
                    self.runs.clear();
                }
                self.runs.push_back((index, deadline));
                deadline
            }
        };
        self.entries.push_back(((deadline - base) as u32, item));
    }

    /// The oldest entry, if it is due at `clock`; it stays queued.
    pub fn peek_due(&self, clock: u64) -> Option<(u64, T)> {
        self.front().filter(|&(d, _)| d <= clock)
    }

    /// Removes and returns the oldest entry if it is due at `clock`.
    pub fn pop_due(&mut self, clock: u64) -> Option<(u64, T)> {
        let due = self.peek_due(clock)?;
        self.pop();
        Some(due)
    }

    /// Removes the oldest entry (after [`ExpiryQueue::peek_due`] chose it).
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let front = self.front()?;
        self.entries.pop_front();
        self.popped += 1;
        while self.runs.len() > 1 && self.runs[1].0 <= self.popped {
            self.runs.pop_front();
        }
        Some(front)
    }

    /// Removes and returns the oldest entry, due or not (for the drain).
    pub fn pop_any(&mut self) -> Option<(u64, T)> {
        self.pop()
    }

    /// Entries in deadline order, stale ones included.
    pub fn iter(&self) -> impl Iterator<Item = (u64, T)> + '_ {
        let mut run = 0;
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, &(offset, item))| {
                let index = self.popped + i as u64;
                while run + 1 < self.runs.len() && self.runs[run + 1].0 <= index {
                    run += 1;
                }
                (self.runs[run].1 + u64::from(offset), item)
            })
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn front(&self) -> Option<(u64, T)> {
        let &(offset, item) = self.entries.front()?;
        let &(_, base) = self.runs.front()?;
        Some((base + u64::from(offset), item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn an_entry_costs_its_offset_and_its_item() {
        assert_eq!(size_of::<(u32, (u32, u32))>(), 12);
    }

    #[test]
    fn deadlines_past_a_runs_reach_start_a_new_run() {
        let far = u64::from(u32::MAX);
        let mut q = ExpiryQueue::default();
        for (i, d) in [0, far, far + 1, 3 * far, u64::MAX - 1, u64::MAX]
            .into_iter()
            .enumerate()
        {
            q.push(d, i);
        }
        let all: Vec<_> = q.iter().collect();
        assert_eq!(
            all,
            [
                (0, 0),
                (far, 1),
                (far + 1, 2),
                (3 * far, 3),
                (u64::MAX - 1, 4),
                (u64::MAX, 5)
            ]
        );
        let popped: Vec<_> = std::iter::from_fn(|| q.pop_any()).collect();
        assert_eq!(popped, all);
    }

    /// The model: a plain FIFO of absolute, clamped deadlines.
    #[derive(Debug, Clone)]
    enum Op {
        Push(u64),
        PopDue(u64),
        PopAny,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Steps around u32::MAX so runs start and end often.
        let step = prop_oneof![
            0..10u64,
            Just(u64::from(u32::MAX)),
            Just(u64::from(u32::MAX) + 1)
        ];
        prop_oneof![
            3 => step.clone().prop_map(Op::Push),
            2 => step.prop_map(Op::PopDue),
            1 => Just(Op::PopAny),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_fifo_of_absolute_deadlines(ops in proptest::collection::vec(op(), 0..300)) {
            let mut q = ExpiryQueue::default();
            let mut model: VecDeque<(u64, usize)> = VecDeque::new();
            let (mut clock, mut last) = (0u64, 0u64);
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Push(step) => {
                        // Deadlines wander: sometimes below the last (clamped).
                        let d = clock.saturating_add(step);
                        q.push(d, i);
                        last = last.max(d);
                        model.push_back((last, i));
                    }
                    Op::PopDue(step) => {
                        clock = clock.saturating_add(step);
                        let want = match model.front() {
                            Some(&(d, _)) if d <= clock => model.pop_front(),
                            _ => None,
                        };
                        prop_assert_eq!(q.pop_due(clock), want);
                    }
                    Op::PopAny => prop_assert_eq!(q.pop_any(), model.pop_front()),
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert!(q.iter().eq(model.iter().copied()));
            }
        }
    }
}
