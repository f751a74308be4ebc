//! **Ingest**: the first stage of the Aldebaran pipeline — bytes in, micro-batches out.
//!
//! A source — a memory-mapped file, a followed file, stdin, or a RabbitMQ queue
//! ([`amqp`]: its consumer on a lapin connection of its own, optionally
//! exclusive: the lease of an active-standby pair, with the broker's
//! liveness for fencing) — runs on its own
//! ingest thread, optionally pinned to a core. It splits its input into lines, parses
//! each per SPEC §1 ([`parse`]), hashes the order and event ids into fixed-width
//! keys, and encodes the result into a lock-free SPSC byte ring. On the other
//! side, the [`Cutter`] (on the engine thread) decodes the ring into Arrow
//! column builders and cuts a [`columnar::TradeBatch`] every `batch_events`
//! events or `batch_ms`, whichever comes first.
//!
//! Public surface: [`start_replay`] with [`Input`] and [`ReplayOptions`],
//! returning an [`IngestHandle`] and a [`Cutter`]; [`amqp::start_amqp`] the
//! same for a queue (with [`amqp::AckRequest`]s flowing back), and the AMQP
//! tools' topology declaration and publisher; the parser in [`parse`]; the
//! synthetic trade-file generator in [`synth`].
//!
//! Invariants: records leave the ring in input order; the hot path (parse,
//! encode, publish) allocates nothing per event, takes no lock and makes no
//! syscall per event (the ring is published per 32 KiB chunk, the clock read
//! every 64 events).

mod clock;
mod cutter;
mod error;
mod line_ingestor;
mod pace;
mod replay;
mod ring;
mod source;

pub mod amqp;
pub mod parse;
pub mod synth;

pub use clock::wall_ns;
pub use cutter::{Cut, CutPolicy, Cutter};
pub use error::{IngestError, Result};
pub use line_ingestor::SourceStats;
pub use replay::{IngestHandle, Input, ReplayOptions, pin_current, start_replay};
