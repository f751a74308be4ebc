//! SIGTERM and SIGINT for `run`: the first stops the source (the pipeline
//! then finishes the batch in flight, makes the journal durable,
//! acknowledges and returns); a second one exits at once.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use crate::{PipelineError, Result, metrics::Health};

/// Starts the signal thread; each flag in `stops` is set by the first signal.
pub(crate) fn shutdown_on_signals(
    stops: Vec<Arc<AtomicBool>>,
    health: Arc<Health>,
) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| PipelineError::Internal(format!("cannot install signal handlers: {e}")))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("aldebaran-signals".into())
        .spawn(move || {
            let mut count = 0;
            for sig in signals.forever() {
                count += 1;
                if count == 1 {
                    tracing::info!(signal = sig, "shutting down: finishing the batch in flight");
                    health.set_ready(false);
                    for s in &stops {
                        s.store(true, Ordering::Relaxed);
                    }
                } else {
                    tracing::warn!(signal = sig, "second signal: exiting now");
                    std::process::exit(130);
                }
            }
        })
        .map_err(|e| PipelineError::Internal(format!("cannot start the signal thread: {e}")))?;
    Ok(handle)
}
