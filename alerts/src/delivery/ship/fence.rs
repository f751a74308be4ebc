//! A shipper's view of its [`ShipGate`]: takes a pass before a send, shows
//! the shipper fenced in its [`SinkStats`] while the gate is closed (one
//! warning per closing, not per record), and sleeps until the gate opens
//! or the shipper's handle asks for something.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::delivery::ship::control::Control;
use crate::delivery::ship::gate::{Pass, ShipGate};
use crate::delivery::ship::stats::SinkStats;

/// The longest a fenced shipper sleeps before it looks at the gate again
/// anyway. The gate and the handle both wake it; this only bounds a missed
/// wake-up, so it costs nothing to keep it long.
const RECHECK: Duration = Duration::from_secs(1);

pub(crate) struct Fence {
    /// `None`: no gate, always open at epoch 0.
    gate: Option<Arc<ShipGate>>,
    stats: Arc<SinkStats>,
    /// When the shipper found the gate closed, while it is.
    since: Option<Instant>,
}

impl Fence {
    pub(crate) fn new(gate: Option<Arc<ShipGate>>, stats: Arc<SinkStats>) -> Self {
        Fence {
            gate,
            stats,
            since: None,
        }
    }

    /// Leave to send, if the gate is open now; otherwise the shipper is
    /// fenced (the stats say so, and the first look after a closing logs
    /// it).
    pub(crate) fn look(&mut self) -> Option<Pass> {
        let Some(gate) = &self.gate else {
            return Some(Pass::UNGATED);
        };
        let pass = gate.pass();
        match (pass, self.since) {
            (Some(pass), Some(since)) => {
                self.since = None;
                self.stats.fenced.store(false, Ordering::Relaxed);
                tracing::info!(
                    sink = %self.stats.name,
                    epoch = pass.epoch,
                    fenced_ms = since.elapsed().as_millis() as u64,
                    "sink unfenced: its ship gate is open again; shipping under epoch {}",
                    pass.epoch,
                );
            }
            (None, None) => {
                self.since = Some(Instant::now());
                self.stats.fenced.store(true, Ordering::Relaxed);
                tracing::warn!(
                    sink = %self.stats.name,
                    epoch = gate.epoch(),
                    cursor = self.stats.cursor.load(Ordering::Relaxed),
                    "sink fenced: its ship gate is closed (this node may no longer hold \
                     the lease); no send begins until it opens",
                );
            }
            _ => {}
        }
        pass
    }

    /// Whether `pass` still holds: the gate has not closed (even briefly)
    /// nor changed epoch since it was given.
    pub(crate) fn holds(&self, pass: Pass) -> bool {
        self.gate.as_ref().is_none_or(|gate| gate.holds(pass))
    }

    /// Sleeps while the gate is closed: until it opens, `control` gets a
    /// new request (a stop, a finish), a finish deadline passes, or
    /// [`RECHECK`]. The caller looks again.
    pub(crate) fn wait(&self, control: &Control) {
        let Some(gate) = &self.gate else {
            return;
        };
        let seen = control.command();
        let timeout = match seen.finish {
            Some((_, deadline)) => RECHECK.min(deadline.saturating_duration_since(Instant::now())),
            None => RECHECK,
        };
        let _open = gate.wait_pass(timeout, || control.command() != seen);
    }
}
