//! The standby side of cursor mirroring (SPEC §6): what an active hands a
//! standby that joins ([`cursor_files`]: every file under `cursors/` a
//! shipper needs to resume), and how the standby writes each file the
//! active's [`CursorMirror`](crate::delivery::CursorMirror) sends it
//! ([`install_cursor_file`]). With the journal segments copied alongside, a
//! shipper started over the standby's journal resumes exactly where the
//! active's stood, and reports the send the active had in flight as in
//! doubt.
//!
//! Only cursor files (`cursors/<sink>.cursor`) and the sink registry
//! (`cursors/registry`) travel: the sidecars are rewritten by every shipper
//! at start, the dead-letter files are each node's own record of what it
//! refused, and the locks and temp files are local by nature.

use std::fs::OpenOptions;
use std::path::Path;

use crate::delivery::ship::atomic::{ensure_dir, sync_files, write_atomic, write_atomic_unsynced};
use crate::delivery::ship::cursor::{CURSOR_EXT, CURSORS_DIR, decode_file};
use crate::delivery::ship::registry::{self, REGISTRY_FILE};
use crate::error::{AlertsError, Result, io_at};
use crate::lock::LockedFile;

/// A file under `cursors/` that travels.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Mirrored {
    Cursor { sink: String },
    Registry,
}

/// What a file name directly under `cursors/` is, if it travels.
fn classify(file_name: &str) -> Option<Mirrored> {
    if file_name == REGISTRY_FILE {
        return Some(Mirrored::Registry);
    }
    let sink = file_name.strip_suffix(&format!(".{CURSOR_EXT}"))?;
    // Sink names are `[A-Za-z0-9_-]+` (the config refuses others), which
    // also keeps `.`, `/` and `..` out of the name.
    let valid = !sink.is_empty()
        && sink
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    valid.then(|| Mirrored::Cursor {
        sink: sink.to_owned(),
    })
}

/// What a mirrored `rel_path` is: exactly `cursors/<file>` for a file that
/// travels; why not otherwise.
fn target(rel_path: &str) -> std::result::Result<(Mirrored, &str), String> {
    let mut parts = rel_path.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(CURSORS_DIR), Some(file), None) => {
            classify(file).map(|m| (m, file)).ok_or_else(|| {
                format!("{file:?} is neither a cursor file (<sink>.cursor) nor the registry")
            })
        }
        _ => Err(format!(
            "not a file directly under {CURSORS_DIR}/ (no other directory, no `..`, no absolute path)"
        )),
    }
}

/// The highest seq a mirrored cursor file records as delivered or in
/// flight (`Ok(None)` for the registry): a standby installs it only once
/// its own journal holds that seq durably, so a restart never finds a
/// cursor ahead of its journal.
pub fn cursor_reach(rel_path: &str, bytes: &[u8]) -> Result<Option<u64>> {
    let refuse = |reason: String| AlertsError::CursorInstall {
        rel_path: rel_path.to_owned(),
        reason,
    };
    match target(rel_path).map_err(refuse)?.0 {
        Mirrored::Registry => Ok(None),
        Mirrored::Cursor { .. } => {
            let s = decode_file(bytes).map_err(refuse)?;
            Ok(Some(s.delivered.max(s.in_flight_to)))
        }
    }
}

/// Every cursor file and the sink registry under `<journal_dir>/cursors/`,
/// as (path relative to `journal_dir`, complete bytes), sorted by path;
/// empty if there is no `cursors/` directory. Safe while shippers run: a
/// cursor slot torn by a concurrent write leaves the other slot valid (a
/// file gone between listing and reading is left out).
pub fn cursor_files(journal_dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = journal_dir.join(CURSORS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_at(&dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if classify(&name).is_none() {
            continue;
        }
        let path = entry.path();
        match std::fs::read(&path) {
            Ok(bytes) => files.push((format!("{CURSORS_DIR}/{name}"), bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&path)(e)),
        }
    }
    files.sort();
    Ok(files)
}

/// How [`install_cursor_file`] makes its write durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// fsync the file and the directory before returning.
    Durable,
    /// Atomic against a crash of this process, durable only once
    /// [`sync_cursor_files`] has run: for a standby, whose copy matters
    /// when the active dies (this host's page cache holds it) and which
    /// syncs before it takes over, so that each mirrored send does not pay
    /// two fsyncs here on top of the active's own.
    Deferred,
}

/// Makes every file under `<journal_dir>/cursors/` durable (after
/// [`Install::Deferred`] installs).
pub fn sync_cursor_files(journal_dir: &Path) -> Result<()> {
    sync_files(&journal_dir.join(CURSORS_DIR))
}

/// Writes a mirrored file: `rel_path` (relative to `journal_dir`) becomes
/// exactly `bytes`, atomically (temp file, rename; with
/// [`Install::Durable`] the fsyncs of the file and the directory too), so a
/// crash leaves the old file or the new one.
///
/// Refused ([`AlertsError::CursorInstall`], nothing written) for a path
/// that is not directly under `cursors/` or not a cursor file or the
/// registry (`..`, another directory, an absolute path, a sidecar), for
/// bytes that do not decode as such a file, and for a cursor whose lock a
/// shipper holds (the node is shipping that sink itself: another node's
/// cursor must not move under it). The cursor's lock is held through the
/// rename, so a shipper starting meanwhile is refused rather than left
/// with the replaced file; the registry is replaced under its own lock.
pub fn install_cursor_file(
    journal_dir: &Path,
    rel_path: &str,
    bytes: &[u8],
    how: Install,
) -> Result<()> {
    let refuse = |reason: String| AlertsError::CursorInstall {
        rel_path: rel_path.to_owned(),
        reason,
    };
    let (what, file) = target(rel_path).map_err(refuse)?;
    match &what {
        Mirrored::Cursor { .. } => decode_file(bytes)
            .map(drop)
            .map_err(|why| refuse(format!("not a cursor file: {why}")))?,
        Mirrored::Registry => std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(registry::parse)
            .map(drop)
            .map_err(|why| refuse(format!("not a sink registry: {why}")))?,
    }
    let dir = journal_dir.join(CURSORS_DIR);
    ensure_dir(&dir)?;
    let path = dir.join(file);
    let _held = match what {
        Mirrored::Cursor { sink } => lock_cursor(&path).map_err(|e| match e {
            AlertsError::Locked { .. } => refuse(format!(
                "the cursor of sink {sink:?} is held by a running shipper on this node"
            )),
            e => e,
        })?,
        Mirrored::Registry => Some(registry::lock(journal_dir)?),
    };
    match how {
        Install::Durable => write_atomic(&path, &dir, bytes),
        Install::Deferred => write_atomic_unsynced(&path, bytes),
    }
}

/// The existing cursor file at `path`, locked without waiting; `None` if
/// there is none (nothing to hold yet).
fn lock_cursor(path: &Path) -> Result<Option<LockedFile>> {
    match OpenOptions::new().read(true).open(path) {
        Ok(file) => LockedFile::try_lock(file, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::DeliveryMode;
    use crate::delivery::ship::cursor::{CursorFile, CursorState, load};
    use crate::delivery::ship::registry::{Registered, register};
    use crate::delivery::ship::sidecar::write_sidecar;

    fn refusal(dir: &Path, rel_path: &str, bytes: &[u8]) -> String {
        match install_cursor_file(dir, rel_path, bytes, Install::Durable) {
            Err(AlertsError::CursorInstall { reason, .. }) => reason,
            other => panic!("{rel_path}: expected a refusal, got {other:?}"),
        }
    }

    /// An active's cursors directory: a cursor, the registry, and the files
    /// that do not travel.
    fn active() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c =
            CursorFile::create(dir.path(), "hook", CursorState::settled(4)).expect("create");
        c.store(CursorState {
            delivered: 4,
            in_flight_to: 6,
        })
        .expect("store");
        let entry = Registered {
            kind: "http".into(),
            first_seq: 1,
        };
        register(dir.path(), "hook", entry, None).expect("register");
        write_sidecar(dir.path(), "hook", "http", DeliveryMode::ExactlyOnce).expect("sidecar");
        let cursors = dir.path().join(CURSORS_DIR);
        std::fs::write(cursors.join("hook.dead.jsonl"), "{}\n").expect("dead letters");
        (dir, c.bytes().to_vec())
    }

    #[test]
    fn cursor_files_are_the_cursors_and_the_registry() {
        let (dir, cursor) = active();
        let files = cursor_files(dir.path()).expect("files");
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["cursors/hook.cursor", "cursors/registry"]);
        assert_eq!(files[0].1, cursor);
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(cursor_files(empty.path()).expect("none").is_empty());
    }

    #[test]
    fn installed_files_read_back_as_the_active_wrote_them() {
        for how in [Install::Durable, Install::Deferred] {
            installed_files_read_back(how);
        }
    }

    fn installed_files_read_back(how: Install) {
        let (dir, _) = active();
        let standby = tempfile::tempdir().expect("tempdir");
        for (rel_path, bytes) in cursor_files(dir.path()).expect("files") {
            install_cursor_file(standby.path(), &rel_path, &bytes, how).expect("install");
        }
        sync_cursor_files(standby.path()).expect("sync");
        let left: Vec<_> = std::fs::read_dir(standby.path().join(CURSORS_DIR))
            .expect("cursors dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{how:?} left temp files: {left:?}");
        let path = standby.path().join("cursors/hook.cursor");
        assert_eq!(
            load(&path).expect("load"),
            Some(CursorState {
                delivered: 4,
                in_flight_to: 6
            })
        );
        let sinks = registry::load(standby.path()).expect("registry");
        assert_eq!(sinks.get("hook").map(|r| r.first_seq), Some(1));
        assert_eq!(
            cursor_files(standby.path()).expect("files"),
            cursor_files(dir.path()).expect("files")
        );
        assert!(
            !standby.path().join("cursors/hook.cursor.tmp").exists(),
            "no temp file left"
        );
    }

    #[test]
    fn paths_outside_cursors_and_other_files_are_refused() {
        let (dir, cursor) = active();
        let standby = tempfile::tempdir().expect("tempdir");
        for rel_path in [
            "../x",
            "cursors/../x.cursor",
            "cursors/../../etc/passwd",
            "/cursors/hook.cursor",
            "cursors/sub/hook.cursor",
            "cursors",
            "cursors/",
            "cursors/.cursor",
            "cursors/..cursor",
            "cursors/hook.sink",
            "cursors/hook.dead.jsonl",
            "cursors/registry.lock",
            "cursors/hook.cursor.tmp",
            "segments/hook.cursor",
            "hook.cursor",
        ] {
            let why = refusal(standby.path(), rel_path, &cursor);
            assert!(!why.is_empty(), "{rel_path}");
        }
        assert!(
            !standby.path().join(CURSORS_DIR).exists(),
            "a refusal writes nothing"
        );
        drop(dir);
    }

    #[test]
    fn bytes_that_are_no_such_file_are_refused() {
        let (_dir, cursor) = active();
        let standby = tempfile::tempdir().expect("tempdir");
        let why = refusal(
            standby.path(),
            "cursors/hook.cursor",
            b"[hook]\nkind = \"http\"\n",
        );
        assert!(why.contains("not a cursor file"), "{why}");
        let mut torn = cursor.clone();
        torn[13] ^= 0x40;
        torn[512 + 13] ^= 0x40;
        let why = refusal(standby.path(), "cursors/hook.cursor", &torn);
        assert!(why.contains("no valid slot"), "{why}");
        let why = refusal(standby.path(), "cursors/registry", &cursor);
        assert!(why.contains("not a sink registry"), "{why}");
        let why = refusal(standby.path(), "cursors/registry", b"[hook]\nkind = 3\n");
        assert!(why.contains("not a sink registry"), "{why}");
        assert!(!standby.path().join("cursors/hook.cursor").exists());
    }

    #[test]
    fn a_cursor_a_shipper_holds_is_refused() {
        let (dir, cursor) = active();
        let standby = tempfile::tempdir().expect("tempdir");
        install_cursor_file(
            standby.path(),
            "cursors/hook.cursor",
            &cursor,
            Install::Durable,
        )
        .expect("install");
        // What a running shipper holds.
        let held = CursorFile::open_existing(standby.path(), "hook")
            .expect("open")
            .expect("exists");
        let mut newer = CursorFile::open_existing(dir.path(), "hook")
            .expect("open")
            .expect("exists");
        newer.store(CursorState::settled(6)).expect("store");
        let why = refusal(standby.path(), "cursors/hook.cursor", newer.bytes());
        assert!(why.contains("held by a running shipper"), "{why}");
        let path = standby.path().join("cursors/hook.cursor");
        let before = CursorState {
            delivered: 4,
            in_flight_to: 6,
        };
        assert_eq!(
            load(&path).expect("load"),
            Some(before),
            "unchanged under the shipper"
        );
        drop(held);
        install_cursor_file(
            standby.path(),
            "cursors/hook.cursor",
            newer.bytes(),
            Install::Durable,
        )
        .expect("installed once released");
        assert_eq!(load(&path).expect("load"), Some(CursorState::settled(6)));
    }
}
