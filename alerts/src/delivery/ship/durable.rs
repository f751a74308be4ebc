//! [`DurableHead`]: the highest journal seq the engine has made durable,
//! published by the journal thread after each group commit and waited on by
//! the shippers — so a caught-up shipper sleeps until there is something to
//! ship instead of polling the journal.

use std::sync::{
    Condvar, Mutex,
    atomic::{AtomicU64, Ordering},
};
use std::time::{Duration, Instant};

/// The durable end of the journal, shared by its writer and the shippers.
#[derive(Debug, Default)]
pub struct DurableHead {
    seq: AtomicU64,
    lock: Mutex<()>,
    moved: Condvar,
}

impl DurableHead {
    /// A head at `seq` (0: nothing durable yet).
    pub fn new(seq: u64) -> Self {
        DurableHead {
            seq: AtomicU64::new(seq),
            lock: Mutex::new(()),
            moved: Condvar::new(),
        }
    }

    /// Every seq up to this one is durable.
    pub fn get(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Moves the head to `seq` and wakes the waiting shippers (once per group
    /// commit, not per alert).
    pub fn publish(&self, seq: u64) {
        self.seq.fetch_max(seq, Ordering::AcqRel);
        // Taking the lock orders this wake-up after a waiter's check.
        let _guard = self.lock.lock();
        self.moved.notify_all();
    }

    /// Waits until the head is past `seen` or `timeout` has passed; returns
    /// the head.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let Ok(mut guard) = self.lock.lock() else {
            return self.get();
        };
        loop {
            let head = self.get();
            let now = Instant::now();
            if head > seen || now >= deadline {
                return head;
            }
            guard = match self.moved.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(_) => return self.get(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiter_wakes_when_the_head_moves() {
        let head = Arc::new(DurableHead::new(5));
        assert_eq!(head.wait_past(4, Duration::from_secs(5)), 5, "already past");
        let h = Arc::clone(&head);
        let waiter = std::thread::spawn(move || h.wait_past(5, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        head.publish(9);
        assert_eq!(waiter.join().expect("join"), 9);
        head.publish(3);
        assert_eq!(head.get(), 9, "the head never moves back");
    }

    #[test]
    fn a_waiter_gives_up_at_the_timeout() {
        let head = DurableHead::new(2);
        assert_eq!(head.wait_past(2, Duration::from_millis(10)), 2);
    }
}
