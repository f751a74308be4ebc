//! [`Wake`]: a generation counter to sleep on — the journal thread bumps it
//! when it has handed new records and frames to the OS, the shippers'
//! cursor mirror when a cursor file waits to be sent; the replicator sleeps
//! on it between heartbeats instead of polling the logs.

use std::{
    sync::{Condvar, Mutex},
    time::Duration,
};

/// Something new to send.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wake {
    /// Wakes every sleeper (once per group commit, not per event).
    pub(crate) fn poke(&self) {
        if let Ok(mut g) = self.generation.lock() {
            *g += 1;
            self.changed.notify_all();
        }
    }

    /// The current generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.lock().map_or(0, |g| *g)
    }

    /// Sleeps until the generation passes `seen` or `timeout` is over;
    /// returns the generation.
    pub(crate) fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let Ok(g) = self.generation.lock() else {
            return seen;
        };
        match self.changed.wait_timeout_while(g, timeout, |g| *g <= seen) {
            Ok((g, _)) => *g,
            Err(_) => seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{sync::Arc, time::Instant};

    #[test]
    fn a_poke_wakes_a_sleeper_and_silence_times_out() {
        let w = Arc::new(Wake::default());
        let seen = w.generation();
        let t = Instant::now();
        assert_eq!(w.wait_past(seen, Duration::from_millis(30)), seen);
        assert!(t.elapsed() >= Duration::from_millis(30));
        let w2 = Arc::clone(&w);
        let h = std::thread::spawn(move || w2.wait_past(seen, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        w.poke();
        assert!(h.join().expect("sleeper") > seen);
    }
}
