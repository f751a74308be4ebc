//! The public face of a shipper: [`spawn_shipper`] starts one sink's loop on
//! its own thread; [`ShipperHandle`] controls it; [`SinkStats`] are the
//! atomics the engine's metrics read; [`ShipperReport`] is what it did.
//! The loop itself is in `ship_loop`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::delivery::cursor::{CursorFile, write_sidecar};
use crate::delivery::durable::DurableHead;
use crate::delivery::plan::InDoubt;
use crate::delivery::ship_loop::Shipper;
use crate::delivery::{DeliveryMode, Sink};
use crate::error::{AlertsError, Result};

/// Everything a shipper needs besides its sink.
#[derive(Debug, Clone)]
pub struct ShipperSpec {
    /// The sink's name: file names under `cursors/` and the metric label.
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    pub journal_dir: PathBuf,
    /// The highest seq the engine has made durable. The shipper never reads
    /// past it: a reader can see records the writer has not synced yet, and
    /// shipping one that a crash then truncates would deliver a phantom.
    pub durable: Arc<DurableHead>,
    /// Back-off after a transient failure starts at `retry_min` and doubles up
    /// to `retry_max`; retried forever (a down endpoint only grows lag).
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// JSON Lines file for records the sink rejects permanently.
    pub dead_letter: PathBuf,
    /// Sleep between polls of the journal when caught up.
    pub poll_interval: Duration,
}

/// Live counters of one sink, shared with the engine's metrics.
#[derive(Debug)]
pub struct SinkStats {
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    /// Records the sink confirmed, this run.
    pub delivered: AtomicU64,
    /// Transient failures (each followed by a back-off and a retry).
    pub retried: AtomicU64,
    /// Records dead-lettered after a permanent failure.
    pub failed: AtomicU64,
    /// Records found in doubt at start (a crash during their send).
    pub in_doubt: AtomicU64,
    /// The cursor: every seq up to it is delivered, dead-lettered or skipped.
    pub cursor: AtomicU64,
    /// The shipper's thread is running (false once it stopped, failed or
    /// panicked).
    pub running: AtomicBool,
}

impl SinkStats {
    fn new(spec: &ShipperSpec) -> Self {
        Self::named(&spec.name, &spec.kind, spec.mode)
    }

    /// Zeroed counters of a sink (a shipper makes its own; this is for
    /// readers of the counters to test against).
    pub fn named(name: &str, kind: &str, mode: DeliveryMode) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            mode,
            delivered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            in_doubt: AtomicU64::new(0),
            cursor: AtomicU64::new(0),
            running: AtomicBool::new(false),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Why a shipper stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShipperExit {
    /// [`ShipperHandle::finish`]: everything up to the target was delivered.
    Finished,
    /// [`ShipperHandle::stop`].
    Stopped,
    /// [`ShipperHandle::finish`]'s deadline passed with `behind` records
    /// still undelivered (they stay in the journal for the next run).
    Deadline { behind: u64 },
}

/// What a shipper did, returned by [`ShipperHandle::join`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipperReport {
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    /// The cursor at exit.
    pub cursor: u64,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    /// The range a crash left in doubt, found at start (also logged then).
    pub in_doubt: Option<InDoubt>,
    pub exit: ShipperExit,
}

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

    fn update(&self, f: impl FnOnce(&mut Command)) {
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
        self.0.running.store(false, Ordering::Relaxed);
    }
}

/// Opens (and locks) the sink's cursor, writes its sidecar, and starts its
/// loop on a thread named `ship-<name>`. Errs at once on a corrupt or locked
/// cursor; everything the sink itself may fail on later is retried there.
pub fn spawn_shipper(spec: ShipperSpec, sink: Box<dyn Sink>) -> Result<ShipperHandle> {
    let cursor = CursorFile::open(&spec.journal_dir, &spec.name)?;
    write_sidecar(&spec.journal_dir, &spec.name, &spec.kind, spec.mode)?;
    let stats = Arc::new(SinkStats::new(&spec));
    stats
        .cursor
        .store(cursor.state().delivered, Ordering::Relaxed);
    let control = Arc::new(Control::default());
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
