//! Small files replaced whole and durably (the cursor of a new sink, the
//! sidecars, the sink registry): written to a temp file, fsynced, renamed
//! over the old one, the directory fsynced, so a crash leaves the old file
//! or the new one, never a torn one. A standby's mirrored cursors are
//! replaced the same way without the fsyncs, and synced in one pass later.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, io_at};
use crate::writer::sync_dir;

/// Creates `dir` (and its parents) if missing, durably.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
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

/// Replaces `path` (in `dir`) with `bytes`, atomically and durably.
pub(crate) fn write_atomic(path: &Path, dir: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)?;
    sync_dir(dir)
}

/// Replaces `path` with `bytes` atomically (a crash of this process leaves
/// the old file or the new one) but not durably: a power loss may lose the
/// replacement until [`sync_files`] has run over the directory.
pub(crate) fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp).map_err(io_at(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| if sync { file.sync_all() } else { Ok(()) })
        .map_err(io_at(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_at(path))
}

/// Makes every file directly in `dir`, and `dir` itself, durable.
pub(crate) fn sync_files(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io_at(dir))?.path();
        if !path.is_file() {
            continue;
        }
        match File::open(&path) {
            Ok(f) => f.sync_all().map_err(io_at(&path))?,
            // Replaced or removed meanwhile: its successor is synced or
            // will be by the next pass.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&path)(e)),
        }
    }
    sync_dir(dir)
}
