//! Read-only views for `aldebaran journal cursors`: every sink's cursor (with
//! the kind and mode from its sidecar), the sinks the journal's registry
//! lists (to show one whose cursor is missing) and the journal's last seq,
//! for lag.
//! Safe while shippers run: a slot torn by a concurrent write is skipped for
//! the other one.

use std::path::Path;

use crate::delivery::mode::DeliveryMode;
use crate::delivery::ship::cursor::{CURSOR_EXT, CURSORS_DIR, load};
use crate::delivery::ship::registry;
use crate::delivery::ship::sidecar::{read_sidecar, sidecar_path};
use crate::error::{AlertsError, Result, io_at};
use crate::formats::SEGMENT;
use crate::segment::{HeaderFact, list_segments, scan_file};

/// One sink's cursor as found on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorInfo {
    pub name: String,
    /// From the `<name>.sink` sidecar; `None` if it is missing.
    pub kind: Option<String>,
    pub mode: Option<DeliveryMode>,
    /// Every seq up to this one was delivered, dead-lettered or skipped.
    pub delivered: u64,
    /// Greater than `delivered` while a send is in flight (or after a crash
    /// during one, until the shipper restarts).
    pub in_flight_to: u64,
}

/// The cursors under `<journal_dir>/cursors/`, sorted by name; empty if
/// there are none. A cursor with no valid slot is an error naming it.
pub fn read_cursors(journal_dir: &Path) -> Result<Vec<CursorInfo>> {
    let dir = journal_dir.join(CURSORS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_at(&dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(CURSOR_EXT) {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        // Gone between listing and reading: a racing delete, not corruption.
        let Some(state) = load(&path)? else {
            continue;
        };
        let meta = read_sidecar(&sidecar_path(journal_dir, name))?;
        out.push(CursorInfo {
            name: name.to_string(),
            kind: meta.as_ref().map(|m| m.kind.clone()),
            mode: meta.map(|m| m.mode),
            delivered: state.delivered,
            in_flight_to: state.in_flight_to,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A sink the journal's registry lists: it has shipped from this journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredSink {
    pub name: String,
    pub kind: String,
    /// The first seq it was to receive when it was registered.
    pub first_seq: u64,
}

/// The sinks of `<journal_dir>/cursors/registry`, sorted by name; empty if
/// there is none.
pub fn registered_sinks(journal_dir: &Path) -> Result<Vec<RegisteredSink>> {
    Ok(registry::load(journal_dir)?
        .into_iter()
        .map(|(name, r)| RegisteredSink {
            name,
            kind: r.kind,
            first_seq: r.first_seq,
        })
        .collect())
}

/// The journal's last readable seq (`None` if empty), from a scan of the last
/// segment only (cheap; `verify` scans them all). A torn tail is not counted.
pub fn journal_last_seq(journal_dir: &Path) -> Result<Option<u64>> {
    std::fs::metadata(journal_dir).map_err(io_at(journal_dir))?;
    let Some((first, path)) = list_segments(journal_dir)?.pop() else {
        return Ok(None);
    };
    let scan = scan_file(first, &path)?;
    match &scan.header {
        HeaderFact::Version(found) => return Err(SEGMENT.refuse(&path, u64::from(*found))),
        HeaderFact::Bad(reason) => {
            return Err(AlertsError::Corrupt {
                segment: path,
                offset: 0,
                reason: reason.clone(),
            });
        }
        HeaderFact::Ok | HeaderFact::Missing | HeaderFact::Short | HeaderFact::Zeroed => {}
    }
    // An empty last segment follows a full one ending at `first - 1`.
    Ok(scan.last_seq.or(first.checked_sub(1).filter(|&s| s > 0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::ship::cursor::{CursorFile, CursorState};
    use crate::delivery::ship::sidecar::write_sidecar;
    use crate::{Journal, JournalOptions};

    #[test]
    fn lists_cursors_with_their_sidecars() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_cursors(dir.path()).expect("read").is_empty());
        let mut b = CursorFile::create(dir.path(), "b", CursorState::default()).expect("open");
        b.store(CursorState {
            delivered: 3,
            in_flight_to: 5,
        })
        .expect("store");
        write_sidecar(dir.path(), "b", "command", DeliveryMode::AtMostOnce).expect("sidecar");
        let _a = CursorFile::create(dir.path(), "a", CursorState::default()).expect("open");
        let got = read_cursors(dir.path()).expect("read");
        assert_eq!(
            got,
            vec![
                CursorInfo {
                    name: "a".into(),
                    kind: None,
                    mode: None,
                    delivered: 0,
                    in_flight_to: 0
                },
                CursorInfo {
                    name: "b".into(),
                    kind: Some("command".into()),
                    mode: Some(DeliveryMode::AtMostOnce),
                    delivered: 3,
                    in_flight_to: 5
                },
            ]
        );
    }

    #[test]
    fn last_seq_across_rolls() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(journal_last_seq(dir.path()).expect("empty dir"), None);
        let (mut j, _) = Journal::open(
            dir.path(),
            JournalOptions {
                segment_bytes: 100,
                ..JournalOptions::default()
            },
        )
        .expect("open");
        assert_eq!(journal_last_seq(dir.path()).expect("new journal"), None);
        for n in 1..=7u64 {
            j.append(&[1; 20]).expect("append");
            j.sync().expect("sync");
            assert_eq!(journal_last_seq(dir.path()).expect("last"), Some(n));
        }
    }
}
