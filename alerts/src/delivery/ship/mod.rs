//! Shipping: one thread per sink moving journal records to it, from its own
//! persisted cursor, never past the durable head (SPEC §4).
//!
//! Files, from the leaves up: `durable` (the durable head the journal thread
//! publishes and caught-up shippers sleep on), `cursor` (the two-slot cursor
//! file and its sidecar), `plan` (the pure start decisions: what is in doubt,
//! per mode), `record` (journal record → [`Outgoing`](crate::delivery::Outgoing),
//! dead-letter lines), `spec`, `stats`, `report` and `control` (the data the
//! handle and the loop share), `ship_loop` (the loop), `handle`
//! ([`spawn_shipper`] and [`ShipperHandle`]).

mod control;
pub(crate) mod cursor;
mod durable;
mod handle;
mod plan;
mod record;
mod report;
mod ship_loop;
mod spec;
mod stats;

pub use durable::DurableHead;
pub use handle::{ShipperHandle, spawn_shipper};
pub use plan::{InDoubt, InDoubtAction};
pub use report::{ShipperExit, ShipperReport};
pub use spec::ShipperSpec;
pub use stats::SinkStats;
