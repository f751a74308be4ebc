//! **Pair**: the active-standby pair of SPEC §6 — the two nodes' protocol,
//! roles and fencing. The pipeline runs the engine; this crate decides which
//! node may consume and ship, and carries the active's input to the standby.
//!
//! - **Roles** ([`role`]): a pure decision from what a node observes (its
//!   lease on the input queue, how long the broker has been silent, the
//!   epochs) to what it must do (`Promote`, `Demote`, `Adopt`, `Stay`),
//!   property-tested so that two nodes never both end up active.
//! - **Epochs** ([`epoch`]): persisted per node, raised by every takeover,
//!   carried on every shipped alert.
//! - **Wire** ([`wire`]): one TCP connection, the standby's; length-prefixed,
//!   CRC-checked messages after a versioned handshake: input frames (the
//!   active's input log, as logged), acknowledgements, sink cursors, status,
//!   and for a rejoining node a snapshot and the journal records it lacks.
//!
//! Errors: [`PairError`], transient (the link) or not (the protocol).

pub mod epoch;
mod error;
pub mod gate;
pub mod join;
mod link;
pub mod role;
pub mod takeover;
pub mod wire;

pub use link::{Closer, Link, LinkReader, LinkWriter};

pub use error::{PairError, Result};
