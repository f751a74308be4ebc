//! [`verify`]: a read-only check of a whole journal, using the same scan and
//! decision as recovery, without executing it.

use std::path::Path;

use crate::error::{Result, io_at};
use crate::recovery::{TruncatedTail, decide};
use crate::segment::{list_segments, scan_file};

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: usize,
    /// Good records (before a torn tail, if any).
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Bytes of the segments up to the end of their last good record.
    pub bytes: u64,
    /// The torn tail that `Journal::open` would truncate.
    pub torn_tail: Option<TruncatedTail>,
}

/// Checks every frame of the journal in `dir` (which must exist). Errs with
/// [`AlertsError::Corrupt`] on mid-journal damage or a seq gap. Never writes.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    std::fs::metadata(dir).map_err(io_at(dir))?;
    let scans = list_segments(dir)?
        .iter()
        .map(|(seq, path)| scan_file(*seq, path))
        .collect::<Result<Vec<_>>>()?;
    let (kept, torn_tail) = decide(&scans, crate::retention::oldest_kept(dir)?).accept("")?;
    Ok(VerifyReport {
        segments: kept.segments,
        records: kept.records,
        first_seq: kept.first_seq,
        last_seq: kept.last_seq,
        bytes: kept.bytes,
        torn_tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, JournalOptions};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
        std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| {
                let path = e.expect("entry").path();
                let meta = std::fs::metadata(&path).expect("metadata");
                let bytes = std::fs::read(&path).expect("read");
                (path, (bytes, meta.modified().expect("mtime")))
            })
            .collect()
    }

    #[test]
    fn reports_and_never_modifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut j, _) = Journal::open(
                dir.path(),
                JournalOptions {
                    segment_bytes: 100,
                    ..JournalOptions::default()
                },
            )
            .expect("open");
            for i in 0..10u8 {
                j.append(&[i; 20]).expect("append");
            }
            j.sync().expect("sync");
        }
        let clean = verify(dir.path()).expect("verify");
        assert_eq!(
            (
                clean.records,
                clean.first_seq,
                clean.last_seq,
                clean.torn_tail
            ),
            (10, Some(1), Some(10), None)
        );
        assert_eq!(clean.segments, 5);

        // Tear the tail: verify reports it but leaves the bytes in place.
        let last = crate::segment::list_segments(dir.path())
            .expect("list")
            .pop()
            .expect("segment")
            .1;
        let len = std::fs::metadata(&last).expect("meta").len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&last)
            .expect("open")
            .set_len(len - 3)
            .expect("cut");
        let before = snapshot(dir.path());
        let torn = verify(dir.path()).expect("verify");
        assert_eq!(snapshot(dir.path()), before);
        assert_eq!(torn.records, 9);
        let tail = torn.torn_tail.expect("torn tail");
        assert_eq!((tail.segment, tail.bytes_dropped), (last, 33));
        assert_eq!(torn.bytes, clean.bytes - 36);
    }

    #[test]
    fn empty_and_missing_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = verify(dir.path()).expect("verify");
        assert_eq!(
            (report.segments, report.records, report.first_seq),
            (0, 0, None)
        );
        assert!(matches!(
            verify(&dir.path().join("nope")),
            Err(crate::AlertsError::Io { .. })
        ));
    }
}
