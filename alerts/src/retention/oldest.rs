//! Where a journal begins. Two answers, for two readers:
//! - the `OLDEST` marker ([`oldest_kept`]), for recovery: retention writes
//!   it before it removes a segment, so a journal cut by retention is told
//!   from one that lost its first segments (which is corruption);
//! - the first seq a reader can start at ([`first_kept_seq`]), for everyone
//!   else (`journal cursors`, the metrics, a sink's start, `--reset --to
//!   oldest`): usually the same, but lower when segments before the marker
//!   are still there (retention stopped between the marker and the removal,
//!   or an operator moved archived segments back).

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{AlertsError, Result, io_at};
use crate::segment::list_segments;
use crate::writer::sync_dir;

const OLDEST_FILE: &str = "OLDEST";

/// The first seq the journal in `dir` keeps per its `OLDEST` marker: 1
/// unless retention moved it.
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

/// The lowest seq a reader of the journal in `dir` can start at: the first
/// segment's, when it is at or below the marker; otherwise the marker's (a
/// journal without segments, or one whose first segments are missing,
/// which a reader then reports as corruption).
pub fn first_kept_seq(dir: &Path) -> Result<u64> {
    let marker = oldest_kept(dir)?;
    let first = list_segments(dir)?.first().map(|(seq, _)| *seq);
    Ok(first.map_or(marker, |f| f.min(marker)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::segment_name;

    #[test]
    fn the_first_segment_below_the_marker_is_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(first_kept_seq(dir.path()).expect("empty"), 1);
        write_oldest(dir.path(), 40).expect("marker");
        assert_eq!(first_kept_seq(dir.path()).expect("no segment"), 40);
        fs::write(dir.path().join(segment_name(40)), b"").expect("segment");
        assert_eq!(first_kept_seq(dir.path()).expect("at the marker"), 40);
        // Moved back from an archive (or left by an interrupted removal).
        fs::write(dir.path().join(segment_name(12)), b"").expect("segment");
        assert_eq!(first_kept_seq(dir.path()).expect("below"), 12);
        assert_eq!(oldest_kept(dir.path()).expect("marker"), 40);
    }
}
