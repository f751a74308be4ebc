//! Test fixtures shared by the delivery tests: the field set of a run with
//! the overfill job, a SPEC §3 overfill record, and a one-record send.

use crate::delivery::fields::{AlertField, AlertFields};
use crate::delivery::sink::{Outgoing, SendError, Sink};

/// The fields of a run whose one job is `overfill` (SPEC §3's record).
pub(crate) fn overfill_fields() -> AlertFields {
    AlertFields::new().with_job(
        "overfill",
        &[
            AlertField::new("order_id", "string", "the order"),
            AlertField::new("client", "string", "the order's client"),
            AlertField::new("stock", "string", "the order's stock"),
            AlertField::new("requested", "integer or null", "shares requested"),
            AlertField::new("filled", "integer", "shares bought"),
            AlertField::new("trigger_id", "string or null", "the event that crossed"),
            AlertField::new("event_ts", "integer or null", "its event time, ms"),
            AlertField::new("detected_at", "integer", "wall clock at detection, ns"),
        ],
    )
}

/// The overfill record of `order` at `seq`.
pub(crate) fn overfill(seq: u64, order: &str) -> Outgoing {
    let alert_id = format!("overfill:{order}");
    let json = format!(
        r#"{{"seq":{seq},"alert_id":"{alert_id}","kind":"overfill","order_id":"{order}","client":"c1","stock":"ACME","requested":100,"filled":150,"trigger_id":"t9","event_ts":null,"detected_at":1700000000000000000}}"#
    );
    Outgoing {
        seq,
        alert_id,
        json: json.into_bytes(),
        epoch: 0,
    }
}

/// Sends `rec` alone; a failure must not claim it delivered.
pub(crate) fn send_one(sink: &mut dyn Sink, rec: Outgoing) -> Result<(), SendError> {
    sink.send(&[rec]).map_err(|f| {
        assert_eq!(f.delivered, 0);
        f.error
    })
}
