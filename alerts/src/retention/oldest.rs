//! Where a journal begins. Two answers, for two readers:
//! - the `OLDEST` marker ([`oldest_kept`]), for recovery: retention writes
//!   it before it removes a segment, so a journal cut by retention is told
//!   from one that lost its first segments (which is corruption);
//! - the first seq a reader can start at ([`first_kept_seq`]), for everyone
//!   else (`journal cursors`, the metrics, a sink's start, `--reset --to
//!   oldest`): usually the same, but lower when segments before the marker
//!   are still there (retention stopped between the marker and the removal,
//!   or an operator moved archived segments back).
//!
//! ```text
//! format_version = 2          (version 1, before versions: the bare seq,
//! oldest = 41                  `41`, still read)
//! ```

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{AlertsError, Result, io_at};
use crate::formats::{OLDEST, Unreadable, toml_version};
use crate::segment::list_segments;
use crate::writer::sync_dir;

const OLDEST_FILE: &str = "OLDEST";

/// The first seq the journal in `dir` keeps per its `OLDEST` marker: 1
/// unless retention moved it.
pub fn oldest_kept(dir: &Path) -> Result<u64> {
    let path = dir.join(OLDEST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => parse(&text).map_err(|why| match why {
            Unreadable::Version(found) => OLDEST.refuse(&path, found),
            Unreadable::Damaged(reason) => AlertsError::Corrupt {
                segment: path.clone(),
                offset: 0,
                reason,
            },
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(1),
        Err(e) => Err(io_at(&path)(e)),
    }
}

/// The marker as this release writes it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    format_version: u64,
    oldest: u64,
}

/// The seq a marker's text holds.
fn parse(text: &str) -> std::result::Result<u64, Unreadable> {
    // Version 1, the form before formats were versioned: the bare seq.
    if let Ok(seq) = text.trim().parse() {
        return Ok(seq);
    }
    let bad = || Unreadable::Damaged(format!("{OLDEST_FILE} holds {:?}, not a seq", text.trim()));
    let table: toml::Table = toml::from_str(text).map_err(|_| bad())?;
    toml_version(&OLDEST, &table, false)?;
    toml::from_str::<Marker>(text)
        .map(|m| m.oldest)
        .map_err(|_| bad())
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
    let text = toml::to_string(&Marker {
        format_version: OLDEST.current,
        oldest: seq,
    })
    .map_err(|e| AlertsError::Internal(format!("encoding {OLDEST_FILE}: {e}")))?;
    f.write_all(text.as_bytes())
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

    /// Today's bare seq (version 1) is read; the marker is written in the
    /// versioned form; one of a future version is refused naming it.
    #[test]
    fn versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(OLDEST_FILE);
        fs::write(&path, "41\n").expect("write");
        assert_eq!(oldest_kept(dir.path()).expect("version 1"), 41);
        write_oldest(dir.path(), 42).expect("marker");
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "format_version = 2\noldest = 42\n"
        );
        assert_eq!(oldest_kept(dir.path()).expect("version 2"), 42);
        fs::write(&path, "format_version = 99\nfirst = 3\n").expect("write");
        let e = oldest_kept(dir.path()).expect_err("refused");
        assert!(!e.is_transient());
        assert!(
            e.to_string().starts_with(&format!(
                "journal retention marker {}: format version 99, but this aldebaran reads \
                 versions 1 and 2; ",
                path.display()
            )),
            "{e}"
        );
        fs::write(&path, "forty").expect("write");
        assert!(matches!(
            oldest_kept(dir.path()),
            Err(AlertsError::Corrupt { .. })
        ));
    }
}
