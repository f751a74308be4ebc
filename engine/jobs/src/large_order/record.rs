//! The alert record of the large-order job.

use serde::Serialize;

/// Alert kind of a purchase request above the share limit.
pub const LARGE_ORDER: &str = "large_order";

/// The journal payload; `seq` is added by the journal.
#[derive(Debug, Serialize)]
pub(super) struct LargeOrderRecord<'a> {
    pub(super) alert_id: &'a str,
    pub(super) kind: &'static str,
    pub(super) order_id: &'a str,
    pub(super) client: &'a str,
    pub(super) stock: &'a str,
    pub(super) shares: u64,
    pub(super) max_shares: u64,
    pub(super) event_ts: Option<u64>,
    pub(super) detected_at: u64,
}

impl LargeOrderRecord<'_> {
    pub(super) fn to_json(&self) -> Vec<u8> {
        crate::record::json_payload(self)
    }
}

/// `large_order:<order_id>`: one request, one id.
pub(super) fn alert_id(order_id: &str) -> String {
    crate::record::join_id(&[LARGE_ORDER, order_id])
}
