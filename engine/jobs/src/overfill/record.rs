//! The alert record of the over-purchase job (SPEC §3 fields).

use serde::Serialize;

/// Alert kind of an order whose purchases exceeded its request.
pub const OVERFILL: &str = "overfill";
/// Alert kind of a book that closed with purchases but no request.
pub const ORPHAN: &str = "orphan";

/// The journal payload; `seq` is added by the journal.
#[derive(Debug, Serialize)]
pub(super) struct AlertRecord<'a> {
    pub(super) alert_id: &'a str,
    pub(super) kind: &'static str,
    pub(super) order_id: &'a str,
    pub(super) client: &'a str,
    pub(super) stock: &'a str,
    pub(super) requested: Option<u64>,
    pub(super) filled: u64,
    pub(super) trigger_id: Option<&'a str>,
    pub(super) event_ts: Option<u64>,
    pub(super) detected_at: u64,
}

impl AlertRecord<'_> {
    pub(super) fn to_json(&self) -> Vec<u8> {
        crate::record::json_payload(self)
    }
}

/// SPEC §3: `<kind>:<order_id>:<event id>` — the trigger of an overfill, the
/// first purchase an orphan's book counted — unique per episode of an order,
/// so an order that reopens after its tombstone gets a new id.
pub(super) fn alert_id(kind: &str, order_id: &str, event_id: &str) -> String {
    crate::record::join_id(&[kind, order_id, event_id])
}
