//! SIGTERM and SIGINT: the first sets the router's stop flag (it then
//! drains, acknowledges and closes); a second exits at once with 130, as
//! `aldebaran run` does. Installed before the first connect, so a signal
//! during a slow start stops the router rather than killing it.

use std::sync::{Arc, atomic::AtomicBool};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::{Result, RouterError};

/// Installs the handlers; returns the flag the first signal sets.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // Registered first, so it sees the flag before this signal sets it:
        // it exits only on a signal that finds the flag already set.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .map_err(RouterError::Signals)?;
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(RouterError::Signals)?;
    }
    Ok(stop)
}
