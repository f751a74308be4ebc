//! Journal records as sinks see them: [`Outgoing`] built from `(seq, payload)`
//! with the same line `journal dump` prints, and the dead-letter output.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::delivery::sink::Outgoing;
use crate::dump::dump_line;
use crate::error::{Result, io_at};
use crate::writer::sync_dir;

/// Builds the [`Outgoing`] of a record. Errs with [`AlertsError::BadPayload`](crate::AlertsError::BadPayload)
/// if the payload is not a one-line JSON object without `seq` (the engine
/// never writes one; the shipper dead-letters it rather than stall).
pub(crate) fn to_outgoing(seq: u64, payload: &[u8]) -> Result<Outgoing> {
    let mut json = Vec::with_capacity(payload.len() + 24);
    dump_line(&mut json, seq, payload)?;
    json.pop(); // the '\n' that ends a dump line
    let alert_id = alert_id(payload).unwrap_or_else(|| {
        tracing::warn!(seq, "alert record without a string alert_id; using seq:<n>");
        format!("seq:{seq}")
    });
    Ok(Outgoing {
        seq,
        alert_id,
        json,
        // Set by the shipper from its gate right before the send.
        epoch: 0,
    })
}

/// The payload's `alert_id` if it is a string.
pub(crate) fn alert_id(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        alert_id: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Id>(payload).ok()?.alert_id? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// One dead-letter line: `{"seq":..,"alert_id":..,"sink":..,"reason":..,
/// "record":<json>}`; `record` must be valid JSON (the dump line, or a JSON
/// string holding a payload that is not a valid record).
pub(crate) fn dead_letter_line(
    seq: u64,
    alert_id: &str,
    sink: &str,
    reason: &str,
    record: &[u8],
) -> Vec<u8> {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let mut line = format!(
        "{{\"seq\":{seq},\"alert_id\":{},\"sink\":{},\"reason\":{},\"record\":",
        quote(alert_id),
        quote(sink),
        quote(reason)
    )
    .into_bytes();
    line.extend_from_slice(record);
    line.extend_from_slice(b"}\n");
    line
}

/// Appends `line` to the dead-letter file at `path` and fsyncs it (and its
/// directory when the file is new) before the cursor moves past the record.
pub(crate) fn append_dead_letter(path: &Path, line: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    }
    let new = !path.try_exists().map_err(io_at(path))?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_at(path))?;
    file.write_all(line)
        .and_then(|()| file.sync_data())
        .map_err(io_at(path))?;
    if new {
        sync_dir(dir.unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// The `record` field for a payload [`to_outgoing`] refused: a JSON string.
pub(crate) fn raw_record(payload: &[u8]) -> Vec<u8> {
    serde_json::Value::from(String::from_utf8_lossy(payload).into_owned())
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AlertsError;

    #[test]
    fn outgoing_is_the_dump_line() {
        let o = to_outgoing(7, br#"{"alert_id":"overfill:o1","kind":"overfill"}"#).expect("ok");
        assert_eq!(o.seq, 7);
        assert_eq!(o.alert_id, "overfill:o1");
        assert_eq!(
            o.json,
            br#"{"seq":7,"alert_id":"overfill:o1","kind":"overfill"}"#.to_vec()
        );
        assert_eq!(to_outgoing(8, b"{}").expect("ok").alert_id, "seq:8");
        assert_eq!(
            to_outgoing(9, br#"{"alert_id":3}"#).expect("ok").alert_id,
            "seq:9"
        );
        assert!(matches!(
            to_outgoing(1, b"[1]"),
            Err(AlertsError::BadPayload { .. })
        ));
    }

    #[test]
    fn dead_letter_lines_are_json() {
        let line = dead_letter_line(3, "a\"b", "s", "exit 3: boom\n", br#"{"seq":3}"#);
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["alert_id"], "a\"b");
        assert_eq!(v["reason"], "exit 3: boom\n");
        assert_eq!(v["record"]["seq"], 3);
        let raw = dead_letter_line(4, "seq:4", "s", "bad", &raw_record(b"[1,\xff]"));
        let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
        assert_eq!(v["record"], "[1,\u{fffd}]");
    }

    #[test]
    fn append_creates_and_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/dead.jsonl");
        append_dead_letter(&path, b"a\n").expect("append");
        append_dead_letter(&path, b"b\n").expect("append");
        assert_eq!(std::fs::read(&path).expect("read"), b"a\nb\n");
    }
}
