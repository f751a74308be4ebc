//! A sink's persisted cursor, `<journal dir>/cursors/<name>.cursor`.
//!
//! The cursor file is fixed-size with two slots (`cursor_slot.rs`: each a
//! magic, the format version, a generation, delivered, in_flight_to and a
//! CRC over the bytes before it). A write goes to slot `generation % 2`
//! with one `pwrite` + `fdatasync`, so a crash mid-write tears at most the
//! slot being written and the other one still holds the previous state.
//! Loading picks the valid slot with the highest generation. Slots sit in
//! different 512-byte sectors so one torn sector cannot damage both.
//!
//! A slot that is all zeros was never written (a new file's second slot); a
//! slot with another magic or a bad CRC is *damaged* (a write torn by a
//! crash, or the disk): reported with [`CursorFile::damaged_slot`] so the
//! shipper can say so, rather than take the older slot's state for
//! something a crash did to a send. A slot of a format version this binary
//! does not read refuses the file ([`AlertsError::UnknownVersion`]).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::delivery::ship::atomic::{ensure_dir, write_atomic};
use crate::delivery::ship::cursor_slot::{
    FILE_LEN, Loaded, SLOT_LEN, V1_FILE_LEN, encode_slot, pick, slot_offset, slots_of,
};
use crate::error::{AlertsError, Result, io_at};
use crate::formats::{CURSOR, Unreadable};
use crate::lock::LockedFile;

/// The directory of cursors under a journal directory.
pub(crate) const CURSORS_DIR: &str = "cursors";
pub(crate) const CURSOR_EXT: &str = "cursor";

/// Where a sink stands. Invariant: `delivered <= in_flight_to`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CursorState {
    /// Every seq up to this one was delivered, dead-lettered or skipped.
    pub delivered: u64,
    /// A send of `delivered + 1 ..= in_flight_to` started and was not
    /// confirmed; equal to `delivered` when nothing is in flight.
    pub in_flight_to: u64,
}

impl CursorState {
    pub(crate) fn settled(seq: u64) -> Self {
        Self {
            delivered: seq,
            in_flight_to: seq,
        }
    }
}

/// The open, locked cursor file of one sink.
pub(crate) struct CursorFile {
    path: PathBuf,
    /// `cursors/<name>.cursor`: the path relative to the journal directory,
    /// as a cursor mirror names it.
    rel_path: String,
    file: LockedFile,
    /// The whole file as it is on disk (kept in step with every write), so
    /// a mirror gets the complete bytes without reading them back; a file
    /// of version 1 is 4 bytes shorter until its second slot is rewritten,
    /// and those read as the zeros they are here.
    image: Vec<u8>,
    generation: u64,
    state: CursorState,
    /// The slot (0 or 1) found damaged when the file was opened, if any.
    damaged_slot: Option<u8>,
    /// After a failed write or fsync what reached the disk is unknown (and a
    /// retried fsync may lie), so the handle refuses further writes.
    poisoned: bool,
}

pub(crate) fn cursor_path(journal_dir: &Path, name: &str) -> PathBuf {
    journal_dir
        .join(CURSORS_DIR)
        .join(format!("{name}.{CURSOR_EXT}"))
}

/// The cursor file of `name` relative to the journal directory.
pub(crate) fn cursor_rel_path(name: &str) -> String {
    format!("{CURSORS_DIR}/{name}.{CURSOR_EXT}")
}

impl CursorFile {
    /// Opens and locks the cursor of `name`, if its file exists (`Ok(None)`
    /// if not: never created here, see [`CursorFile::create`]). Held by
    /// another shipper is [`AlertsError::Locked`]; a file without a valid
    /// slot is [`AlertsError::CursorCorrupt`].
    pub(crate) fn open_existing(journal_dir: &Path, name: &str) -> Result<Option<Self>> {
        let Some((path, file)) = open_locked(journal_dir, name)? else {
            return Ok(None);
        };
        let image = read_image(file.file(), &path)?;
        let loaded = pick_or_refuse(&image, &path)?;
        Ok(Some(Self::with(name, path, file, loaded, image)))
    }

    /// Creates the cursor of `name` at `state` atomically (temp, fsync,
    /// rename, directory fsync: a crash never leaves an empty cursor file,
    /// which would then rightly be refused as corrupt) and opens it locked.
    pub(crate) fn create(journal_dir: &Path, name: &str, state: CursorState) -> Result<Self> {
        let dir = journal_dir.join(CURSORS_DIR);
        ensure_dir(&dir)?;
        let mut bytes = vec![0u8; FILE_LEN as usize];
        bytes[..SLOT_LEN].copy_from_slice(&encode_slot(0, state));
        write_atomic(&cursor_path(journal_dir, name), &dir, &bytes)?;
        Self::open_existing(journal_dir, name)?.ok_or_else(|| AlertsError::CursorCorrupt {
            path: cursor_path(journal_dir, name),
            reason: "removed right after it was created".into(),
        })
    }

    /// Opens and locks the cursor of `name` to overwrite it (`journal cursors
    /// --reset`), whatever its slots hold: the state found, or why there is
    /// none (both slots damaged, or a format version this binary does not
    /// read). `Ok(None)` if the file does not exist.
    pub(crate) fn open_to_overwrite(
        journal_dir: &Path,
        name: &str,
    ) -> Result<Option<(Self, std::result::Result<CursorState, Unreadable>)>> {
        let Some((path, file)) = open_locked(journal_dir, name)? else {
            return Ok(None);
        };
        let image = read_image(file.file(), &path)?;
        Ok(Some(match pick(&slots_of(&image)) {
            Ok(loaded) => {
                let state = loaded.state;
                (Self::with(name, path, file, loaded, image), Ok(state))
            }
            Err(why) => {
                let blank = Loaded {
                    generation: 0,
                    state: CursorState::default(),
                    damaged_slot: None,
                };
                let cursor = Self::with(name, path, file, blank, image);
                (cursor, Err(why))
            }
        }))
    }

    fn with(name: &str, path: PathBuf, file: LockedFile, loaded: Loaded, image: Vec<u8>) -> Self {
        Self {
            path,
            rel_path: cursor_rel_path(name),
            file,
            image,
            generation: loaded.generation,
            state: loaded.state,
            damaged_slot: loaded.damaged_slot,
            poisoned: false,
        }
    }

    pub(crate) fn state(&self) -> CursorState {
        self.state
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's path relative to the journal directory.
    pub(crate) fn rel_path(&self) -> &str {
        &self.rel_path
    }

    /// The file's complete bytes as they are on disk now.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.image
    }

    /// The slot found damaged when the file was opened (the state came from
    /// the other one), if any.
    pub(crate) fn damaged_slot(&self) -> Option<u8> {
        self.damaged_slot
    }

    /// Durably records `state` (one pwrite + fdatasync).
    pub(crate) fn store(&mut self, state: CursorState) -> Result<()> {
        if self.poisoned {
            return Err(AlertsError::Poisoned);
        }
        let generation = self.generation.wrapping_add(1);
        let slot = encode_slot(generation, state);
        let offset = slot_offset(generation);
        let result = self
            .file
            .file()
            .write_all_at(&slot, offset)
            .and_then(|()| self.file.file().sync_data());
        if let Err(source) = result {
            self.poisoned = true;
            return Err(AlertsError::Io {
                path: self.path.clone(),
                source,
            });
        }
        let at = offset as usize;
        self.image[at..at + SLOT_LEN].copy_from_slice(&slot);
        self.generation = generation;
        self.state = state;
        Ok(())
    }
}

/// What to do about a cursor without a valid slot.
const RESTORE_OR_RESET: &str = "restore it, or set it deliberately with `aldebaran journal \
    cursors --reset <sink> --to SEQ|head|oldest <journal dir>`: it is never reset automatically";

/// The cursor file of `name`, opened for reading and writing and locked;
/// `None` if it does not exist.
fn open_locked(journal_dir: &Path, name: &str) -> Result<Option<(PathBuf, LockedFile)>> {
    let path = cursor_path(journal_dir, name);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let file = LockedFile::try_lock(file, &path)?;
    Ok(Some((path, file)))
}

/// Reads the cursor at `path` without locking or writing; `None` if missing.
pub(crate) fn load(path: &Path) -> Result<Option<CursorState>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    Ok(Some(pick_or_refuse(&read_image(&file, path)?, path)?.state))
}

/// The state a cursor file's complete `bytes` hold (as a mirror sends
/// them); why not if they are no cursor file (another length, no valid
/// slot, a format version this binary does not read).
pub(crate) fn decode_file(bytes: &[u8]) -> std::result::Result<CursorState, String> {
    let len = bytes.len() as u64;
    // A file still holding a version-1 second slot is 4 bytes shorter.
    if len != FILE_LEN && len != V1_FILE_LEN {
        return Err(format!("{len} bytes; a cursor file has {FILE_LEN}"));
    }
    let mut image = bytes.to_vec();
    image.resize(FILE_LEN as usize, 0);
    match pick(&slots_of(&image)) {
        Ok(loaded) => Ok(loaded.state),
        Err(Unreadable::Version(found)) => Err(CURSOR.why_not(found)),
        Err(Unreadable::Damaged(why)) => Err(why),
    }
}

/// Why a cursor file's bytes are refused, as the error naming it says.
pub(crate) fn refusal(path: &Path, why: Unreadable) -> AlertsError {
    match why {
        Unreadable::Version(found) => CURSOR.refuse(path, found),
        Unreadable::Damaged(why) => AlertsError::CursorCorrupt {
            path: path.to_path_buf(),
            reason: format!("{why}; {RESTORE_OR_RESET}"),
        },
    }
}

fn pick_or_refuse(image: &[u8], path: &Path) -> Result<Loaded> {
    pick(&slots_of(image)).map_err(|why| refusal(path, why))
}

/// The file's first [`FILE_LEN`] bytes. A short file is padded with zeros,
/// which read as a slot never written; a file with no valid slot at all is
/// refused by `pick`.
fn read_image(file: &File, path: &Path) -> Result<Vec<u8>> {
    let mut image = vec![0u8; FILE_LEN as usize];
    read_up_to(file, &mut image, 0).map_err(io_at(path))?;
    Ok(image)
}

fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor of `name`, created at `(0, 0)` if missing, as a new sink's.
    fn open(dir: &Path, name: &str) -> Result<CursorFile> {
        match CursorFile::open_existing(dir, name)? {
            Some(c) => Ok(c),
            None => CursorFile::create(dir, name, CursorState::default()),
        }
    }

    fn state(delivered: u64, in_flight_to: u64) -> CursorState {
        CursorState {
            delivered,
            in_flight_to,
        }
    }

    /// The flake of `in_flight_range_already_in_the_file_is_not_written_twice`
    /// beside the command-sink tests: a process spawned by another thread
    /// holds a copy of every descriptor between its fork and its exec (they
    /// are close-on-exec, so only until then), and an flock belongs to the
    /// open file description, so a cursor closed in that window stayed
    /// locked and its next open was refused. The cursor now unlocks before
    /// it closes.
    #[test]
    fn a_released_cursor_can_be_taken_again_while_processes_are_spawned() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().expect("tempdir");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let spawners: Vec<_> = (0..3)
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = std::process::Command::new("true").status();
                    }
                })
            })
            .collect();
        let mut refused = 0;
        for _ in 0..3000 {
            match open(dir.path(), "s") {
                Ok(cursor) => drop(cursor),
                Err(AlertsError::Locked { .. }) => refused += 1,
                Err(e) => panic!("open: {e}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        for s in spawners {
            s.join().expect("spawner");
        }
        assert_eq!(refused, 0, "a released cursor was still locked");
    }

    #[test]
    fn fresh_then_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = open(dir.path(), "s").expect("open");
        assert_eq!(c.state(), CursorState::default());
        c.store(state(3, 7)).expect("store");
        c.store(state(7, 7)).expect("store");
        c.store(state(7, 9)).expect("store");
        let path = cursor_path(dir.path(), "s");
        // What a mirror is handed is the file, byte for byte.
        assert_eq!(c.bytes(), std::fs::read(&path).expect("read"));
        assert_eq!(c.rel_path(), "cursors/s.cursor");
        assert_eq!(decode_file(c.bytes()), Ok(state(7, 9)));
        drop(c);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), FILE_LEN);
        assert_eq!(load(&path).expect("load"), Some(state(7, 9)));
        let c = open(dir.path(), "s").expect("reopen");
        assert_eq!(c.state(), state(7, 9));
        assert_eq!(load(&cursor_path(dir.path(), "nope")).expect("load"), None);
    }

    #[test]
    fn second_opener_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _c = open(dir.path(), "s").expect("open");
        assert!(matches!(
            open(dir.path(), "s"),
            Err(AlertsError::Locked { .. })
        ));
    }

    /// Damages the slot holding `generation` by flipping one byte.
    fn damage(path: &Path, generation: u64, byte: u64) {
        let f = OpenOptions::new()
            .write(true)
            .read(true)
            .open(path)
            .expect("open");
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, slot_offset(generation) + byte)
            .expect("read");
        f.write_all_at(&[b[0] ^ 0x5a], slot_offset(generation) + byte)
            .expect("write");
    }

    #[test]
    fn torn_slot_falls_back_to_the_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = open(dir.path(), "s").expect("open");
        c.store(state(4, 4)).expect("store"); // generation 1
        c.store(state(4, 8)).expect("store"); // generation 2
        drop(c);
        let path = cursor_path(dir.path(), "s");
        for byte in [0, 5, 13, 21, 30] {
            let before = std::fs::read(&path).expect("read");
            damage(&path, 2, byte);
            assert_eq!(load(&path).expect("load"), Some(state(4, 4)), "byte {byte}");
            std::fs::write(&path, before).expect("restore");
        }
        // The fallback says which slot is damaged; the next store overwrites
        // it and wins.
        damage(&path, 2, 13);
        let mut c = open(dir.path(), "s").expect("open");
        assert_eq!((c.state(), c.damaged_slot()), (state(4, 4), Some(0)));
        c.store(state(5, 5)).expect("store");
        assert_eq!(load(&path).expect("load"), Some(state(5, 5)));
        drop(c);
        let c = open(dir.path(), "s").expect("open");
        assert_eq!((c.state(), c.damaged_slot()), (state(5, 5), None));
    }

    #[test]
    fn a_slot_never_written_is_not_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = CursorFile::create(dir.path(), "s", state(7, 7)).expect("create");
        assert_eq!((c.state(), c.damaged_slot()), (state(7, 7), None));
        drop(c);
        let c = open(dir.path(), "s").expect("open");
        assert_eq!((c.state(), c.damaged_slot()), (state(7, 7), None));
        assert!(
            CursorFile::open_existing(dir.path(), "t")
                .expect("open")
                .is_none()
        );
        assert!(
            !cursor_path(dir.path(), "t").exists(),
            "never created by opening"
        );
    }

    #[test]
    fn both_slots_bad_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = open(dir.path(), "s").expect("open");
        c.store(state(1, 1)).expect("store");
        drop(c);
        let path = cursor_path(dir.path(), "s");
        damage(&path, 0, 12);
        damage(&path, 1, 12);
        let err = open(dir.path(), "s").err().expect("must fail");
        assert!(matches!(&err, AlertsError::CursorCorrupt { path: p, .. } if *p == path));
        assert!(err.to_string().contains("s.cursor"), "{err}");
        assert!(err.to_string().contains("journal cursors --reset"), "{err}");
        let bytes = std::fs::read(&path).expect("read");
        assert!(decode_file(&bytes).is_err(), "no valid slot");
        assert!(decode_file(&bytes[..100]).is_err(), "short");
        // An empty file is refused too, never taken for a fresh cursor.
        std::fs::write(&path, b"").expect("truncate");
        assert!(matches!(
            load(&path),
            Err(AlertsError::CursorCorrupt { .. })
        ));
    }

    /// A cursor file as the releases before versioned formats wrote it
    /// (version 1: 544 bytes, slots without a version field) is read, and
    /// the stores after it write this release's slots.
    #[test]
    fn a_version_1_cursor_is_read_and_rewritten_in_the_versioned_form() {
        use crate::delivery::ship::cursor_slot::{SLOT_STRIDE, decode_slot, v1_slot};
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(CURSORS_DIR)).expect("dir");
        let path = cursor_path(dir.path(), "s");
        let mut old = vec![0u8; V1_FILE_LEN as usize];
        old[..32].copy_from_slice(&v1_slot(6, state(6, 6))[..32]);
        old[SLOT_STRIDE as usize..].copy_from_slice(&v1_slot(7, state(6, 9))[..32]);
        std::fs::write(&path, &old).expect("write");
        assert_eq!(load(&path).expect("load"), Some(state(6, 9)));
        assert_eq!(decode_file(&old), Ok(state(6, 9)));
        let mut c = open(dir.path(), "s").expect("open");
        assert_eq!((c.state(), c.damaged_slot()), (state(6, 9), None));
        c.store(state(9, 9)).expect("store");
        c.store(state(9, 12)).expect("store");
        drop(c);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len() as u64, FILE_LEN);
        for at in [0, SLOT_STRIDE as usize] {
            let mut slot = [0u8; SLOT_LEN];
            slot.copy_from_slice(&bytes[at..at + SLOT_LEN]);
            assert!(
                matches!(
                    decode_slot(&slot),
                    crate::delivery::ship::cursor_slot::Slot::Valid { .. }
                ),
                "slot at {at}"
            );
            assert_eq!(&bytes[at..at + 8], b"VCDA\x02\x00\xfd\xff", "slot at {at}");
        }
        assert_eq!(load(&path).expect("load"), Some(state(9, 12)));
    }

    /// A cursor with a slot of a future format version is refused in one
    /// line naming it, the version found and the versions read, whether a
    /// shipper opens it or `journal cursors` reads it; never taken for
    /// damage that the other slot could make up for.
    #[test]
    fn a_cursor_of_an_unknown_version_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = open(dir.path(), "s").expect("open");
        c.store(state(3, 3)).expect("store");
        drop(c);
        let path = cursor_path(dir.path(), "s");
        let mut bytes = std::fs::read(&path).expect("read");
        // The newer slot (generation 1, at 512) as a newer release wrote it.
        bytes[512 + 4..512 + 6].copy_from_slice(&99u16.to_le_bytes());
        bytes[512 + 6..512 + 8].copy_from_slice(&(!99u16).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let want = format!(
            "delivery cursor {}: format version 99, but this aldebaran reads versions 1 and 2; ",
            path.display()
        );
        for e in [
            open(dir.path(), "s").err().expect("refused"),
            load(&path).expect_err("refused"),
        ] {
            assert!(
                matches!(e, AlertsError::UnknownVersion { found: 99, .. }),
                "{e:?}"
            );
            assert!(!e.is_transient());
            let line = e.to_string();
            assert!(line.starts_with(&want), "{line}");
            assert!(line.contains("journal cursors --reset"), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
        let why = decode_file(&bytes).expect_err("mirrored bytes refused");
        assert!(why.contains("format version 99"), "{why}");
        // `--reset` may still overwrite it: that is the way out it names.
        let (_, found) = CursorFile::open_to_overwrite(dir.path(), "s")
            .expect("open")
            .expect("exists");
        assert_eq!(found, Err(Unreadable::Version(99)));
    }
}
