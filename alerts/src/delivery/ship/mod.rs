//! Shipping: one thread per sink moving journal records to it, from its own
//! persisted cursor, never past the durable head (SPEC §4).
//!
//! Files, from the leaves up: `durable` (the durable head the journal
//! thread publishes and caught-up shippers sleep on), `atomic` (small files
//! replaced whole), `cursor` (the two-slot cursor file; `cursor_slot` the
//! slots' versioned layout and the pure choice between them), `sidecar` (its
//! kind and mode, for `journal cursors`), `registry` (the sinks a journal
//! has shipped to), `start` (the pure decision of where a sink starts:
//! resume, adopt, fresh, refuse) and `opening` (its execution), `gate` (the
//! [`ShipGate`] a pair fences its shippers with) and `fence` (a shipper's
//! view of it), `mirror` (the [`CursorMirror`] a pair copies cursors to its
//! standby with), `plan` (the pure decisions of a start and a pause: what
//! is in doubt, per mode; the waits), `record` (journal record →
//! [`Outgoing`](crate::delivery::Outgoing), dead-letter lines), `spec`,
//! `stats`, `report` and `control` (the data the handle and the loop share),
//! `ship_loop` (the loop), `handle` ([`spawn_shipper`] and
//! [`ShipperHandle`]).

pub(crate) mod atomic;
mod control;
pub(crate) mod cursor;
mod cursor_slot;
mod durable;
mod fence;
mod gate;
mod handle;
mod mirror;
mod opening;
mod plan;
mod record;
pub(crate) mod registry;
mod report;
mod ship_loop;
pub(crate) mod sidecar;
mod spec;
mod start;
mod stats;

pub use durable::DurableHead;
pub use gate::ShipGate;
pub use handle::{ShipperHandle, spawn_shipper};
pub use mirror::CursorMirror;
pub use plan::{InDoubt, InDoubtAction, InDoubtCause};
pub use report::{ShipperExit, ShipperReport};
pub use spec::ShipperSpec;
pub use start::StartFrom;
pub use stats::SinkStats;
