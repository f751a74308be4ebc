//! SIGTERM and SIGINT for `run`: the first stops the source (the pipeline
//! then finishes the batch in flight, makes the journal durable,
//! acknowledges and returns); a second one exits at once.
//!
//! The handlers are installed first thing, before the checkpoint is
//! restored and the broker connected: a signal that comes while the service
//! is still starting (a large snapshot, a slow broker) is remembered and
//! stops each part as it is registered, instead of killing the process with
//! the default action — systemd's stop during a start exits 0 like any stop.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use crate::{PipelineError, Result, metrics::Health};

/// What the first signal stops, registered as the service starts.
#[derive(Default)]
struct Stops {
    /// The first signal came.
    requested: bool,
    flags: Vec<Arc<AtomicBool>>,
    health: Option<Arc<Health>>,
}

/// The signal handlers of one `run`.
pub(crate) struct Shutdown {
    stops: Arc<Mutex<Stops>>,
    handle: signal_hook::iterator::Handle,
}

impl Shutdown {
    /// Installs the handlers and starts the signal thread.
    pub(crate) fn install() -> Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
            .map_err(|e| PipelineError::Internal(format!("cannot install signal handlers: {e}")))?;
        let handle = signals.handle();
        let stops = Arc::new(Mutex::new(Stops::default()));
        let shared = Arc::clone(&stops);
        std::thread::Builder::new()
            .name("aldebaran-signals".into())
            .spawn(move || {
                let mut count = 0;
                for sig in signals.forever() {
                    count += 1;
                    if count == 1 {
                        tracing::info!(
                            signal = sig,
                            "shutting down: finishing the batch in flight"
                        );
                        request(&shared);
                    } else {
                        tracing::warn!(signal = sig, "second signal: exiting now");
                        std::process::exit(130);
                    }
                }
            })
            .map_err(|e| PipelineError::Internal(format!("cannot start the signal thread: {e}")))?;
        Ok(Shutdown { stops, handle })
    }

    /// `flag` is set by the first signal, or now if it came already.
    pub(crate) fn stops(&self, flag: Arc<AtomicBool>) {
        self.lock().register(flag);
    }

    /// `health` turns ready now, unless the first signal came, and not
    /// ready on it.
    pub(crate) fn ready(&self, health: &Arc<Health>) {
        let mut s = self.lock();
        health.set_ready(!s.requested);
        s.health = Some(Arc::clone(health));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stops> {
        self.stops.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the signal thread (the handlers stay: a late signal is ignored).
    pub(crate) fn close(&self) {
        self.handle.close();
    }
}

impl Stops {
    fn register(&mut self, flag: Arc<AtomicBool>) {
        if self.requested {
            flag.store(true, Ordering::Release);
        }
        self.flags.push(flag);
    }

    /// The first signal: every registered flag set, health not ready.
    fn request(&mut self) {
        self.requested = true;
        for f in &self.flags {
            f.store(true, Ordering::Release);
        }
        if let Some(h) = &self.health {
            h.set_ready(false);
        }
    }
}

fn request(stops: &Mutex<Stops>) {
    stops
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .request();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_registered_before_and_after_the_signal_are_both_set() {
        let mut s = Stops::default();
        let early = Arc::new(AtomicBool::new(false));
        s.register(Arc::clone(&early));
        assert!(!early.load(Ordering::Acquire));
        s.request();
        assert!(early.load(Ordering::Acquire));
        let late = Arc::new(AtomicBool::new(false));
        s.register(Arc::clone(&late));
        assert!(late.load(Ordering::Acquire), "registered after the signal");
    }
}
