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
//! **Threads**: used by one writer thread (one [`Journal`] per directory, held by
//! an OS lock on `DIR/LOCK`; `Journal` is `Send`), any number of readers, in any
//! process, concurrently with the writer. Nothing here spawns threads.
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

pub use dump::dump;
pub use error::{AlertsError, Result};
pub use reader::JournalReader;
pub use recovery::TruncatedTail;
pub use verify::{VerifyReport, verify};
pub use writer::{Journal, JournalOptions, OpenReport};
