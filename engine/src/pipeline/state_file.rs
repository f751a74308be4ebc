//! The state snapshot file of `aldebaran run`: read at start, written at a
//! graceful shutdown (atomically: temporary file, fsync, rename, fsync dir).
//!
//! A snapshot is consumed when it is loaded: it is renamed aside, so that a
//! crash later does not restart from state older than what was acknowledged
//! since (a crash restarts with empty state instead, and the broker
//! redelivers what was not acknowledged).

use std::{
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
};

use crate::{EngineError, Result, core::Engine};

const FILE: &str = "snapshot";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::Output {
        path: path.to_path_buf(),
        source,
    }
}

/// Restores `engine` from the snapshot in `dir`, if there is one; returns
/// the path it was read from.
pub(crate) fn load(dir: &Path, engine: &mut Engine) -> Result<Option<PathBuf>> {
    let path = dir.join(FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    engine.restore(&bytes).map_err(|e| {
        EngineError::Config(format!(
            "cannot restore state from {}: {e} (move it away to start with empty state)",
            path.display()
        ))
    })?;
    let used = dir.join(format!("{FILE}.restored"));
    fs::rename(&path, &used).map_err(io_err(&path))?;
    Ok(Some(path))
}

/// Writes `engine`'s state to `dir` atomically.
pub(crate) fn save(dir: &Path, engine: &Engine) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = engine.snapshot();
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(&bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(path)
}
