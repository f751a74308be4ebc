//! Delivery: shipping the journal to sinks (SPEC §4).
//!
//! One **shipper** per configured sink reads the journal from its own
//! persisted cursor (`<journal dir>/cursors/<name>.cursor`), never past the
//! engine's durable head, and hands records to its [`Sink`] in seq order. A
//! slow or dead sink only grows its own lag: the journal on disk is the
//! buffer, so neither ingest nor the other sinks wait for it.
//!
//! The first time a sink ships from a journal it is registered in
//! `cursors/registry` (name, kind, first seq) and starts where its `start`
//! key says (the oldest record, or the head); a registered sink whose
//! cursor file is later missing refuses to start until an operator sets it
//! ([`reset_cursor`], `aldebaran journal cursors --reset`). Retention never
//! removes what a known sink has not delivered ([`sinks_need`]); a sink
//! whose cursor is behind the oldest seq kept anyway (an old cursor
//! restored) refuses to start rather than skip.
//!
//! Before every send the shipper records the seq range in flight (fsync);
//! after the sink confirms it records the range delivered. A crash between the
//! two leaves an *in-doubt* range, reported at the next start and handled per
//! the sink's [`DeliveryMode`].
//!
//! Layout, from the leaves up:
//! - `mode` ([`DeliveryMode`], and the modes a kind allows) and `sink` (the
//!   [`Sink`] trait, [`Outgoing`], [`SendFailure`]): what the shipper and
//!   the sinks share, importing nothing from their siblings;
//! - `ship/`: the shipper machinery: the durable head, the cursor file, the
//!   pure start `plan`, journal `record` → [`Outgoing`] and dead letters,
//!   the data its handle and loop share (`spec`, `stats`, `report`,
//!   `control`), the loop, and [`spawn_shipper`] / [`ShipperHandle`];
//! - `sinks/<kind>/`: one folder per kind (`file`, `stdout`, `command`,
//!   `http`, `smtp`, `amqp`), each with its `config.rs`, `sink.rs` and tests;
//! - `fields` ([`AlertFields`]: the record fields of the configured jobs, the
//!   names a template may use), `template` (`{field}` templates, checked
//!   against them when a sink is built) and `secret` (passwords, also from
//!   the environment): what the kinds that format text share;
//! - `config`: a `[sinks.<name>]` table → [`SinkConfig`], the one place that
//!   knows every kind, and which refuses a kind built without its cargo
//!   feature (`http`, `smtp`, `amqp`);
//! - `status`: read-only views of the cursors for `aldebaran journal
//!   cursors`; `reset`: setting one on purpose (`--reset`); `floor`: the
//!   lowest seq the sinks still need, for retention ([`sinks_need`]);
//! - `standby`: the receiving end of cursor mirroring in an active-standby
//!   pair ([`cursor_files`], [`install_cursor_file`]).
//!
//! **Active-standby pairs** (SPEC §6) use three hooks, all off by default
//! (a single node): a [`ShipGate`] in [`ShipperSpec::gate`] fences the
//! shippers (no send begins while it is closed) and gives every send its
//! epoch ([`Outgoing::epoch`], carried by the sinks as a header or
//! variable); a [`CursorMirror`] in [`ShipperSpec::mirror`] is handed every
//! cursor write, the in-flight mark before its send, for the standby to
//! [`install_cursor_file`].

mod config;
mod fields;
mod floor;
mod mode;
mod reset;
#[cfg(any(feature = "http", feature = "smtp"))]
mod secret;
mod ship;
mod sink;
mod sinks;
mod standby;
mod status;
mod template;
#[cfg(test)]
mod test_fixtures;

pub use config::{SinkConfig, SinkSettings};
pub use fields::{AlertField, AlertFields, COMMON_FIELDS};
pub use floor::{SinksNeed, sinks_need};
pub use mode::DeliveryMode;
pub use reset::{CursorBefore, CursorReset, ResetTo, reset_cursor};
#[cfg(any(feature = "http", feature = "smtp"))]
pub use secret::Secret;
pub use ship::{
    CursorMirror, DurableHead, InDoubt, InDoubtAction, InDoubtCause, ShipGate, ShipperExit,
    ShipperHandle, ShipperReport, ShipperSpec, SinkStats, StartFrom, spawn_shipper,
};
pub use sink::{Outgoing, SendError, SendFailure, Sink};
#[cfg(feature = "amqp")]
pub use sinks::amqp::AmqpSinkConfig;
pub use sinks::command::CommandSinkConfig;
pub use sinks::file::FileSinkConfig;
#[cfg(feature = "http")]
pub use sinks::http::{HttpFormat, HttpSinkConfig};
#[cfg(feature = "smtp")]
pub use sinks::smtp::{SmtpSinkConfig, SmtpTls};
pub use sinks::stdout::StdoutSinkConfig;
pub use standby::{Install, cursor_files, cursor_reach, install_cursor_file, sync_cursor_files};
pub use status::{CursorInfo, RegisteredSink, journal_last_seq, read_cursors, registered_sinks};
