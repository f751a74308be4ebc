//! The sink kinds, one folder each: `mod.rs` (what the kind does, its
//! exports), `config.rs` (its `[sinks.<name>]` settings, defaults and
//! delivery modes), `sink.rs` (its [`Sink`](crate::delivery::Sink)), and
//! `tests.rs`. Only `delivery::config` knows them all.

pub(crate) mod amqp;
pub(crate) mod command;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod smtp;
pub(crate) mod stdout;
