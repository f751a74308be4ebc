//! Test fixtures shared by the sinks' tests: a SPEC §3 overfill record and a
//! one-record send.

use crate::delivery::sink::{Outgoing, SendError, Sink};

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
    }
}

/// Sends `rec` alone; a failure must not claim it delivered.
pub(crate) fn send_one(sink: &mut dyn Sink, rec: Outgoing) -> Result<(), SendError> {
    sink.send(&[rec]).map_err(|f| {
        assert_eq!(f.delivered, 0);
        f.error
    })
}
