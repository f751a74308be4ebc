//! The `file` sink: appends each alert as its dump line to a JSON Lines file.
//! Exactly-once by reading its own tail: `recover` cuts a torn last line and
//! reports the last complete line's `seq`, and `send` never writes a record
//! the file already holds (it re-checks the tail after any failure).
//!
//! Its lines carry no fencing epoch (SPEC §6): they are exactly the
//! journal's records, as `journal dump` prints them, which is what lets the
//! sink read its own tail and a test compare the file with the journal.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::FileSinkConfig;
pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub(crate) use sink::FileSink;
