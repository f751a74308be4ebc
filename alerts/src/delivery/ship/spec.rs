//! [`ShipperSpec`]: everything a shipper needs besides its sink.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::durable::DurableHead;
use crate::delivery::ship::start::StartFrom;

/// Everything a shipper needs besides its sink.
#[derive(Debug, Clone)]
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
}
