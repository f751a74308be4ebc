//! The `command` sink: runs a program per alert with the alert's dump line on
//! stdin and `ALDEBARAN_ALERT_ID` / `ALDEBARAN_SEQ` in its environment
//! (and `ALDEBARAN_EPOCH`, the fencing epoch, when the shipper has a ship
//! gate with an epoch above 0: an active-standby pair, SPEC §6), plus the
//! variables of its `env` table (templates over the alert's fields).
//!
//! Exit 0 is delivered. Exit 75 (`EX_TEMPFAIL`, the sendmail convention),
//! death by a signal, a failure to spawn and the timeout are transient
//! (retried); any other exit is permanent (dead-lettered, with the code and
//! the tail of stderr). A program cannot be asked what it already did, so the
//! modes are at-least-once (default) or at-most-once.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::CommandSinkConfig;
pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub(crate) use sink::CommandSink;
