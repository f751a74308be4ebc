//! The alert record of the exposure job.

use serde::Serialize;

/// Alert kind of a (client, stock) whose windowed purchases exceed the limit.
pub const EXPOSURE: &str = "exposure";

/// The journal payload; `seq` is added by the journal.
#[derive(Debug, Serialize)]
pub(super) struct ExposureRecord<'a> {
    pub(super) alert_id: &'a str,
    pub(super) kind: &'static str,
    pub(super) client: &'a str,
    pub(super) stock: &'a str,
    pub(super) limit: u64,
    pub(super) exposure: u64,
    pub(super) window_ms: u64,
    pub(super) window_start: u64,
    pub(super) window_end: u64,
    pub(super) order_id: &'a str,
    pub(super) trigger_id: &'a str,
    pub(super) event_ts: Option<u64>,
    pub(super) detected_at: u64,
}

impl ExposureRecord<'_> {
    pub(super) fn to_json(&self) -> Vec<u8> {
        crate::record::json_payload(self)
    }
}

/// `exposure:<client>:<stock>:<order_id>/<purchase id>`: an episode is named
/// by the purchase that opened it, which counts once per pair, so the id is
/// unique and deterministic.
pub(super) fn alert_id(client: &str, stock: &str, order_id: &str, purchase_id: &str) -> String {
    let mut s = String::with_capacity(
        EXPOSURE.len() + client.len() + stock.len() + order_id.len() + purchase_id.len() + 4,
    );
    for (part, sep) in [
        (EXPOSURE, ':'),
        (client, ':'),
        (stock, ':'),
        (order_id, '/'),
    ] {
        s.push_str(part);
        s.push(sep);
    }
    s.push_str(purchase_id);
    s
}
