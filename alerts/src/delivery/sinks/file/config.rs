//! `kind = "file"`: its settings and the modes it honours.

use std::path::PathBuf;

use serde::Deserialize;

use crate::delivery::mode::DeliveryMode;

pub(crate) const KIND: &str = "file";
/// Only exactly-once: the sink reads back what it holds.
pub(crate) const MODES: &[DeliveryMode] = &[DeliveryMode::ExactlyOnce];
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::ExactlyOnce;

/// `kind = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// The JSON Lines file (created if missing).
    pub path: PathBuf,
    /// `fdatasync` after each batch. Off, a power loss can lose the last
    /// batches although the cursor says delivered (the file sink's recovery
    /// then reports less than the cursor, which is logged).
    #[serde(default = "yes")]
    pub fsync: bool,
}

fn yes() -> bool {
    true
}
