//! One retention pass over the alert journal: observe the segments (first
//! seq, length, time since last written), ask the pure plan (`plan.rs`),
//! execute it with the removal mechanism (`remove.rs`).

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::{Result, io_at};
use crate::retention::oldest::first_kept_seq;
use crate::retention::plan::{Hold, RetentionPolicy, SegmentFact, plan};
use crate::retention::remove::{Disposal, Retained, remove_before};
use crate::segment::list_segments;

/// What [`retain_journal`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionReport {
    /// The segments removed (deleted or archived), their bytes, and the
    /// first seq the journal keeps now.
    pub removed: Retained,
    /// The first seq of the first segment removed, if any: seqs
    /// `first_removed ..= removed.oldest - 1` are gone.
    pub first_removed: Option<u64>,
    /// Why the oldest segment kept stays.
    pub held_by: Hold,
}

/// Removes the segments of the journal in `dir` that `policy` lets go,
/// given that every seq from `floor` on is still needed; into `archive`
/// rather than deleted, if given. `now` is the clock the segments' ages are
/// measured against (a segment written "in the future" counts as new).
pub fn retain_journal(
    dir: &Path,
    policy: &RetentionPolicy,
    floor: u64,
    archive: Option<&Path>,
    now: SystemTime,
) -> Result<RetentionReport> {
    let mut facts = Vec::new();
    for (first_seq, path) in list_segments(dir)? {
        let meta = fs::metadata(&path).map_err(io_at(&path))?;
        // A file system without modification times cannot show a segment
        // is old: it counts as new (kept by keep_age).
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or(Duration::ZERO);
        facts.push(SegmentFact {
            first_seq,
            bytes: meta.len(),
            age,
        });
    }
    let decided = plan(&facts, floor, policy);
    let removed = match decided.oldest {
        Some(oldest) if !decided.remove.is_empty() => {
            let disposal = archive.map_or(Disposal::Delete, Disposal::MoveTo);
            remove_before(dir, oldest, disposal)?
        }
        _ => Retained {
            oldest: first_kept_seq(dir)?,
            ..Retained::default()
        },
    };
    Ok(RetentionReport {
        removed,
        first_removed: decided.remove.first().copied(),
        held_by: decided.held_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, JournalOptions, JournalReader};

    fn journal(dir: &Path, records: u64) -> Vec<u64> {
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
        list_segments(dir)
            .expect("list")
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    fn keep_nothing_extra() -> RetentionPolicy {
        RetentionPolicy {
            keep_bytes: 0,
            keep_segments: 0,
            keep_age: None,
        }
    }

    #[test]
    fn a_pass_removes_what_the_floor_and_policy_let_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let segs = journal(dir.path(), 40);
        assert!(segs.len() > 4, "{segs:?}");
        let now = SystemTime::now();
        let floor = segs[3] + 1;
        let r =
            retain_journal(dir.path(), &keep_nothing_extra(), floor, None, now).expect("retain");
        assert_eq!(r.removed.segments, 3);
        assert_eq!((r.first_removed, r.removed.oldest), (Some(1), segs[3]));
        assert_eq!(r.held_by, Hold::Needed);
        // The reader goes on from the oldest kept seq; the floor is readable.
        let mut reader = JournalReader::open(dir.path(), floor).expect("reader");
        assert_eq!(reader.next().expect("record").expect("ok").0, floor);
        // Again: nothing more goes, and the report says where it starts.
        let r = retain_journal(dir.path(), &keep_nothing_extra(), floor, None, now).expect("again");
        assert_eq!((r.removed.segments, r.removed.oldest), (0, segs[3]));
        // An hour of keep_age keeps everything just written.
        let policy = RetentionPolicy {
            keep_age: Some(Duration::from_secs(3600)),
            ..keep_nothing_extra()
        };
        let r = retain_journal(dir.path(), &policy, u64::MAX, None, now).expect("young");
        assert_eq!((r.removed.segments, r.held_by), (0, Hold::KeepAge));
        // An hour later they may go, into the archive.
        let archive = dir.path().join("archive");
        let later = now + Duration::from_secs(7200);
        let r = retain_journal(dir.path(), &policy, u64::MAX, Some(&archive), later).expect("old");
        assert_eq!(r.held_by, Hold::Newest);
        assert_eq!(list_segments(dir.path()).expect("list").len(), 1);
        assert_eq!(
            list_segments(&archive).expect("archive").len(),
            segs.len() - 4
        );
    }
}
