//! [`ShipperSpec`]: everything a shipper needs besides its sink.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::durable::DurableHead;
use crate::delivery::ship::gate::ShipGate;
use crate::delivery::ship::mirror::CursorMirror;
use crate::delivery::ship::start::StartFrom;

/// Everything a shipper needs besides its sink.
#[derive(Clone)]
pub struct ShipperSpec {
    /// The sink's name: file names under `cursors/` and the metric label.
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    /// Where the sink starts the first time it ships from this journal.
    pub start: StartFrom,
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
    /// Fencing (an active-standby pair, SPEC §6): no send begins while this
    /// gate is closed, and each send carries its epoch. `None` (a single
    /// node): always open, epoch 0.
    pub gate: Option<Arc<ShipGate>>,
    /// Told of every durable write under `cursors/`, the in-flight mark
    /// before its send (an active-standby pair's standby). `None`: nobody.
    pub mirror: Option<Arc<dyn CursorMirror>>,
}

impl std::fmt::Debug for ShipperSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShipperSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("mode", &self.mode)
            .field("start", &self.start)
            .field("journal_dir", &self.journal_dir)
            .field("durable", &self.durable)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .field("dead_letter", &self.dead_letter)
            .field("poll_interval", &self.poll_interval)
            .field("gate", &self.gate)
            .field("mirror", &self.mirror.as_ref().map(|_| "set"))
            .finish()
    }
}
