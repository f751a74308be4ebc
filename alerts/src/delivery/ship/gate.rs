//! [`ShipGate`]: fencing for the shippers of one node (SPEC §6).
//!
//! An active-standby pair must never have two nodes that ship. The node
//! that holds the lease opens its gate under the epoch of that lease; the
//! moment it may have lost it (its broker connection misses heartbeats, a
//! higher epoch shows up) it closes the gate, and no shipper behind it
//! *begins* another send. One gate is shared (as an `Arc`) by every shipper
//! of the node; a shipper without one (`ShipperSpec::gate` is `None`: a
//! single node) behaves as if it were always open at epoch 0.
//!
//! The epoch never goes back: opening at a lower epoch than the gate has
//! seen is refused, since it would mean shipping under a lease a successor
//! has already superseded. Reopening is for a node that kept its lease (a
//! brief doubt about it); a node that lost the lease to a successor should
//! stop its shippers instead, since they only know their own cursors, not
//! what the successor delivered since. Epochs stop at `i64::MAX`, the largest value
//! the AMQP header (a signed long-long) can carry.
//!
//! Waiting is on a condvar, not a spin: a fenced shipper sleeps until the
//! gate changes or its own handle asks it to stop or finish (its `Control`
//! wakes the gate's waiters for that).

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{AlertsError, Result};

/// Whether this node's shippers may begin sends, and the epoch they send
/// under. `Send + Sync`; share it as an `Arc`.
#[derive(Debug)]
pub struct ShipGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GateState {
    open: bool,
    epoch: u64,
    /// Bumped at every change (a close, an open, a new epoch): a pass taken
    /// before one is no longer good, even if the gate is open again.
    generation: u64,
}

/// Leave to send, taken from an open gate: the epoch to send under, and
/// the gate's generation when it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) epoch: u64,
    generation: u64,
}

impl Pass {
    /// The pass of a shipper without a gate: always good, epoch 0.
    pub(crate) const UNGATED: Pass = Pass {
        epoch: 0,
        generation: 0,
    };
}

/// The largest epoch: the AMQP `x-aldebaran-epoch` header is a signed
/// long-long.
const MAX_EPOCH: u64 = i64::MAX as u64;

impl ShipGate {
    /// A closed gate at epoch 0: nothing ships until [`ShipGate::open`]
    /// (a node that has not obtained the lease yet).
    pub fn closed() -> Self {
        ShipGate {
            state: Mutex::new(GateState {
                open: false,
                epoch: 0,
                generation: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// A gate open at `epoch`; refused as [`ShipGate::open`] refuses.
    pub fn opened(epoch: u64) -> Result<Self> {
        let gate = ShipGate::closed();
        gate.open(epoch)?;
        Ok(gate)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A poisoned lock only means a panic elsewhere; the state stays valid.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the shippers send, under `epoch`. Refused
    /// ([`AlertsError::GateEpoch`], the gate unchanged) for an epoch below
    /// the one the gate already has, or above `i64::MAX`. Opening an open
    /// gate at the same epoch changes nothing.
    pub fn open(&self, epoch: u64) -> Result<()> {
        let mut state = self.lock();
        let refuse = |reason: String| AlertsError::GateEpoch {
            offered: epoch,
            reason,
        };
        if epoch < state.epoch {
            return Err(refuse(format!(
                "the gate has been open at epoch {}; epochs never go back (a successor \
                 holds the later lease)",
                state.epoch
            )));
        }
        if epoch > MAX_EPOCH {
            return Err(refuse(format!(
                "epochs stop at {MAX_EPOCH} (the AMQP header is a signed long-long)"
            )));
        }
        if state.open && state.epoch == epoch {
            return Ok(());
        }
        state.open = true;
        state.epoch = epoch;
        state.generation = state.generation.wrapping_add(1);
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// Stops the shippers from beginning sends (a send already under way
    /// completes or times out). Returns whether the gate was open. The epoch
    /// stays, for [`ShipGate::epoch`] and the next [`ShipGate::open`].
    pub fn close(&self) -> bool {
        let mut state = self.lock();
        let was_open = state.open;
        if was_open {
            state.open = false;
            state.generation = state.generation.wrapping_add(1);
        }
        drop(state);
        self.changed.notify_all();
        was_open
    }

    pub fn is_open(&self) -> bool {
        self.lock().open
    }

    /// The current epoch (the last one the gate was opened at; 0 if never).
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Waits until the gate is open or `timeout` has passed; returns the
    /// epoch if it is open.
    pub fn wait_open(&self, timeout: Duration) -> Option<u64> {
        self.wait_pass(timeout, || false).map(|p| p.epoch)
    }

    /// Leave to send now, if the gate is open.
    pub(crate) fn pass(&self) -> Option<Pass> {
        let state = self.lock();
        state.open.then_some(Pass {
            epoch: state.epoch,
            generation: state.generation,
        })
    }

    /// Whether `pass` is still good: the gate has not changed since it was
    /// given (not closed, even briefly, nor moved to another epoch).
    pub(crate) fn holds(&self, pass: Pass) -> bool {
        let state = self.lock();
        state.open && state.generation == pass.generation
    }

    /// Waits until the gate is open (its pass), `timeout` has passed or
    /// `cancelled` says so (checked under the gate's lock, so a waker that
    /// sets what it reads and then calls [`ShipGate::wake`] is never
    /// missed).
    pub(crate) fn wait_pass(
        &self,
        timeout: Duration,
        cancelled: impl Fn() -> bool,
    ) -> Option<Pass> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.open {
                return Some(Pass {
                    epoch: state.epoch,
                    generation: state.generation,
                });
            }
            let now = Instant::now();
            if now >= deadline || cancelled() {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes every waiter to re-check what it waits for (a shipper's stop
    /// or finish request).
    pub(crate) fn wake(&self) {
        // Taking the lock orders this wake-up after a waiter's check.
        let _state = self.lock();
        self.changed.notify_all();
    }
}

impl Default for ShipGate {
    fn default() -> Self {
        ShipGate::closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn opens_closes_and_never_goes_back() {
        let gate = ShipGate::closed();
        assert_eq!((gate.is_open(), gate.epoch()), (false, 0));
        assert!(gate.pass().is_none());
        gate.open(3).expect("open");
        let pass = gate.pass().expect("open");
        assert_eq!((pass.epoch, gate.holds(pass)), (3, true));
        gate.open(3).expect("same epoch again");
        assert!(
            gate.holds(pass),
            "reopening at the same epoch changes nothing"
        );
        assert!(gate.close());
        assert!(!gate.close(), "already closed");
        assert!(!gate.holds(pass));
        assert_eq!(gate.epoch(), 3, "the epoch outlives a close");
        let err = gate.open(2).expect_err("lower epoch");
        assert!(
            matches!(err, AlertsError::GateEpoch { offered: 2, .. }),
            "{err}"
        );
        assert!(!gate.is_open(), "a refused open leaves it closed");
        gate.open(3).expect("the same epoch after a close");
        assert!(!gate.holds(pass), "a pass from before the close is void");
        let again = gate.pass().expect("open");
        gate.open(4).expect("a new epoch");
        assert!(!gate.holds(again), "a pass of an older epoch is void");
        assert!(gate.open(u64::MAX).is_err());
        assert!(ShipGate::opened(MAX_EPOCH).is_ok());
    }

    #[test]
    fn a_waiter_wakes_when_the_gate_opens() {
        let gate = Arc::new(ShipGate::closed());
        assert_eq!(gate.wait_open(Duration::from_millis(5)), None);
        let g = Arc::clone(&gate);
        let waiter = std::thread::spawn(move || g.wait_open(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        gate.open(9).expect("open");
        assert_eq!(waiter.join().expect("join"), Some(9));
    }

    #[test]
    fn a_waiter_wakes_when_cancelled() {
        let gate = Arc::new(ShipGate::closed());
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (Arc::clone(&gate), Arc::clone(&stop));
        let started = Instant::now();
        let waiter = std::thread::spawn(move || {
            g.wait_pass(Duration::from_secs(30), || s.load(Ordering::Relaxed))
        });
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Ordering::Relaxed);
        gate.wake();
        assert_eq!(waiter.join().expect("join"), None);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
