//! **Columnar**: the shared types at the bottom of the Aldebaran pipeline.
//!
//! Every stage speaks these types and nothing here does I/O or spawns threads:
//!
//! - **Events in**: [`TradeEventRef`] is one parsed, valid event (SPEC §1) borrowed
//!   from the input line; [`RejectReason`] names why a line was refused.
//! - **Micro-batches**: [`TradeBatchBuilder`] appends events into Arrow column
//!   builders and cuts an immutable [`TradeBatch`] (Arrow arrays plus the batch's
//!   dead letters). Builders are reused, so appending allocates nothing per event
//!   once the buffers have grown to the batch size.
//! - **Keys**: [`Key128`] and the hash functions in [`keys`] turn order ids and
//!   purchase ids into fixed-width keys once, at ingest, so partitioning and state
//!   lookups never touch strings on the hot path.
//!
//! Invariants: rows of a batch are in input order; `pos` is strictly increasing
//! within a source; `ingest_ns` is wall-clock nanoseconds since the Unix epoch.

mod batch;
mod builder;
mod dead_letter;
mod error;
mod event;
pub mod keys;
mod reject;
pub mod schema;

pub use batch::{SourceMark, TradeBatch};
pub use builder::TradeBatchBuilder;
pub use dead_letter::{DeadLetter, DeadLetters};
pub use error::{ColumnarError, Result};
pub use event::{EventKind, TradeEventRef};
pub use keys::Key128;
pub use reject::{Field, RejectReason};
