//! [`Control`]: stop/finish requests from a shipper's handle to its loop.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Stop/finish requests from the handle to the loop; the condvar cuts the
/// loop's sleeps (poll, back-off) short.
#[derive(Default)]
pub(crate) struct Control {
    state: Mutex<Command>,
    wake: Condvar,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Command {
    pub stop: bool,
    /// Deliver up to `target`, then exit; give up at `deadline`.
    pub finish: Option<(u64, Instant)>,
}

impl Control {
    pub(crate) fn command(&self) -> Command {
        // A poisoned lock only means a panic elsewhere; the flags stay valid.
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Command)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.wake.notify_all();
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
