//! `kind = "stdout"`: its (empty) settings and the modes it honours.

use serde::Deserialize;

use crate::delivery::mode::DeliveryMode;

pub(crate) const KIND: &str = "stdout";
/// A reader's copy cannot be checked, so no exactly-once.
pub(crate) const MODES: &[DeliveryMode] = &[DeliveryMode::AtLeastOnce, DeliveryMode::AtMostOnce];
pub(crate) const DEFAULT_MODE: DeliveryMode = DeliveryMode::AtLeastOnce;

/// `kind = "stdout"`: no settings of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {}
