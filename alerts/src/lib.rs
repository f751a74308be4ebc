//! **Alerts**: the alerts stage of the Aldebaran pipeline, after the engine.
//! The engine appends alert records to a durable, sequence-numbered,
//! CRC-framed journal (SPEC §3); shippers deliver them from it to the
//! configured sinks, each alert to each sink once (SPEC §4).
//!
//! - **Input**: opaque payloads (the engine's alert records, one JSON object each,
//!   without `seq`) passed to [`Journal::append`], which assigns the seq.
//! - **Output**: `(seq, payload)` pairs from [`JournalReader`], for sink shippers
//!   that keep their own cursor; [`dump()`] prints JSON Lines; [`verify()`] checks.
//! - **On disk**: a directory of segment files named by their first seq
//!   (`00000000000000000001.seg`), each an 8-byte header then frames
//!   `len:u32le crc:u32le seq:u64le payload` with the CRC over seq + payload.
//! - **Versions**: segments, cursors, the sink registry, sidecars and the
//!   `OLDEST` marker each carry a format version (`formats`: the versions
//!   read and written); a file of another version is refused, permanently,
//!   in one line naming it ([`AlertsError::UnknownVersion`]), and the
//!   unversioned files of earlier releases are read as version 1.
//! - **Recovery**: [`Journal::open`] scans every segment and hands the facts to a
//!   pure decision (`recovery::decide`): a torn tail of the last segment is
//!   truncated and reported in [`OpenReport`]; damage anywhere else, or a seq gap,
//!   is [`AlertsError::Corrupt`] naming the segment and byte offset.
//! - **Durability**: `append` only buffers; [`Journal::sync`] writes and
//!   `fdatasync`s (group commit: many appends, one sync). Rolling to a new
//!   segment syncs the old one first and fsyncs the directory after creating the
//!   new one, so only the last segment can ever be torn. Records are written
//!   into zeros preallocated ahead of them, so a sync does not grow the file
//!   (no inode write per `fdatasync`); a sealed or closed segment is cut to
//!   its last record, and the zeros a crash leaves are cut on open.
//!
//! **Delivery** ([`delivery`], SPEC §4): a `[sinks.<name>]` table becomes a
//! [`SinkConfig`] ([`SinkConfig::from_toml`], which checks the sink's `{field}`
//! templates against the [`AlertFields`] of the
//! configured jobs); [`spawn_shipper`] then starts one shipper per sink, which
//! reads the journal from the sink's own persisted cursor
//! (`DIR/cursors/<name>.cursor`), never past the engine's [`DurableHead`],
//! marks each send in flight before it and delivered after it, retries
//! transient failures forever with back-off, dead-letters the records a sink
//! refuses one by one, pauses (without dead-lettering) while the endpoint
//! refuses every record (a wrong URL or credentials), and reports a send a
//! crash left in doubt ([`ShipperHandle`], [`SinkStats`],
//! [`ShipperReport`]; [`read_cursors`] and [`journal_last_seq`] for
//! `aldebaran journal cursors`). For an active-standby pair (SPEC §6) a
//! [`ShipGate`](delivery::ShipGate) fences the shippers (no send begins
//! while it is closed) and gives every send its epoch, and a
//! [`CursorMirror`](delivery::CursorMirror) copies each cursor write, the
//! in-flight mark before its send, to the standby, which writes it with
//! [`install_cursor_file`](delivery::install_cursor_file). Six sink kinds:
//! - `file`: JSON Lines, exactly-once (reads its own tail on restart);
//! - `stdout`: one line per alert;
//! - `command`: a program per alert, the record on stdin, templates in its
//!   environment;
//! - `http`: a POST per alert with `Idempotency-Key`: the record (webhooks), a
//!   form of templates (SMS APIs) or a JSON object of templates (chat);
//! - `smtp`: an e-mail per alert, `Message-ID` from the `alert_id`;
//! - `amqp`: a persistent RabbitMQ message per alert, publisher confirms,
//!   `message_id` = `alert_id`.
//!
//! **Features**: `amqp` (lapin, tokio), `http` (ureq) and `smtp` (lettre), all
//! on by default, each building its sink kind; a config naming a kind built
//! without its feature is a one-line config error. Without them the crate
//! needs no network client at all.
//!
//! **Retention**: whole segments before the oldest seq kept are removed
//! (deleted, or moved to an archive directory), never the newest, with the
//! oldest seq recorded first (`OLDEST`) so recovery tells retention from
//! loss. [`retain_journal`] runs one pass of the alert journal's policy
//! ([`RetentionPolicy`]: keep at least so many bytes, segments, seconds)
//! under a floor the caller gathers (what the sinks still need,
//! [`delivery::sinks_need`], and whatever else holds the journal); a reader
//! asking for a removed seq gets [`AlertsError::NotKept`], and a sink whose
//! cursor is behind [`first_kept_seq`] refuses to start
//! ([`AlertsError::CursorBehind`]).
//!
//! **Threads**: used by one writer thread (one [`Journal`] per directory, held by
//! an OS lock on `DIR/LOCK`; `Journal` is `Send`), any number of readers, in any
//! process, concurrently with the writer. The journal itself spawns no threads;
//! [`spawn_shipper`] starts one per sink (named `ship-<name>`), on which its
//! sink blocks; the `command` sink adds two short-lived helpers per run of its
//! program, the `amqp` sink runs its own current-thread tokio runtime on the
//! shipper's thread (lapin adds one I/O thread per connection).
//!
//! **Invariants**: seqs are gapless from 1 across segments; a segment's name is
//! its first record's seq; readers, `verify` and `dump` never modify files;
//! no shipper reads past the durable head.

pub mod delivery;
mod dump;
mod error;
mod formats;
mod frame;
mod lock;
mod reader;
mod recovery;
mod retention;
mod segment;
mod verify;
mod writer;

pub use delivery::{
    AlertField, AlertFields, CursorInfo, DeliveryMode, DurableHead, InDoubt, InDoubtAction,
    ShipperExit, ShipperHandle, ShipperReport, ShipperSpec, SinkConfig, SinkStats,
    journal_last_seq, read_cursors, spawn_shipper,
};
pub use dump::dump;
pub use error::{AlertsError, Result};
pub use reader::JournalReader;
pub use recovery::TruncatedTail;
pub use retention::{
    Hold, Retained, RetentionPolicy, RetentionReport, first_kept_seq, oldest_kept, retain_from,
    retain_journal,
};
pub use verify::{VerifyReport, verify};
pub use writer::{DurableClaim, Journal, JournalOptions, OpenReport};
