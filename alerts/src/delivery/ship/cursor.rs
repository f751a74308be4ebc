//! A sink's persisted cursor, `<journal dir>/cursors/<name>.cursor`, and its
//! `<name>.sink` sidecar (kind and mode, for `journal cursors`).
//!
//! The cursor file is fixed-size with two slots, each `magic u32le,
//! generation u64le, delivered u64le, in_flight_to u64le, crc32 u32le` (CRC
//! over the bytes before it). A write goes to slot `generation % 2` with one
//! `pwrite` + `fdatasync`, so a crash mid-write tears at most the slot being
//! written and the other one still holds the previous state. Loading picks
//! the valid slot with the highest generation. Slots sit in different
//! 512-byte sectors so one torn sector cannot damage both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::delivery::mode::DeliveryMode;
use crate::error::{AlertsError, Result, io_at};
use crate::lock::LockedFile;
use crate::writer::sync_dir;

/// The directory of cursors under a journal directory.
pub(crate) const CURSORS_DIR: &str = "cursors";
pub(crate) const CURSOR_EXT: &str = "cursor";
pub(crate) const SIDECAR_EXT: &str = "sink";

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
    file: LockedFile,
    generation: u64,
    state: CursorState,
    /// After a failed write or fsync what reached the disk is unknown (and a
    /// retried fsync may lie), so the handle refuses further writes.
    poisoned: bool,
}

pub(crate) fn cursor_path(journal_dir: &Path, name: &str) -> PathBuf {
    journal_dir
        .join(CURSORS_DIR)
        .join(format!("{name}.{CURSOR_EXT}"))
}

pub(crate) fn sidecar_path(journal_dir: &Path, name: &str) -> PathBuf {
    journal_dir
        .join(CURSORS_DIR)
        .join(format!("{name}.{SIDECAR_EXT}"))
}

impl CursorFile {
    /// Opens (creating if missing, as `(0, 0)`) and locks the cursor of
    /// `name`. A second shipper for the same sink gets [`AlertsError::Locked`].
    pub(crate) fn open(journal_dir: &Path, name: &str) -> Result<Self> {
        let dir = journal_dir.join(CURSORS_DIR);
        ensure_dir(&dir)?;
        let path = cursor_path(journal_dir, name);
        if !path.try_exists().map_err(io_at(&path))? {
            create_fresh(&path, &dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_at(&path))?;
        let file = LockedFile::try_lock(file, &path)?;
        let (generation, state) = load_from(file.file(), &path)?;
        Ok(Self {
            path,
            file,
            generation,
            state,
            poisoned: false,
        })
    }

    pub(crate) fn state(&self) -> CursorState {
        self.state
    }

    /// Durably records `state` (one pwrite + fdatasync).
    pub(crate) fn store(&mut self, state: CursorState) -> Result<()> {
        if self.poisoned {
            return Err(AlertsError::Poisoned);
        }
        let generation = self.generation.wrapping_add(1);
        let slot = encode_slot(generation, state);
        let result = self
            .file
            .file()
            .write_all_at(&slot, slot_offset(generation))
            .and_then(|()| self.file.file().sync_data());
        if let Err(source) = result {
            self.poisoned = true;
            return Err(AlertsError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.generation = generation;
        self.state = state;
        Ok(())
    }
}

/// Reads the cursor at `path` without locking or writing; `None` if missing.
pub(crate) fn load(path: &Path) -> Result<Option<CursorState>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    Ok(Some(load_from(&file, path)?.1))
}

fn load_from(file: &File, path: &Path) -> Result<(u64, CursorState)> {
    let mut slots = [[0u8; SLOT_LEN]; 2];
    for (i, slot) in slots.iter_mut().enumerate() {
        // A short file leaves the slot zeroed, which fails the magic check.
        read_up_to(file, slot, i as u64 * SLOT_STRIDE).map_err(io_at(path))?;
    }
    let best = slots
        .iter()
        .filter_map(decode_slot)
        .max_by_key(|(generation, _)| *generation);
    best.ok_or_else(|| AlertsError::CursorCorrupt {
        path: path.to_path_buf(),
        reason: "no valid slot (both torn or damaged); restore it or set it \
                 deliberately, it is never reset automatically"
            .into(),
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

fn decode_slot(slot: &[u8; SLOT_LEN]) -> Option<(u64, CursorState)> {
    let u32_at = |i: usize| u32::from_le_bytes([slot[i], slot[i + 1], slot[i + 2], slot[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&slot[i..i + 8]);
        u64::from_le_bytes(b)
    };
    if u32_at(0) != MAGIC || u32_at(28) != crc32fast::hash(&slot[..28]) {
        return None;
    }
    let state = CursorState {
        delivered: u64_at(12),
        in_flight_to: u64_at(20),
    };
    // A CRC-valid slot breaking the invariant was written by a bug: not trusted.
    (state.in_flight_to >= state.delivered).then_some((u64_at(4), state))
}

/// Creates the file with slot 0 = generation 0, `(0, 0)`, atomically (temp +
/// fsync + rename + dir fsync), so a crash can never leave an empty cursor
/// file that would then (rightly) be refused as corrupt.
fn create_fresh(path: &Path, dir: &Path) -> Result<()> {
    let mut bytes = vec![0u8; FILE_LEN as usize];
    bytes[..SLOT_LEN].copy_from_slice(&encode_slot(0, CursorState::default()));
    write_atomic(path, dir, &bytes)
}

/// Writes the `<name>.sink` sidecar (atomically) so `journal cursors` can show
/// the kind and mode next to the cursor.
pub(crate) fn write_sidecar(
    journal_dir: &Path,
    name: &str,
    kind: &str,
    mode: DeliveryMode,
) -> Result<()> {
    let dir = journal_dir.join(CURSORS_DIR);
    ensure_dir(&dir)?;
    let meta = SinkMeta {
        kind: kind.to_string(),
        mode,
    };
    let text = toml::to_string(&meta).map_err(|e| AlertsError::SinkConfig {
        sink: name.to_string(),
        reason: format!("encoding the sidecar: {e}"),
    })?;
    write_atomic(&sidecar_path(journal_dir, name), &dir, text.as_bytes())
}

/// The sidecar's contents.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkMeta {
    pub kind: String,
    pub mode: DeliveryMode,
}

/// Reads a sidecar; `None` if missing. A sidecar that does not parse is an
/// error naming it (it is written atomically, so that means tampering).
pub(crate) fn read_sidecar(path: &Path) -> Result<Option<SinkMeta>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| AlertsError::CursorCorrupt {
            path: path.to_path_buf(),
            reason: format!("bad sidecar: {e}"),
        })
}

fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    // Make the new directory entry itself durable.
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn write_atomic(path: &Path, dir: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp).map_err(io_at(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_at(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_at(path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            match CursorFile::open(dir.path(), "s") {
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
        let mut c = CursorFile::open(dir.path(), "s").expect("open");
        assert_eq!(c.state(), CursorState::default());
        c.store(state(3, 7)).expect("store");
        c.store(state(7, 7)).expect("store");
        c.store(state(7, 9)).expect("store");
        drop(c);
        let path = cursor_path(dir.path(), "s");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), FILE_LEN);
        assert_eq!(load(&path).expect("load"), Some(state(7, 9)));
        let c = CursorFile::open(dir.path(), "s").expect("reopen");
        assert_eq!(c.state(), state(7, 9));
        assert_eq!(load(&cursor_path(dir.path(), "nope")).expect("load"), None);
    }

    #[test]
    fn second_opener_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _c = CursorFile::open(dir.path(), "s").expect("open");
        assert!(matches!(
            CursorFile::open(dir.path(), "s"),
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
        let mut c = CursorFile::open(dir.path(), "s").expect("open");
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
        // The next store after a fallback overwrites the damaged slot and wins.
        damage(&path, 2, 13);
        let mut c = CursorFile::open(dir.path(), "s").expect("open");
        assert_eq!(c.state(), state(4, 4));
        c.store(state(5, 5)).expect("store");
        assert_eq!(load(&path).expect("load"), Some(state(5, 5)));
    }

    #[test]
    fn both_slots_bad_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = CursorFile::open(dir.path(), "s").expect("open");
        c.store(state(1, 1)).expect("store");
        drop(c);
        let path = cursor_path(dir.path(), "s");
        damage(&path, 0, 12);
        damage(&path, 1, 12);
        let err = CursorFile::open(dir.path(), "s").err().expect("must fail");
        assert!(matches!(&err, AlertsError::CursorCorrupt { path: p, .. } if *p == path));
        assert!(err.to_string().contains("s.cursor"), "{err}");
        // An empty file is refused too, never taken for a fresh cursor.
        std::fs::write(&path, b"").expect("truncate");
        assert!(matches!(
            load(&path),
            Err(AlertsError::CursorCorrupt { .. })
        ));
    }

    #[test]
    fn sidecar_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_sidecar(dir.path(), "s", "file", DeliveryMode::ExactlyOnce).expect("write");
        let path = sidecar_path(dir.path(), "s");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "kind = \"file\"\nmode = \"exactly-once\"\n");
        let meta = read_sidecar(&path).expect("read").expect("present");
        assert_eq!(
            (meta.kind.as_str(), meta.mode),
            ("file", DeliveryMode::ExactlyOnce)
        );
        assert!(
            read_sidecar(&sidecar_path(dir.path(), "x"))
                .expect("read")
                .is_none()
        );
    }
}
