//! Delivery: shipping the journal to sinks (SPEC §4).
//!
//! One **shipper** per configured sink reads the journal from its own
//! persisted cursor (`<journal dir>/cursors/<name>.cursor`), never past the
//! engine's durable head, and hands records to its [`Sink`] in seq order. A
//! slow or dead sink only grows its own lag: the journal on disk is the
//! buffer, so neither ingest nor the other sinks wait for it.
//!
//! Before every send the shipper records the seq range in flight (fsync);
//! after the sink confirms it records the range delivered. A crash between the
//! two leaves an *in-doubt* range, reported at the next start and handled per
//! the sink's [`DeliveryMode`].
//!
//! Files: `config` (a `[sinks.<name>]` table → [`SinkConfig`]), `shipper`
//! (spawn, handle, stats), `ship_loop` (the loop), `plan` (its pure start
//! decisions), `cursor` (the two-slot cursor file and its sidecar), `record`
//! (record → [`Outgoing`], dead-letter lines), `status` (read-only views for
//! the CLI), and one file per sink kind: `file_sink`, `stdout_sink`,
//! `command_sink`.

mod command_sink;
mod config;
mod cursor;
mod durable;
mod file_sink;
mod plan;
mod record;
mod ship_loop;
mod shipper;
mod status;
mod stdout_sink;

pub use command_sink::CommandSinkConfig;
pub use config::{SinkConfig, SinkSettings};
pub use durable::DurableHead;
pub use file_sink::FileSinkConfig;
pub use plan::{InDoubt, InDoubtAction};
pub use shipper::{
    ShipperExit, ShipperHandle, ShipperReport, ShipperSpec, SinkStats, spawn_shipper,
};
pub use status::{CursorInfo, journal_last_seq, read_cursors};
pub use stdout_sink::StdoutSinkConfig;

mod amqp_publish;
pub mod amqp_sink;
pub mod http_sink;
pub mod secret;
pub mod smtp_sink;
pub(crate) mod template;
#[cfg(test)]
mod test_records;

/// How a sink treats the one send a crash can interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryMode {
    /// Resend the in-doubt range; the sink deduplicates on `alert_id` (file by
    /// reading its own tail, AMQP by `message_id`, HTTP by `Idempotency-Key`).
    ExactlyOnce,
    /// Resend the in-doubt range: a duplicate is possible, a loss is not.
    AtLeastOnce,
    /// Skip the in-doubt range: a loss is possible, a duplicate is not.
    AtMostOnce,
}

impl DeliveryMode {
    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::ExactlyOnce => "exactly-once",
            DeliveryMode::AtLeastOnce => "at-least-once",
            DeliveryMode::AtMostOnce => "at-most-once",
        }
    }
}

/// One journal record on its way to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The journal seq.
    pub seq: u64,
    /// The idempotency key (SPEC §3 `alert_id`).
    pub alert_id: String,
    /// The SPEC §3 record as one JSON object with `seq` first, exactly the
    /// line `aldebaran journal dump` prints, without the newline.
    pub json: Vec<u8>,
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// May succeed later (timeout, refused connection, HTTP 5xx, broker
    /// nack): the shipper backs off and retries the same record.
    Transient(String),
    /// Will never succeed as it is (HTTP 4xx, a command's permanent failure):
    /// the record goes to the sink's dead-letter output with this reason and
    /// the shipper moves on.
    Permanent(String),
}

/// A send that stopped part-way: the first `delivered` records of the batch
/// went through, the next one failed with `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// Records at the head of the batch that were delivered.
    pub delivered: usize,
    /// What happened to the record after them.
    pub error: SendError,
}

/// A destination for alerts. Implementations block; each runs on its
/// shipper's own thread.
pub trait Sink: Send {
    /// Called once before the first send. A sink that can read back what it
    /// already holds (the file sink reads its own tail) returns the highest
    /// seq present; the shipper then resumes after it even if its cursor is
    /// behind. Others return `Ok(None)`.
    fn recover(&mut self) -> Result<Option<u64>, SendError> {
        Ok(None)
    }

    /// The most records one [`Sink::send`] takes.
    fn max_batch(&self) -> usize {
        1
    }

    /// Delivers `batch` (in seq order, never empty) durably before
    /// returning `Ok`.
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), SendFailure>;
}
