//! **Alerts**: the alerts journal stage of the Aldebaran pipeline. The engine
//! appends alert records, sinks read them; durable, sequence-numbered,
//! CRC-framed (SPEC §3).
//!
//! - **Input**: opaque payloads (the engine's alert records, one JSON object each,
//!   without `seq`) passed to [`Journal::append`], which assigns the seq.
//! - **Output**: `(seq, payload)` pairs from [`JournalReader`], for sink shippers
//!   that keep their own cursor; [`dump`] prints JSON Lines; [`verify`] checks.
//! - **On disk**: a directory of segment files named by their first seq
//!   (`00000000000000000001.seg`), each an 8-byte header then frames
//!   `len:u32le crc:u32le seq:u64le payload` with the CRC over seq + payload.
//! - **Recovery**: [`Journal::open`] scans every segment and hands the facts to a
//!   pure decision (`recovery::decide`): a torn tail of the last segment is
//!   truncated and reported in [`OpenReport`]; damage anywhere else, or a seq gap,
//!   is [`AlertsError::Corrupt`] naming the segment and byte offset.
//! - **Durability**: `append` only buffers; [`Journal::sync`] writes and
//!   `fdatasync`s (group commit: many appends, one sync). Rolling to a new
//!   segment syncs the old one first and fsyncs the directory after creating the
//!   new one, so only the last segment can ever be torn.
//!
//! - **Delivery** ([`delivery`], SPEC §4): one shipper thread per configured
//!   sink ([`SinkConfig`] → [`spawn_shipper`]) reads the journal from the
//!   sink's own persisted cursor (`DIR/cursors/<name>.cursor`), never past the
//!   engine's durable head, marks each send in flight before it and delivered
//!   after it, retries transient failures forever with back-off, dead-letters
//!   permanent ones, and reports a send a crash left in doubt. Sinks: `file`
//!   (exactly-once, reads its own tail), `stdout`, `command`.
//!
//! **Threads**: used by one writer thread (one [`Journal`] per directory, held by
//! an OS lock on `DIR/LOCK`; `Journal` is `Send`), any number of readers, in any
//! process, concurrently with the writer. The journal itself spawns no threads;
//! [`spawn_shipper`] starts one per sink (named `ship-<name>`), and the
//! `command` sink two short-lived helpers per run of its program.
//!
//! **Invariants**: seqs are gapless from 1 across segments; a segment's name is
//! its first record's seq; readers, `verify` and `dump` never modify files.

pub mod delivery;
mod dump;
mod error;
mod frame;
mod reader;
mod recovery;
mod segment;
mod verify;
mod writer;

pub use delivery::{
    CursorInfo, DeliveryMode, DurableHead, InDoubt, InDoubtAction, ShipperExit, ShipperHandle,
    ShipperReport, ShipperSpec, SinkConfig, SinkStats, journal_last_seq, read_cursors,
    spawn_shipper,
};
pub use dump::dump;
pub use error::{AlertsError, Result};
pub use reader::JournalReader;
pub use recovery::TruncatedTail;
pub use verify::{VerifyReport, verify};
pub use writer::{Journal, JournalOptions, OpenReport};
