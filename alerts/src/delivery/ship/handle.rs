//! The public face of a shipper: [`spawn_shipper`] starts one sink's loop on
//! its own thread; [`ShipperHandle`] controls it and hands back its
//! [`ShipperReport`]. The loop itself is in `ship_loop`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::delivery::ship::control::Control;
use crate::delivery::ship::durable::DurableHead;
use crate::delivery::ship::opening::open_cursor;
use crate::delivery::ship::report::ShipperReport;
use crate::delivery::ship::ship_loop::Shipper;
use crate::delivery::ship::sidecar::write_sidecar;
use crate::delivery::ship::spec::ShipperSpec;
use crate::delivery::ship::stats::SinkStats;
use crate::delivery::sink::Sink;
use crate::error::{AlertsError, Result};

/// Controls a running shipper.
pub struct ShipperHandle {
    name: String,
    stats: Arc<SinkStats>,
    control: Arc<Control>,
    durable: Arc<DurableHead>,
    thread: JoinHandle<Result<ShipperReport>>,
}

impl ShipperHandle {
    pub fn stats(&self) -> Arc<SinkStats> {
        Arc::clone(&self.stats)
    }

    /// Asks the shipper to deliver everything up to the durable head as of
    /// now, then exit; it gives up at `deadline`. Follow with [`Self::join`].
    pub fn finish(&self, deadline: Instant) {
        let target = self.durable.get();
        self.control.update(|c| c.finish = Some((target, deadline)));
    }

    /// Asks the shipper to exit at the next point between sends (or during a
    /// back-off). A send in progress completes (or times out) first.
    pub fn stop(&self) {
        self.control.update(|c| c.stop = true);
    }

    /// False once the thread has exited (done, or failed: see [`Self::join`]).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Waits for the thread. Errs if the cursor or dead-letter file could not
    /// be written (the shipper stops rather than lose track), or on a panic.
    pub fn join(self) -> Result<ShipperReport> {
        self.thread.join().unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(AlertsError::ShipperPanicked {
                sink: self.name,
                message,
            })
        })
    }
}

/// Clears [`SinkStats::running`] when the shipper's thread ends, however.
struct RunningFlag(Arc<SinkStats>);

impl Drop for RunningFlag {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.set_error("the shipper panicked (a bug)");
        }
        self.0.running.store(false, Ordering::Relaxed);
    }
}

/// Opens (and locks) the sink's cursor — a new sink's where its `start` key
/// says, registering it — writes its sidecar, and starts its loop on a
/// thread named `ship-<name>`. Errs at once on a corrupt or locked cursor,
/// and on a registered sink whose cursor is missing
/// ([`AlertsError::CursorMissing`]); everything the sink itself may fail on
/// later is retried there.
pub fn spawn_shipper(spec: ShipperSpec, sink: Box<dyn Sink>) -> Result<ShipperHandle> {
    let cursor = open_cursor(&spec)?;
    write_sidecar(&spec.journal_dir, &spec.name, &spec.kind, spec.mode)?;
    let stats = Arc::new(SinkStats::new(&spec));
    stats
        .cursor
        .store(cursor.state().delivered, Ordering::Relaxed);
    let control = Arc::new(Control::new(spec.gate.clone()));
    let name = spec.name.clone();
    let durable = Arc::clone(&spec.durable);
    let shipper = Shipper::new(spec, sink, cursor, Arc::clone(&stats), Arc::clone(&control));
    stats.running.store(true, Ordering::Relaxed);
    let running = RunningFlag(Arc::clone(&stats));
    let thread = std::thread::Builder::new()
        .name(format!("ship-{name}"))
        .spawn(move || {
            let _running = running;
            shipper.run()
        })
        .map_err(|source| AlertsError::ShipperThread {
            sink: name.clone(),
            source,
        })?;
    Ok(ShipperHandle {
        name,
        stats,
        control,
        durable,
        thread,
    })
}
