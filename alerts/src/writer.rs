//! [`Journal`]: the single writer. Opening recovers (scan → [`decide`] → execute);
//! appends are framed into a user-space buffer; `sync` makes them durable.
//!
//! Records are written into zeros the writer wrote ahead of them
//! ([`PREALLOCATE`] at a time), so a sync of records does not change the
//! file's size: `fdatasync` then writes the data alone, where a growing file
//! makes it write the inode too (a second I/O on every sync, on ext4 without
//! a journal as here, or a journal commit with one). The format needs no
//! change for it: zeros at the end of the last segment are the torn tail
//! recovery already cuts, readers stop at a zero frame header, and a segment
//! is cut to its last record when it is sealed or the journal is closed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{AlertsError, Result, io_at};
use crate::frame::{self, HEADER_LEN, MAX_PAYLOAD};
use crate::lock::LockedFile;
use crate::recovery::{TruncatedTail, decide, require_durable};
use crate::retention::{oldest_kept, write_oldest};
use crate::segment::{list_segments, scan_file, segment_name};

/// Buffered bytes past which `append` hands them to the OS before framing more.
const FLUSH_AT: usize = 1 << 20;
/// Zeros written ahead of the records at a time: one size-changing sync per
/// this much journal instead of one per group commit.
pub(crate) const PREALLOCATE: u64 = 1 << 20;
/// What zeros are written from.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
const LOCK_FILE: &str = "LOCK";

/// Options of [`Journal::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalOptions {
    /// A segment is closed (synced) and a new one started once the next record
    /// would take it past this size. A single larger record gets its own segment.
    pub segment_bytes: u64,
    /// What the rest of the system relied on as durable, if anything: open
    /// refuses ([`AlertsError::Lost`]) rather than truncate or reuse a seq
    /// at or below it.
    pub durable: Option<DurableClaim>,
    /// The seq of the first record of a journal created empty (1 for an
    /// alert journal; an input log continues after its checkpoint).
    pub first_seq: u64,
}

/// Every seq through `through` was durable, as `by` knows: e.g. "the
/// checkpoint ./state/checkpoint covers seq 41".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableClaim {
    pub through: u64,
    pub by: String,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 << 20,
            durable: None,
            first_seq: 1,
        }
    }
}

/// What [`Journal::open`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Segment files after recovery (a new journal has one, empty).
    pub segments: usize,
    /// Records in the journal.
    pub records: u64,
    /// The torn tail that was cut off, if any.
    pub truncated: Option<TruncatedTail>,
}

/// The segment being appended to: `written` are the bytes handed to the OS
/// (the buffer's come after them), `allocated` the file's size (records,
/// then preallocated zeros).
struct Active {
    path: PathBuf,
    file: File,
    written: u64,
    allocated: u64,
    /// False once the disk had no room for zeros ahead of the records.
    preallocating: bool,
    records: u64,
}

/// The append-only alert journal (the writer side). One per directory, enforced by
/// an OS lock on `DIR/LOCK`. After any `Err` from an I/O step the handle is
/// poisoned ([`AlertsError::Poisoned`]); reopening recovers.
pub struct Journal {
    dir: PathBuf,
    opts: JournalOptions,
    active: Active,
    buf: Vec<u8>,
    next_seq: u64,
    bytes_written: u64,
    poisoned: bool,
    /// Held for the lifetime of the handle; the OS lock is released on drop.
    _lock: LockedFile,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Journal>();
};

impl Journal {
    /// Opens `dir` (creating it if absent) and recovers: a torn tail of the last
    /// segment is truncated and reported; corruption anywhere else is an error.
    pub fn open(dir: &Path, opts: JournalOptions) -> Result<(Journal, OpenReport)> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let lock = lock_dir(dir)?;
        let segments = list_segments(dir)?;
        let scans = segments
            .iter()
            .map(|(seq, path)| scan_file(*seq, path))
            .collect::<Result<Vec<_>>>()?;
        let (through, claim) = opts
            .durable
            .as_ref()
            .map_or((0, ""), |c| (c.through, c.by.as_str()));
        let last = segments
            .last()
            .zip(scans.last())
            .map(|((_, path), scan)| (path.as_path(), scan.valid_end));
        let oldest = match segments.is_empty() {
            // A new journal starts where it is asked to (an input log
            // continues after the frames its checkpoint already holds).
            true if opts.first_seq > 1 => {
                write_oldest(dir, opts.first_seq)?;
                opts.first_seq
            }
            _ => oldest_kept(dir)?,
        };
        let recovery = require_durable(decide(&scans, oldest), through, last);
        let (kept, truncated) = recovery.accept(claim)?;
        if let Some(tail) = &truncated {
            truncate(tail)?;
        }
        let next_seq = kept.next_seq();
        let active = match segments.last() {
            None => create_segment(dir, next_seq)?,
            Some((_, path)) => reopen_last(path, scans.last().map_or(0, |s| s.records))?,
        };
        let report = OpenReport {
            segments: segments.len().max(1),
            records: kept.records,
            truncated,
        };
        let journal = Journal {
            dir: dir.to_path_buf(),
            opts,
            active,
            buf: Vec::new(),
            next_seq,
            bytes_written: 0,
            poisoned: false,
            _lock: lock,
        };
        Ok((journal, report))
    }

    /// The seq the next `append` returns: 1 for a new journal.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Frames `payload` into the buffer and returns its seq. Nothing is durable
    /// before [`Journal::sync`]. Rolls to a new segment (syncing the old one) when
    /// the record would take the current one past `segment_bytes`. On `Err` the
    /// payload was not appended.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        if payload.len() > MAX_PAYLOAD as usize {
            return Err(AlertsError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        self.check()?;
        let len = frame::frame_len(payload.len());
        let segment_len = self.active.written + self.buf.len() as u64;
        if self.active.records > 0 && segment_len + len > self.opts.segment_bytes {
            self.guard(Self::roll)?;
        } else if self.buf.len() >= FLUSH_AT {
            self.guard(Self::write_buffer)?;
        }
        let seq = self.next_seq;
        frame::encode_into(&mut self.buf, seq, payload);
        self.active.records += 1;
        self.next_seq = seq.saturating_add(1);
        self.bytes_written += len;
        Ok(seq)
    }

    /// Hands buffered bytes to the OS (`write_all`). Not durable by itself.
    pub fn flush(&mut self) -> Result<()> {
        self.check()?;
        self.guard(Self::write_buffer)
    }

    /// Flushes and `fdatasync`s the current segment: every record appended so far
    /// is durable when this returns Ok. Group commit is many appends, one sync.
    pub fn sync(&mut self) -> Result<()> {
        self.check()?;
        self.guard(|j| {
            j.write_buffer()?;
            j.active.file.sync_data().map_err(io_at(&j.active.path))
        })
    }

    /// Frame bytes appended through this handle (segment headers excluded).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check(&self) -> Result<()> {
        if self.poisoned {
            Err(AlertsError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Runs an I/O step; a failure poisons the handle.
    fn guard<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let out = step(self);
        self.poisoned |= out.is_err();
        out
    }

    fn write_buffer(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            let a = &mut self.active;
            a.file
                .write_all_at(&self.buf, a.written)
                .map_err(io_at(&a.path))?;
            a.written += self.buf.len() as u64;
            a.allocated = a.allocated.max(a.written);
            self.buf.clear();
            if a.allocated - a.written < PREALLOCATE / 2 {
                a.preallocate()?;
            }
        }
        Ok(())
    }

    /// Makes the full segment durable, cut to its last record, before the
    /// next one exists, so that only the last segment can ever have a torn
    /// tail (or preallocated zeros).
    fn roll(&mut self) -> Result<()> {
        self.write_buffer()?;
        self.active.cut()?;
        self.active
            .file
            .sync_data()
            .map_err(io_at(&self.active.path))?;
        self.active = create_segment(&self.dir, self.next_seq)?;
        Ok(())
    }
}

impl Active {
    /// Writes zeros from the file's end to [`PREALLOCATE`] past the records.
    /// Not synced here: the next sync carries them, and the new size, once.
    fn preallocate(&mut self) -> Result<()> {
        self.preallocate_with(|file, zeros, at| file.write_all_at(zeros, at))
    }

    /// [`Active::preallocate`] through `write` (tests make it fail). A disk
    /// without room for the zeros is no error: they are given back to the
    /// records, and this segment grows as it is written, so a full disk
    /// still stops the journal at the first record that does not fit, as
    /// without preallocation, and not up to a mebibyte earlier.
    fn preallocate_with(
        &mut self,
        mut write: impl FnMut(&File, &[u8], u64) -> std::io::Result<()>,
    ) -> Result<()> {
        if !self.preallocating {
            return Ok(());
        }
        let to = self.written + PREALLOCATE;
        while self.allocated < to {
            let n = (to - self.allocated).min(ZEROS.len() as u64) as usize;
            match write(&self.file, &ZEROS[..n], self.allocated) {
                Ok(()) => self.allocated += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                    tracing::warn!(
                        segment = %self.path.display(),
                        "journal: no room to preallocate; this segment grows as it is written"
                    );
                    self.preallocating = false;
                    // A partial write may have grown the file up to `to`.
                    self.allocated = to;
                    return self.cut();
                }
                Err(e) => return Err(io_at(&self.path)(e)),
            }
        }
        Ok(())
    }

    /// Cuts the preallocated zeros off (not synced by itself).
    fn cut(&mut self) -> Result<()> {
        if self.allocated > self.written {
            self.file.set_len(self.written).map_err(io_at(&self.path))?;
            self.allocated = self.written;
        }
        Ok(())
    }
}

impl Drop for Journal {
    /// Best effort: hands buffered records to the OS and cuts the
    /// preallocated zeros off, so a closed journal ends at its last record.
    /// Durability needs `sync`; zeros a crash leaves are cut by recovery.
    fn drop(&mut self) {
        if self.poisoned {
            return;
        }
        if let Err(error) = self.write_buffer().and_then(|()| self.active.cut()) {
            tracing::warn!(%error, "alert journal: flush on drop failed");
        }
    }
}

/// Takes the journal's writer lock (`DIR/LOCK`) without waiting; held
/// elsewhere is [`AlertsError::Locked`]. Also taken by `journal cursors
/// --reset`, which must not move a cursor under a running engine.
pub(crate) fn lock_dir(dir: &Path) -> Result<LockedFile> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    LockedFile::try_lock(file, &path)
}

fn truncate(tail: &TruncatedTail) -> Result<()> {
    if tail.zeros {
        // What a crash leaves of the preallocated space: no record is lost.
        tracing::info!(
            segment = %tail.segment.display(),
            offset = tail.offset,
            bytes_dropped = tail.bytes_dropped,
            "alert journal: cutting the zeros a crash left after the last record"
        );
    } else {
        tracing::warn!(
            segment = %tail.segment.display(),
            offset = tail.offset,
            bytes_dropped = tail.bytes_dropped,
            reason = %tail.reason,
            "alert journal: truncating torn tail"
        );
    }
    let file = OpenOptions::new()
        .write(true)
        .open(&tail.segment)
        .map_err(io_at(&tail.segment))?;
    file.set_len(tail.offset).map_err(io_at(&tail.segment))?;
    file.sync_all().map_err(io_at(&tail.segment))
}

/// Creates segment `first_seq` with its header, durable, and syncs the directory.
fn create_segment(dir: &Path, first_seq: u64) -> Result<Active> {
    let path = dir.join(segment_name(first_seq));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io_at(&path))?;
    file.write_all_at(&frame::segment_header(), 0)
        .map_err(io_at(&path))?;
    file.sync_data().map_err(io_at(&path))?;
    sync_dir(dir)?;
    Ok(Active {
        path,
        file,
        written: HEADER_LEN,
        allocated: HEADER_LEN,
        preallocating: true,
        records: 0,
    })
}

/// Opens the recovered last segment for appending; rewrites a missing header.
fn reopen_last(path: &Path, records: u64) -> Result<Active> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_at(path))?;
    let mut len = file.metadata().map_err(io_at(path))?.len();
    if len == 0 {
        file.write_all_at(&frame::segment_header(), 0)
            .map_err(io_at(path))?;
        file.sync_data().map_err(io_at(path))?;
        len = HEADER_LEN;
    }
    Ok(Active {
        path: path.to_path_buf(),
        file,
        written: len,
        allocated: len,
        preallocating: true,
        records,
    })
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
