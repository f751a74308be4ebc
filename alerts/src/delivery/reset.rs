//! `aldebaran journal cursors --reset NAME --to SEQ|head|oldest DIR`: an
//! operator sets a sink's cursor on purpose — after it was lost (a sink in
//! the registry without one refuses to start), after both its slots were
//! damaged, or to resend or skip alerts deliberately. Where it goes is a pure
//! decision ([`reset_target`]); the rest is I/O under two locks, taken
//! without waiting: the journal's (no engine runs on it) and the cursor's (no
//! shipper holds it).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::delivery::ship::cursor::{
    CURSOR_EXT, CURSORS_DIR, CursorFile, CursorState, cursor_path,
};
use crate::delivery::ship::registry;
use crate::delivery::status::journal_last_seq;
use crate::error::{AlertsError, Result, io_at};
use crate::formats::Unreadable;
use crate::retention::first_kept_seq;
use crate::writer::lock_dir;

/// Where `--to` puts a cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetTo {
    /// Every seq up to this one counts as delivered; shipping resumes after
    /// it (the last seq the destination is known to hold).
    Seq(u64),
    /// The journal's last seq: everything journaled so far is skipped.
    Head,
    /// Before the oldest record the journal keeps (seq 0 unless retention
    /// removed segments): everything it holds is sent again.
    Oldest,
}

impl FromStr for ResetTo {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "head" => Ok(ResetTo::Head),
            "oldest" => Ok(ResetTo::Oldest),
            _ => s
                .parse()
                .map(ResetTo::Seq)
                .map_err(|_| format!("`{s}` is neither a seq nor `head` nor `oldest`")),
        }
    }
}

impl fmt::Display for ResetTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetTo::Seq(seq) => write!(f, "seq {seq}"),
            ResetTo::Head => f.write_str("head"),
            ResetTo::Oldest => f.write_str("oldest"),
        }
    }
}

/// The cursor a reset replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorBefore {
    /// There was no cursor file.
    Missing,
    /// The file had no valid slot; why.
    Damaged(String),
    /// The file was of a format version this binary does not read (a newer
    /// release wrote it).
    UnknownVersion { found: u64 },
    /// Where it stood.
    At { delivered: u64, in_flight_to: u64 },
}

/// What a reset did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorReset {
    pub sink: String,
    pub path: PathBuf,
    pub to: ResetTo,
    pub before: CursorBefore,
    /// The cursor now: every seq up to it counts as delivered.
    pub delivered: u64,
    /// The journal's last seq at the reset.
    pub journal_last: u64,
}

/// The seq a cursor is reset to (every seq up to it counts as delivered),
/// given the journal's last seq and the oldest seq it keeps; a seq past the
/// last is refused (the journal would refuse a cursor ahead of it as a
/// loss), and so is one that would need seqs retention removed (the sink
/// would refuse to start).
pub(crate) fn reset_target(
    to: ResetTo,
    last: u64,
    oldest: u64,
) -> std::result::Result<u64, String> {
    let before_oldest = oldest.saturating_sub(1);
    match to {
        ResetTo::Seq(seq) if seq > last => {
            Err(format!("seq {seq} is past the journal's last seq {last}"))
        }
        ResetTo::Seq(seq) if seq < before_oldest => Err(format!(
            "the journal keeps seqs from {oldest} on (retention removed the older ones), so \
             seqs {}..={before_oldest} cannot be sent (`--to oldest` ships from seq {oldest})",
            seq + 1
        )),
        ResetTo::Seq(seq) => Ok(seq),
        ResetTo::Head => Ok(last),
        ResetTo::Oldest => Ok(before_oldest),
    }
}

/// Sets the cursor of sink `sink` of the journal in `journal_dir` per `to`,
/// durably, clearing any in-flight mark. Refused ([`AlertsError::CursorReset`])
/// while the journal or the cursor is in use, for a sink the journal knows
/// nothing of (neither registered nor with a cursor file: a typo), and for a
/// seq the journal does not hold.
pub fn reset_cursor(journal_dir: &Path, sink: &str, to: ResetTo) -> Result<CursorReset> {
    let refuse = |reason: String| AlertsError::CursorReset {
        sink: sink.to_owned(),
        reason,
    };
    std::fs::metadata(journal_dir).map_err(io_at(journal_dir))?;
    let _journal = lock_dir(journal_dir).map_err(|e| match e {
        AlertsError::Locked { path } => refuse(format!(
            "the journal is in use by a running aldebaran ({} is locked); stop it first",
            path.display()
        )),
        e => e,
    })?;
    let path = cursor_path(journal_dir, sink);
    let existing = CursorFile::open_to_overwrite(journal_dir, sink).map_err(|e| match e {
        AlertsError::Locked { .. } => refuse(format!(
            "its cursor {} is held by a running shipper; stop the service first",
            path.display()
        )),
        e => e,
    })?;
    let registered = registry::load(journal_dir)?;
    if existing.is_none() && !registered.contains_key(sink) {
        let mut known: Vec<String> = registered.into_keys().collect();
        known.extend(cursor_names(journal_dir)?);
        known.sort();
        known.dedup();
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        return Err(refuse(format!(
            "this journal has no such sink (neither in {} nor with a cursor); known: {known}",
            registry::registry_path(journal_dir).display()
        )));
    }
    let journal_last = journal_last_seq(journal_dir)?.unwrap_or(0);
    let oldest = first_kept_seq(journal_dir)?;
    let delivered = reset_target(to, journal_last, oldest).map_err(refuse)?;
    let state = CursorState::settled(delivered);
    let before = match existing {
        Some((mut cursor, found)) => {
            // Both slots, so no damaged or stale slot outlives the reset.
            cursor.store(state)?;
            cursor.store(state)?;
            match found {
                Ok(s) => CursorBefore::At {
                    delivered: s.delivered,
                    in_flight_to: s.in_flight_to,
                },
                Err(Unreadable::Damaged(reason)) => CursorBefore::Damaged(reason),
                Err(Unreadable::Version(found)) => CursorBefore::UnknownVersion { found },
            }
        }
        None => {
            CursorFile::create(journal_dir, sink, state)?;
            CursorBefore::Missing
        }
    };
    Ok(CursorReset {
        sink: sink.to_owned(),
        path,
        to,
        before,
        delivered,
        journal_last,
    })
}

/// The sinks with a cursor file.
pub(crate) fn cursor_names(journal_dir: &Path) -> Result<Vec<String>> {
    let dir = journal_dir.join(CURSORS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_at(&dir))?.path();
        if path.extension().and_then(|e| e.to_str()) == Some(CURSOR_EXT)
            && let Some(name) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::ship::cursor::load;
    use crate::delivery::ship::registry::Registered;
    use crate::{Journal, JournalOptions};

    #[test]
    fn targets() {
        assert_eq!(reset_target(ResetTo::Head, 42, 1), Ok(42));
        assert_eq!(reset_target(ResetTo::Oldest, 42, 1), Ok(0));
        assert_eq!(reset_target(ResetTo::Seq(0), 42, 1), Ok(0));
        assert_eq!(reset_target(ResetTo::Seq(42), 42, 1), Ok(42));
        assert_eq!(
            reset_target(ResetTo::Seq(43), 42, 1),
            Err("seq 43 is past the journal's last seq 42".into())
        );
        assert_eq!(reset_target(ResetTo::Head, 0, 1), Ok(0));
        assert!(reset_target(ResetTo::Seq(1), 0, 1).is_err());
    }

    /// Retention removed seqs 1..=19: the cursor goes no lower than 19.
    #[test]
    fn targets_after_retention() {
        assert_eq!(reset_target(ResetTo::Oldest, 42, 20), Ok(19));
        assert_eq!(reset_target(ResetTo::Seq(19), 42, 20), Ok(19));
        assert_eq!(reset_target(ResetTo::Head, 42, 20), Ok(42));
        let e = reset_target(ResetTo::Seq(3), 42, 20).expect_err("gone");
        assert!(e.contains("from 20 on") && e.contains("4..=19"), "{e}");
    }

    #[test]
    fn to_parses_and_prints() {
        for (text, to) in [
            ("head", ResetTo::Head),
            ("oldest", ResetTo::Oldest),
            ("17", ResetTo::Seq(17)),
        ] {
            assert_eq!(text.parse::<ResetTo>(), Ok(to));
        }
        assert!("tail".parse::<ResetTo>().is_err());
        assert!("-1".parse::<ResetTo>().is_err());
        assert_eq!(ResetTo::Seq(3).to_string(), "seq 3");
    }

    fn journal(records: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
        for _ in 0..records {
            j.append(b"{}").expect("append");
        }
        j.sync().expect("sync");
        dir
    }

    #[test]
    fn a_missing_cursor_of_a_registered_sink_is_created_where_asked() {
        let dir = journal(9);
        let entry = Registered {
            kind: "http".into(),
            first_seq: 1,
        };
        registry::register(dir.path(), "hook", entry, None).expect("register");
        let r = reset_cursor(dir.path(), "hook", ResetTo::Seq(4)).expect("reset");
        assert_eq!(
            (r.before, r.delivered, r.journal_last),
            (CursorBefore::Missing, 4, 9)
        );
        assert_eq!(load(&r.path).expect("load"), Some(CursorState::settled(4)));
    }

    #[test]
    fn an_existing_cursor_is_overwritten_in_both_slots() {
        let dir = journal(9);
        let mut c = CursorFile::create(dir.path(), "s", CursorState::settled(2)).expect("create");
        c.store(CursorState {
            delivered: 2,
            in_flight_to: 6,
        })
        .expect("store");
        drop(c);
        let r = reset_cursor(dir.path(), "s", ResetTo::Head).expect("reset");
        assert_eq!(
            r.before,
            CursorBefore::At {
                delivered: 2,
                in_flight_to: 6
            }
        );
        let c = CursorFile::open_existing(dir.path(), "s")
            .expect("open")
            .expect("present");
        assert_eq!(
            (c.state(), c.damaged_slot()),
            (CursorState::settled(9), None)
        );
        drop(c);
        // A cursor with no valid slot is set too, and says it was damaged.
        std::fs::write(cursor_path(dir.path(), "s"), [7u8; 544]).expect("damage");
        let r = reset_cursor(dir.path(), "s", ResetTo::Oldest).expect("reset");
        assert!(matches!(r.before, CursorBefore::Damaged(_)), "{r:?}");
        let c = CursorFile::open_existing(dir.path(), "s")
            .expect("open")
            .expect("present");
        assert_eq!(
            (c.state(), c.damaged_slot()),
            (CursorState::settled(0), None)
        );
    }

    /// `--reset` is the way out a cursor of an unknown format version
    /// names: it overwrites both slots in this release's form.
    #[test]
    fn a_cursor_of_an_unknown_version_can_be_reset() {
        let dir = journal(9);
        drop(CursorFile::create(dir.path(), "s", CursorState::settled(2)).expect("create"));
        let path = cursor_path(dir.path(), "s");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[4..6].copy_from_slice(&99u16.to_le_bytes());
        bytes[6..8].copy_from_slice(&(!99u16).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(
            load(&path),
            Err(AlertsError::UnknownVersion { found: 99, .. })
        ));
        let r = reset_cursor(dir.path(), "s", ResetTo::Seq(5)).expect("reset");
        assert_eq!(r.before, CursorBefore::UnknownVersion { found: 99 });
        assert_eq!(load(&path).expect("load"), Some(CursorState::settled(5)));
    }

    #[test]
    fn refusals_name_the_reason() {
        let dir = journal(3);
        let _a = CursorFile::create(dir.path(), "a", CursorState::default()).expect("create");
        // Held by a "shipper".
        let e = reset_cursor(dir.path(), "a", ResetTo::Head).expect_err("held");
        assert!(e.to_string().contains("held by a running shipper"), "{e}");
        // Unknown.
        let e = reset_cursor(dir.path(), "b", ResetTo::Head).expect_err("unknown");
        assert!(
            e.to_string().contains("no such sink") && e.to_string().contains("known: a"),
            "{e}"
        );
        assert!(!cursor_path(dir.path(), "b").exists(), "nothing created");
        // Past the journal.
        drop(_a);
        let e = reset_cursor(dir.path(), "a", ResetTo::Seq(4)).expect_err("past");
        assert!(e.to_string().contains("last seq 3"), "{e}");
        // The journal in use by an engine.
        let (_j, _) = Journal::open(dir.path(), JournalOptions::default()).expect("open");
        let e = reset_cursor(dir.path(), "a", ResetTo::Head).expect_err("in use");
        assert!(
            e.to_string().contains("in use by a running aldebaran"),
            "{e}"
        );
    }
}
