//! The `stdout` sink: writes each alert's dump line to standard output (or an
//! injected writer in tests) and flushes. It cannot read back what a reader
//! got, so it is at-least-once (default) or at-most-once.
//!
//! Its lines carry no fencing epoch (SPEC §6): they are exactly the
//! journal's records, as `journal dump` prints them.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::StdoutSinkConfig;
pub(crate) use config::{DEFAULT_MODE, KIND, MODES};
pub(crate) use sink::StdoutSink;
