//! The sink kinds, one folder each: `mod.rs` (what the kind does, its
//! exports), `config.rs` (its `[sinks.<name>]` settings, defaults and
//! delivery modes), `sink.rs` (its [`Sink`](crate::delivery::Sink)), and
//! `tests.rs`. Only `delivery::config` knows them all.
//!
//! `http`, `smtp` and `amqp` are behind the cargo features of the same names
//! (their client libraries are the crate's heaviest dependencies).

#[cfg(feature = "amqp")]
pub(crate) mod amqp;
pub(crate) mod command;
pub(crate) mod file;
#[cfg(feature = "http")]
pub(crate) mod http;
#[cfg(feature = "smtp")]
pub(crate) mod smtp;
pub(crate) mod stdout;
