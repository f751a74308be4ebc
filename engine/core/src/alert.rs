//! Alerts as jobs emit them, with the key that fixes their order in the journal.

/// Where an alert stands in the output order (SPEC §2 "Determinism"): by the
/// input position of the event that caused it; among alerts of one event,
/// consequences of the clock (`class` 0, e.g. expiries) before the event's own
/// (`class` 1); then by `sub` (e.g. the position that opened the expired book).
/// Alerts of the end-of-input drain have `pos == u64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertOrder {
    /// Input position of the causing event.
    pub pos: u64,
    /// 0: caused by the clock reaching a deadline; 1: the event's own alert.
    pub class: u8,
    /// Index of the job among those running (set by the runner).
    pub job: u8,
    /// Tie-breaker within the class, e.g. the position that opened a book.
    pub sub: u64,
}

impl AlertOrder {
    /// Class of alerts that the clock caused (expiry).
    pub const CLOCK: u8 = 0;
    /// Class of an event's own alert.
    pub const EVENT: u8 = 1;
    /// Position of alerts emitted by the drain at end of input.
    pub const DRAIN: u64 = u64::MAX;

    /// The order of an event's own alert.
    pub fn event(pos: u64) -> Self {
        AlertOrder {
            pos,
            class: Self::EVENT,
            job: 0,
            sub: 0,
        }
    }

    /// The order of an alert that the clock caused at `pos`, for the state
    /// element identified by `sub` (older elements first).
    pub fn clock(pos: u64, sub: u64) -> Self {
        AlertOrder {
            pos,
            class: Self::CLOCK,
            job: 0,
            sub,
        }
    }
}

/// One alert: its order, its deterministic id and kind, and its journal
/// payload (a JSON object without `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Output order.
    pub order: AlertOrder,
    /// The kind, e.g. `overfill`.
    pub kind: &'static str,
    /// Deterministic id, `<kind>:<key>`.
    pub alert_id: String,
    /// The record as a JSON object (SPEC §3 fields, without `seq`).
    pub payload: Vec<u8>,
}
