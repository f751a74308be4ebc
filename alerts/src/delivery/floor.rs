//! What the sinks of a journal still need, for retention: the lowest seq
//! any of them has not delivered yet. Read from the files, without locks
//! (safe while shippers run: a cursor only moves forward, so a value read a
//! moment ago needs at most more than the current one).
//!
//! Every sink counts that the journal knows of: each one in the registry
//! (it has shipped, and may be started again even if it is not configured
//! now), and each cursor file (a sink not registered yet is adopted at its
//! next start). A registered sink whose cursor is missing or damaged could
//! need anything: then nothing may go, and the answer says why.

use std::collections::BTreeSet;
use std::path::Path;

use crate::delivery::reset::cursor_names;
use crate::delivery::ship::cursor::{cursor_path, load};
use crate::delivery::ship::registry;
use crate::error::{AlertsError, Result};

/// The lowest seq the sinks of a journal still need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinksNeed {
    /// No sink ships from this journal.
    Nothing,
    /// `sink` has delivered everything before `seq` and nothing from it;
    /// every other sink has delivered at least as much.
    From { seq: u64, sink: String },
    /// What some sink needs cannot be known (why names it): keep everything.
    Unknown { why: String },
}

/// What the sinks of the journal in `journal_dir` still need. An I/O
/// failure is an error; a missing or damaged cursor, or a damaged
/// registry, is [`SinksNeed::Unknown`].
pub fn sinks_need(journal_dir: &Path) -> Result<SinksNeed> {
    let registered = match registry::load(journal_dir) {
        Ok(r) => r,
        Err(AlertsError::CursorCorrupt { path, reason }) => {
            return Ok(SinksNeed::Unknown {
                why: format!(
                    "the sink registry {} cannot be read ({reason})",
                    path.display()
                ),
            });
        }
        // What a registry this binary cannot read lists is unknown too.
        Err(e @ AlertsError::UnknownVersion { .. }) => {
            return Ok(SinksNeed::Unknown { why: e.to_string() });
        }
        Err(e) => return Err(e),
    };
    let mut names: BTreeSet<String> = cursor_names(journal_dir)?.into_iter().collect();
    names.extend(registered.keys().cloned());
    let mut lowest: Option<(u64, String)> = None;
    for name in names {
        let path = cursor_path(journal_dir, &name);
        let need = match load(&path) {
            Ok(Some(state)) => state.delivered.saturating_add(1),
            Ok(None) if registered.contains_key(&name) => {
                return Ok(SinksNeed::Unknown {
                    why: format!(
                        "sink {name:?} has shipped from this journal but its cursor {} is missing",
                        path.display()
                    ),
                });
            }
            // A cursor of an unregistered sink deleted since it was listed:
            // that sink starts anew, from whatever the journal keeps.
            Ok(None) => continue,
            Err(AlertsError::CursorCorrupt { path, reason }) => {
                return Ok(SinksNeed::Unknown {
                    why: format!(
                        "the cursor {} of sink {name:?} is damaged ({reason})",
                        path.display()
                    ),
                });
            }
            // What a cursor this binary cannot read holds is unknown too.
            Err(e @ AlertsError::UnknownVersion { .. }) => {
                return Ok(SinksNeed::Unknown { why: e.to_string() });
            }
            Err(e) => return Err(e),
        };
        if lowest.as_ref().is_none_or(|(seq, _)| need < *seq) {
            lowest = Some((need, name));
        }
    }
    Ok(
        lowest.map_or(SinksNeed::Nothing, |(seq, sink)| SinksNeed::From {
            seq,
            sink,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::ship::cursor::{CursorFile, CursorState};
    use crate::delivery::ship::registry::{Registered, registry_path};

    fn register(dir: &Path, name: &str) {
        let entry = Registered {
            kind: "file".into(),
            first_seq: 1,
        };
        registry::register(dir, name, entry, None).expect("register");
    }

    #[test]
    fn the_sink_furthest_behind_sets_the_floor() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(sinks_need(dir.path()).expect("none"), SinksNeed::Nothing);
        let _a = CursorFile::create(dir.path(), "a", CursorState::settled(30)).expect("a");
        register(dir.path(), "a");
        // In flight counts as not delivered: it may be sent again.
        let in_flight = CursorState {
            delivered: 12,
            in_flight_to: 20,
        };
        let mut b = CursorFile::create(dir.path(), "b", CursorState::settled(0)).expect("b");
        b.store(in_flight).expect("store");
        // b is not registered yet (adopted at its next start): it counts.
        assert_eq!(
            sinks_need(dir.path()).expect("need"),
            SinksNeed::From {
                seq: 13,
                sink: "b".into()
            }
        );
    }

    #[test]
    fn a_registered_sink_without_a_readable_cursor_holds_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _a = CursorFile::create(dir.path(), "a", CursorState::settled(30)).expect("a");
        register(dir.path(), "a");
        register(dir.path(), "gone");
        let SinksNeed::Unknown { why } = sinks_need(dir.path()).expect("need") else {
            panic!("a missing cursor must hold everything");
        };
        assert!(why.contains("\"gone\"") && why.contains("missing"), "{why}");

        let dir = tempfile::tempdir().expect("tempdir");
        let a = CursorFile::create(dir.path(), "a", CursorState::settled(30)).expect("a");
        drop(a);
        std::fs::write(cursor_path(dir.path(), "a"), [9u8; 544]).expect("damage");
        let SinksNeed::Unknown { why } = sinks_need(dir.path()).expect("need") else {
            panic!("a damaged cursor must hold everything");
        };
        assert!(why.contains("\"a\"") && why.contains("damaged"), "{why}");

        std::fs::write(registry_path(dir.path()), "[x]\nkind = 3\n").expect("registry");
        let SinksNeed::Unknown { why } = sinks_need(dir.path()).expect("need") else {
            panic!("a damaged registry must hold everything");
        };
        assert!(why.contains("registry"), "{why}");

        // So does one of a format version this binary does not read.
        std::fs::write(registry_path(dir.path()), "format_version = 99\n").expect("registry");
        let SinksNeed::Unknown { why } = sinks_need(dir.path()).expect("need") else {
            panic!("an unreadable registry must hold everything");
        };
        assert!(why.contains("format version 99"), "{why}");
    }

    #[test]
    fn a_cursor_of_an_unknown_format_version_holds_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(CursorFile::create(dir.path(), "a", CursorState::settled(30)).expect("a"));
        let path = cursor_path(dir.path(), "a");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[4..6].copy_from_slice(&99u16.to_le_bytes());
        bytes[6..8].copy_from_slice(&(!99u16).to_le_bytes());
        std::fs::write(&path, bytes).expect("write");
        let SinksNeed::Unknown { why } = sinks_need(dir.path()).expect("need") else {
            panic!("an unreadable cursor must hold everything");
        };
        assert!(why.contains("format version 99"), "{why}");
    }
}
