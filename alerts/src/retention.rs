//! Keeping a journal from a seq on. Whole segments before it are deleted;
//! the oldest seq kept is recorded first, in `OLDEST`, so that recovery tells
//! a journal cut by retention from one that lost its first segments (which
//! is corruption). The active (last) segment is never deleted, so retention
//! may run beside the writer and the readers: a reader inside a deleted
//! segment keeps reading its open file.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{AlertsError, Result, io_at};
use crate::segment::list_segments;
use crate::writer::sync_dir;

const OLDEST_FILE: &str = "OLDEST";

/// The first seq the journal in `dir` keeps: 1 unless retention moved it.
pub fn oldest_kept(dir: &Path) -> Result<u64> {
    let path = dir.join(OLDEST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| AlertsError::Corrupt {
            segment: path.clone(),
            offset: 0,
            reason: format!("{OLDEST_FILE} holds {:?}, not a seq", text.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(1),
        Err(e) => Err(io_at(&path)(e)),
    }
}

/// Records durably that the journal keeps seqs from `seq` on.
pub(crate) fn write_oldest(dir: &Path, seq: u64) -> Result<()> {
    let path = dir.join(OLDEST_FILE);
    let tmp = dir.join(format!("{OLDEST_FILE}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(format!("{seq}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_at(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_at(&path))?;
    sync_dir(dir)
}

/// What [`retain_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retained {
    /// Segments deleted.
    pub segments: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The first seq the journal keeps now.
    pub oldest: u64,
}

/// Deletes the segments of `dir` whose records all precede `seq` (never the
/// last one), after recording the new oldest seq kept.
pub fn retain_from(dir: &Path, seq: u64) -> Result<Retained> {
    let segments = list_segments(dir)?;
    // Segment i holds seqs name(i)..name(i + 1): all before `seq` when the
    // next one starts at or before it.
    let doomed = segments.windows(2).take_while(|w| w[1].0 <= seq).count();
    let oldest = segments.get(doomed).map_or(seq.max(1), |(s, _)| *s);
    let mut done = Retained {
        oldest,
        ..Retained::default()
    };
    if doomed == 0 {
        return Ok(done);
    }
    write_oldest(dir, oldest)?;
    for (_, path) in &segments[..doomed] {
        let len = fs::metadata(path).map_err(io_at(path))?.len();
        fs::remove_file(path).map_err(io_at(path))?;
        done.segments += 1;
        done.bytes += len;
    }
    sync_dir(dir)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, JournalOptions, JournalReader, verify};

    fn journal(dir: &Path, records: u64) {
        let (mut j, _) = Journal::open(
            dir,
            JournalOptions {
                segment_bytes: 200,
                ..JournalOptions::default()
            },
        )
        .expect("open");
        for i in 0..records {
            j.append(format!("{{\"alert_id\":\"a{i}\"}}").as_bytes())
                .expect("append");
        }
        j.sync().expect("sync");
    }

    #[test]
    fn whole_segments_before_the_seq_go_and_the_journal_still_recovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        journal(dir.path(), 40);
        let before = list_segments(dir.path()).expect("list");
        assert!(before.len() > 3, "{before:?}");
        let cut = before[2].0 + 1; // inside the third segment
        let r = retain_from(dir.path(), cut).expect("retain");
        assert_eq!(r.segments, 2);
        assert_eq!(r.oldest, before[2].0);
        assert_eq!(oldest_kept(dir.path()).expect("oldest"), before[2].0);
        // Reopens clean, appends after the last record, verifies.
        let (j, report) = Journal::open(dir.path(), JournalOptions::default()).expect("reopen");
        assert_eq!(j.next_seq(), 41);
        assert!(report.truncated.is_none());
        drop(j);
        let v = verify(dir.path()).expect("verify");
        assert_eq!(v.first_seq, Some(before[2].0));
        // A reader from the oldest kept seq reads to the end.
        let seqs: Vec<u64> = JournalReader::open(dir.path(), r.oldest)
            .expect("reader")
            .map(|x| x.expect("record").0)
            .collect();
        assert_eq!(seqs, (r.oldest..=40).collect::<Vec<_>>());
        // One from a deleted seq is an error, never a silent skip.
        let err = JournalReader::open(dir.path(), 1)
            .expect("reader")
            .next()
            .expect("an item")
            .expect_err("not kept");
        assert!(matches!(err, AlertsError::NotKept { from: 1, .. }), "{err}");
        // The last segment is never deleted, whatever the seq.
        let r = retain_from(dir.path(), 1_000).expect("retain all");
        assert_eq!(list_segments(dir.path()).expect("list").len(), 1, "{r:?}");
    }

    #[test]
    fn a_first_segment_lost_without_retention_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        journal(dir.path(), 40);
        let segs = list_segments(dir.path()).expect("list");
        fs::remove_file(&segs[0].1).expect("lose the first segment");
        let err = Journal::open(dir.path(), JournalOptions::default())
            .err()
            .expect("corrupt");
        assert!(err.to_string().contains("missing"), "{err}");
        // Retention that stopped between its marker and its deletes is fine.
        let dir = tempfile::tempdir().expect("tempdir");
        journal(dir.path(), 40);
        let segs = list_segments(dir.path()).expect("list");
        write_oldest(dir.path(), segs[1].0).expect("marker");
        Journal::open(dir.path(), JournalOptions::default()).expect("opens");
    }
}
