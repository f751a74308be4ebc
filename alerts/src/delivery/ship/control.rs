//! [`Control`]: stop/finish requests from a shipper's handle to its loop.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::delivery::ship::gate::ShipGate;

/// Stop/finish requests from the handle to the loop; the condvar cuts the
/// loop's sleeps (poll, back-off) short, and a request also wakes the loop
/// where it waits for its ship gate to open.
#[derive(Default)]
pub(crate) struct Control {
    state: Mutex<Command>,
    wake: Condvar,
    gate: Option<Arc<ShipGate>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Command {
    pub stop: bool,
    /// Deliver up to `target`, then exit; give up at `deadline`.
    pub finish: Option<(u64, Instant)>,
}

impl Control {
    /// The control of a shipper behind `gate`, if it has one.
    pub(crate) fn new(gate: Option<Arc<ShipGate>>) -> Self {
        Control {
            gate,
            ..Control::default()
        }
    }

    pub(crate) fn command(&self) -> Command {
        // A poisoned lock only means a panic elsewhere; the flags stay valid.
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Command)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.wake.notify_all();
        // After the state lock is released: the gate's waiter reads the
        // command under the gate's lock (see `ShipGate::wait_pass`).
        if let Some(gate) = &self.gate {
            gate.wake();
        }
    }

    /// Sleeps up to `d` (never past a finish deadline), returning early when
    /// a stop or finish is requested.
    pub(crate) fn sleep(&self, d: Duration) {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.stop {
            return;
        }
        let d = match guard.finish {
            Some((_, deadline)) => d.min(deadline.saturating_duration_since(Instant::now())),
            None => d,
        };
        let _unused = self
            .wake
            .wait_timeout(guard, d)
            .unwrap_or_else(PoisonError::into_inner);
    }
}
