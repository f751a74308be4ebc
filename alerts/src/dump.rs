//! [`dump`]: the journal as JSON Lines (`aldebaran journal dump DIR`, SPEC §3).

use std::io::Write;
use std::path::Path;

use crate::error::{AlertsError, Result};
use crate::reader::JournalReader;
use crate::retention::first_kept_seq;

/// Writes every record of the journal in `dir` as one JSON line,
/// `{"seq":N,` followed by the payload after its opening `{` (payload `{}` gives
/// `{"seq":N}`). Payloads must be one-line JSON objects without a `seq` key.
/// Starts at the oldest record retention kept; stops at a torn tail; errs
/// on corruption. Returns the records written.
pub fn dump(dir: &Path, out: &mut impl Write) -> Result<u64> {
    let mut line = Vec::new();
    let mut count = 0;
    std::fs::metadata(dir).map_err(crate::error::io_at(dir))?;
    for record in JournalReader::open(dir, first_kept_seq(dir)?)? {
        let (seq, payload) = record?;
        line.clear();
        dump_line(&mut line, seq, &payload)?;
        out.write_all(&line).map_err(AlertsError::Output)?;
        count += 1;
    }
    out.flush().map_err(AlertsError::Output)?;
    Ok(count)
}

pub(crate) fn dump_line(line: &mut Vec<u8>, seq: u64, payload: &[u8]) -> Result<()> {
    let bad = |reason: &str| AlertsError::BadPayload {
        seq,
        reason: reason.into(),
    };
    if payload.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(bad("contains a line break"));
    }
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(payload).map_err(|e| bad(&e.to_string()))?;
    if fields.contains_key("seq") {
        return Err(bad("already has a \"seq\" field"));
    }
    let trimmed = payload.trim_ascii();
    // The parse succeeded, so `trimmed` is `{ ... }`.
    let inner = &trimmed[1..trimmed.len() - 1];
    line.extend_from_slice(format!("{{\"seq\":{seq}").as_bytes());
    if !inner.trim_ascii().is_empty() {
        line.push(b',');
        line.extend_from_slice(inner.trim_ascii());
    }
    line.extend_from_slice(b"}\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, JournalOptions};

    #[test]
    fn exact_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut j, _) = Journal::open(
                dir.path(),
                JournalOptions {
                    segment_bytes: 64,
                    ..JournalOptions::default()
                },
            )
            .expect("open");
            for p in [
                &br#"{"alert_id":"overfill:o1","kind":"overfill","requested":null}"#[..],
                b"{}",
                b" { } ",
                br#"{"a":[1,{"b":2}]}"#,
            ] {
                j.append(p).expect("append");
            }
            j.sync().expect("sync");
        }
        let mut out = Vec::new();
        assert_eq!(dump(dir.path(), &mut out).expect("dump"), 4);
        let expected = concat!(
            r#"{"seq":1,"alert_id":"overfill:o1","kind":"overfill","requested":null}"#,
            "\n",
            r#"{"seq":2}"#,
            "\n",
            r#"{"seq":3}"#,
            "\n",
            r#"{"seq":4,"a":[1,{"b":2}]}"#,
            "\n",
        );
        assert_eq!(String::from_utf8(out).expect("utf8"), expected);
    }

    #[test]
    fn rejects_payloads_that_are_not_objects_or_carry_seq() {
        for (payload, seq) in [
            (&b"[1]"[..], 1),
            (b"{\"seq\":1}", 1),
            (b"{\n}", 1),
            (b"nope", 1),
        ] {
            let mut line = Vec::new();
            assert!(matches!(
                dump_line(&mut line, seq, payload),
                Err(AlertsError::BadPayload { .. })
            ));
        }
    }

    #[test]
    fn empty_journal_dumps_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        assert_eq!(dump(dir.path(), &mut out).expect("dump"), 0);
        assert!(out.is_empty());
    }

    #[test]
    fn a_journal_cut_by_retention_dumps_from_its_oldest_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let opts = JournalOptions {
                segment_bytes: 64,
                ..JournalOptions::default()
            };
            let (mut j, _) = Journal::open(dir.path(), opts).expect("open");
            for _ in 0..6 {
                j.append(b"{}").expect("append");
            }
            j.sync().expect("sync");
        }
        let kept = crate::retain_from(dir.path(), 4).expect("retain");
        assert!(kept.segments > 0, "{kept:?}");
        let mut out = Vec::new();
        let n = dump(dir.path(), &mut out).expect("dump");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(n, 7 - kept.oldest, "{text}");
        assert!(
            text.starts_with(&format!("{{\"seq\":{}}}", kept.oldest)),
            "{text}"
        );
    }
}
