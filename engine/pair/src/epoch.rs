//! The node's epoch, persisted in its state directory (`epoch`): raised by
//! every takeover before the new active ships anything, so that it is never
//! lower after a restart than what its alerts carried.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::{PairError, Result};

const FILE: &str = "epoch";

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

fn err(p: &Path, reason: impl std::fmt::Display) -> PairError {
    PairError::Epoch {
        path: p.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The epoch stored in `state_dir` (0 when none was ever stored).
pub fn load(state_dir: &Path) -> Result<u64> {
    let p = path(state_dir);
    match fs::read_to_string(&p) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| err(&p, format!("holds {:?}, not an epoch", text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(err(&p, e)),
    }
}

/// Stores `epoch` durably (temporary file, fsync, rename, directory fsync).
pub fn store(state_dir: &Path, epoch: u64) -> Result<()> {
    fs::create_dir_all(state_dir).map_err(|e| err(state_dir, e))?;
    let p = path(state_dir);
    let tmp = state_dir.join(format!("{FILE}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(|e| err(&tmp, e))?;
    f.write_all(format!("{epoch}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e))?;
    fs::rename(&tmp, &p).map_err(|e| err(&p, e))?;
    fs::File::open(state_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(state_dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_survives_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("none yet"), 0);
        store(dir.path(), 7).expect("store");
        assert_eq!(load(dir.path()).expect("load"), 7);
        fs::write(dir.path().join(FILE), "seven").expect("garbage");
        assert!(load(dir.path()).is_err());
    }
}
