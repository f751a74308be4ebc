//! A sink's persisted cursor, `<journal dir>/cursors/<name>.cursor`.
//!
//! The cursor file is fixed-size with two slots, each `magic u32le,
//! generation u64le, delivered u64le, in_flight_to u64le, crc32 u32le` (CRC
//! over the bytes before it). A write goes to slot `generation % 2` with one
//! `pwrite` + `fdatasync`, so a crash mid-write tears at most the slot being
//! written and the other one still holds the previous state. Loading picks
//! the valid slot with the highest generation. Slots sit in different
//! 512-byte sectors so one torn sector cannot damage both.
//!
//! A slot that is all zeros was never written (a new file's second slot); a
//! slot with another magic or a bad CRC is *damaged* (a write torn by a
//! crash, or the disk): reported with [`CursorFile::damaged_slot`] so the
//! shipper can say so, rather than take the older slot's state for
//! something a crash did to a send.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::delivery::ship::atomic::{ensure_dir, write_atomic};
use crate::error::{AlertsError, Result, io_at};
use crate::lock::LockedFile;

/// The directory of cursors under a journal directory.
pub(crate) const CURSORS_DIR: &str = "cursors";
pub(crate) const CURSOR_EXT: &str = "cursor";

const MAGIC: u32 = 0x4144_4355; // "ADCU"
const SLOT_LEN: usize = 32;
const SLOT_STRIDE: u64 = 512;
const FILE_LEN: u64 = SLOT_STRIDE + SLOT_LEN as u64;

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
    /// a mirror gets the complete bytes without reading them back.
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
    /// none (both slots damaged). `Ok(None)` if the file does not exist.
    pub(crate) fn open_to_overwrite(
        journal_dir: &Path,
        name: &str,
    ) -> Result<Option<(Self, std::result::Result<CursorState, String>)>> {
        let Some((path, file)) = open_locked(journal_dir, name)? else {
            return Ok(None);
        };
        let image = read_image(file.file(), &path)?;
        Ok(Some(match pick(&slots_of(&image)) {
            Some(loaded) => {
                let state = loaded.state;
                (Self::with(name, path, file, loaded, image), Ok(state))
            }
            None => {
                let blank = Loaded {
                    generation: 0,
                    state: CursorState::default(),
                    damaged_slot: None,
                };
                let cursor = Self::with(name, path, file, blank, image);
                (cursor, Err(NO_VALID_SLOT.to_owned()))
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

const NO_VALID_SLOT: &str = "no valid slot (both torn or damaged); restore it, or set it \
    deliberately with `aldebaran journal cursors --reset <sink> --to SEQ|head|oldest \
    <journal dir>`: it is never reset automatically";

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
/// slot).
pub(crate) fn decode_file(bytes: &[u8]) -> std::result::Result<CursorState, String> {
    if bytes.len() as u64 != FILE_LEN {
        return Err(format!(
            "{} bytes; a cursor file has {FILE_LEN}",
            bytes.len()
        ));
    }
    pick(&slots_of(bytes))
        .map(|loaded| loaded.state)
        .ok_or_else(|| "no valid slot (both torn or damaged)".to_owned())
}

/// What loading a cursor file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loaded {
    generation: u64,
    state: CursorState,
    damaged_slot: Option<u8>,
}

/// One slot as found on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Valid {
        generation: u64,
        state: CursorState,
    },
    /// All zeros: never written.
    Empty,
    /// Another magic, a bad CRC, or a CRC-valid state breaking the invariant.
    Damaged,
}

fn pick_or_refuse(image: &[u8], path: &Path) -> Result<Loaded> {
    pick(&slots_of(image)).ok_or_else(|| AlertsError::CursorCorrupt {
        path: path.to_path_buf(),
        reason: NO_VALID_SLOT.into(),
    })
}

/// The file's first [`FILE_LEN`] bytes. A short file is padded with zeros,
/// which read as a slot never written; a file with no valid slot at all is
/// refused by `pick`.
fn read_image(file: &File, path: &Path) -> Result<Vec<u8>> {
    let mut image = vec![0u8; FILE_LEN as usize];
    read_up_to(file, &mut image, 0).map_err(io_at(path))?;
    Ok(image)
}

/// The two slots of a file image of [`FILE_LEN`] bytes.
fn slots_of(image: &[u8]) -> [Slot; 2] {
    [0, 1].map(|i| {
        let at = i * SLOT_STRIDE as usize;
        let mut raw = [0u8; SLOT_LEN];
        if let Some(bytes) = image.get(at..at + SLOT_LEN) {
            raw.copy_from_slice(bytes);
        }
        decode_slot(&raw)
    })
}

/// The valid slot with the highest generation, and the other one if it is
/// damaged; `None` if neither is valid. The other slot may be empty only
/// beside generation 0 (a new file): every later generation was written
/// next to an earlier one, so an empty slot there was zeroed by damage.
fn pick(slots: &[Slot; 2]) -> Option<Loaded> {
    let (i, generation, state) = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match *s {
            Slot::Valid { generation, state } => Some((i, generation, state)),
            _ => None,
        })
        .max_by_key(|(_, generation, _)| *generation)?;
    let other = 1 - i;
    let damaged = match slots[other] {
        Slot::Damaged => true,
        Slot::Empty => generation > 0,
        Slot::Valid { .. } => false,
    };
    Some(Loaded {
        generation,
        state,
        damaged_slot: damaged.then_some(other as u8),
    })
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

fn slot_offset(generation: u64) -> u64 {
    (generation % 2) * SLOT_STRIDE
}

fn encode_slot(generation: u64, state: CursorState) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    slot[4..12].copy_from_slice(&generation.to_le_bytes());
    slot[12..20].copy_from_slice(&state.delivered.to_le_bytes());
    slot[20..28].copy_from_slice(&state.in_flight_to.to_le_bytes());
    let crc = crc32fast::hash(&slot[..28]);
    slot[28..32].copy_from_slice(&crc.to_le_bytes());
    slot
}

fn decode_slot(slot: &[u8; SLOT_LEN]) -> Slot {
    if slot.iter().all(|&b| b == 0) {
        return Slot::Empty;
    }
    let u32_at = |i: usize| u32::from_le_bytes([slot[i], slot[i + 1], slot[i + 2], slot[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&slot[i..i + 8]);
        u64::from_le_bytes(b)
    };
    if u32_at(0) != MAGIC || u32_at(28) != crc32fast::hash(&slot[..28]) {
        return Slot::Damaged;
    }
    let state = CursorState {
        delivered: u64_at(12),
        in_flight_to: u64_at(20),
    };
    // A CRC-valid slot breaking the invariant was written by a bug: not trusted.
    if state.in_flight_to < state.delivered {
        return Slot::Damaged;
    }
    Slot::Valid {
        generation: u64_at(4),
        state,
    }
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
    fn slots_pick_the_newest_valid_and_name_a_damaged_other() {
        let valid = |generation, d| Slot::Valid {
            generation,
            state: state(d, d),
        };
        let loaded = |generation, d, damaged_slot| {
            Some(Loaded {
                generation,
                state: state(d, d),
                damaged_slot,
            })
        };
        assert_eq!(pick(&[valid(4, 4), valid(5, 5)]), loaded(5, 5, None));
        assert_eq!(pick(&[valid(6, 6), valid(5, 5)]), loaded(6, 6, None));
        assert_eq!(pick(&[valid(0, 0), Slot::Empty]), loaded(0, 0, None));
        // Beside generation 1 or later, an empty slot was zeroed by damage.
        assert_eq!(pick(&[Slot::Empty, valid(1, 1)]), loaded(1, 1, Some(0)));
        assert_eq!(pick(&[valid(2, 2), Slot::Empty]), loaded(2, 2, Some(1)));
        assert_eq!(pick(&[valid(4, 4), Slot::Damaged]), loaded(4, 4, Some(1)));
        assert_eq!(pick(&[Slot::Damaged, valid(3, 3)]), loaded(3, 3, Some(0)));
        for none in [
            [Slot::Damaged, Slot::Damaged],
            [Slot::Empty, Slot::Empty],
            [Slot::Empty, Slot::Damaged],
        ] {
            assert_eq!(pick(&none), None, "{none:?}");
        }
        assert_eq!(decode_slot(&[0; SLOT_LEN]), Slot::Empty);
        let mut bad = encode_slot(3, state(1, 2));
        bad[13] ^= 1;
        assert_eq!(decode_slot(&bad), Slot::Damaged);
        assert_eq!(decode_slot(&encode_slot(3, state(2, 1))), Slot::Damaged);
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
}
