//! Small files replaced whole and durably (the cursor of a new sink, the
//! sidecars, the sink registry): written to a temp file, fsynced, renamed
//! over the old one, the directory fsynced, so a crash leaves the old file
//! or the new one, never a torn one.

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
