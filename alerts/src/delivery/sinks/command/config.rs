//! `kind = "command"`: its settings and the modes it honours.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::delivery::mode::DeliveryMode;

pub(crate) const KIND: &str = "command";
/// A program cannot be asked what it already did, so no exactly-once.
pub(crate) const MODES: &[DeliveryMode] = &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce];
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::AtLeastOnce;

/// `kind = "command"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSinkConfig {
    /// Program and arguments, run directly (no shell): `["prog", "arg"]`.
    pub command: Vec<String>,
    /// The child is killed after this long and the send retried.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra environment variables of the program: name → template with
    /// `{field}` placeholders from the alert record. Set besides
    /// `ALDEBARAN_ALERT_ID` and `ALDEBARAN_SEQ`, which it cannot override.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

fn default_timeout_ms() -> u64 {
    10_000
}
