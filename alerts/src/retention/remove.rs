//! Removing whole segments from the front of a journal: the mechanism both
//! logs use (the input log after each snapshot, the alert journal per its
//! retention plan). The oldest seq kept is recorded first, in `OLDEST`
//! (`oldest.rs`), so that recovery tells a journal cut by retention from one
//! that lost its first segments. The active (last) segment is never
//! removed, so this may run beside the writer and the readers: a reader
//! inside a removed segment keeps reading its open file.
//!
//! A removed segment is deleted, or moved into an archive directory (same
//! name, so moving it back makes its records readable again): renamed when
//! the archive is on the same file system, else copied and fsynced before
//! the original goes; the archive directory is fsynced before the journal's.

use std::fs;
use std::path::Path;

use crate::error::{Result, io_at};
use crate::retention::oldest::write_oldest;
use crate::segment::list_segments;
use crate::writer::sync_dir;

/// What [`retain_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retained {
    /// Segments removed.
    pub segments: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The first seq the journal keeps now.
    pub oldest: u64,
}

/// What becomes of a removed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposal<'a> {
    Delete,
    /// Moved into this directory (created if absent).
    MoveTo(&'a Path),
}

/// Deletes the segments of `dir` whose records all precede `seq` (never the
/// last one), after recording the new oldest seq kept.
pub fn retain_from(dir: &Path, seq: u64) -> Result<Retained> {
    remove_before(dir, seq, Disposal::Delete)
}

/// [`retain_from`], each removed segment deleted or archived per `disposal`.
pub(crate) fn remove_before(dir: &Path, seq: u64, disposal: Disposal<'_>) -> Result<Retained> {
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
    if let Disposal::MoveTo(archive) = disposal {
        fs::create_dir_all(archive).map_err(io_at(archive))?;
    }
    for (_, path) in &segments[..doomed] {
        let len = fs::metadata(path).map_err(io_at(path))?.len();
        match disposal {
            Disposal::Delete => fs::remove_file(path).map_err(io_at(path))?,
            Disposal::MoveTo(archive) => move_segment(path, archive)?,
        }
        done.segments += 1;
        done.bytes += len;
    }
    sync_dir(dir)?;
    Ok(done)
}

/// Moves the segment at `path` into `archive`, durably there before it is
/// gone from the journal.
fn move_segment(path: &Path, archive: &Path) -> Result<()> {
    let Some(name) = path.file_name() else {
        return Err(crate::AlertsError::Internal(format!(
            "segment path {} has no file name",
            path.display()
        )));
    };
    let dest = archive.join(name);
    match fs::rename(path, &dest) {
        Ok(()) => return sync_dir(archive),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
        Err(e) => return Err(io_at(&dest)(e)),
    }
    // Another file system: a copy, durable under its final name, then the
    // original goes. A crash in between leaves the segment in both places,
    // which is harmless (the next pass moves it again).
    let mut tmp_name = name.to_owned();
    tmp_name.push(".tmp");
    let tmp = archive.join(tmp_name);
    fs::copy(path, &tmp).map_err(io_at(&tmp))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_at(&tmp))?;
    fs::rename(&tmp, &dest).map_err(io_at(&dest))?;
    sync_dir(archive)?;
    fs::remove_file(path).map_err(io_at(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::oldest::{first_kept_seq, oldest_kept};
    use crate::{AlertsError, Journal, JournalOptions, JournalReader, verify};

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

    #[test]
    fn archived_segments_move_whole_and_can_be_moved_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        journal(dir.path(), 40);
        let before = list_segments(dir.path()).expect("list");
        let archive = dir.path().join("archive");
        let bytes: Vec<Vec<u8>> = before[..2]
            .iter()
            .map(|(_, p)| fs::read(p).expect("read"))
            .collect();
        let r =
            remove_before(dir.path(), before[2].0, Disposal::MoveTo(&archive)).expect("archive");
        assert_eq!((r.segments, r.oldest), (2, before[2].0));
        for ((_, path), want) in before[..2].iter().zip(&bytes) {
            assert!(!path.exists(), "{} left in the journal", path.display());
            let name = path.file_name().expect("name");
            assert_eq!(&fs::read(archive.join(name)).expect("archived"), want);
        }
        // The archive is a subdirectory: the journal still opens and verifies.
        drop(Journal::open(dir.path(), JournalOptions::default()).expect("reopen"));
        assert_eq!(first_kept_seq(dir.path()).expect("first"), before[2].0);
        // Moved back, the records are readable again from seq 1.
        for (_, path) in &before[..2] {
            let name = path.file_name().expect("name");
            fs::rename(archive.join(name), path).expect("move back");
        }
        assert_eq!(first_kept_seq(dir.path()).expect("first"), 1);
        let seqs: Vec<u64> = JournalReader::open(dir.path(), 1)
            .expect("reader")
            .map(|x| x.expect("record").0)
            .collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
        verify(dir.path()).expect("verify");
    }
}
