//! What a shipper did and why it stopped: [`ShipperReport`], [`ShipperExit`].

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::plan::InDoubt;

/// Why a shipper stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShipperExit {
    /// [`ShipperHandle::finish`](crate::delivery::ShipperHandle::finish): everything up
    /// to the target was delivered.
    Finished,
    /// [`ShipperHandle::stop`](crate::delivery::ShipperHandle::stop).
    Stopped,
    /// [`ShipperHandle::finish`](crate::delivery::ShipperHandle::finish)'s deadline
    /// passed with `behind` records still undelivered (they stay in the
    /// journal for the next run).
    Deadline { behind: u64 },
}

/// What a shipper did, returned by
/// [`ShipperHandle::join`](crate::delivery::ShipperHandle::join).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipperReport {
    pub name: String,
    pub kind: String,
    pub mode: DeliveryMode,
    /// The cursor at exit.
    pub cursor: u64,
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    /// The range a crash left in doubt, found at start (also logged then).
    pub in_doubt: Option<InDoubt>,
    /// Why the sink was paused at exit (its endpoint refused every record),
    /// if it was.
    pub paused: Option<String>,
    pub exit: ShipperExit,
}
