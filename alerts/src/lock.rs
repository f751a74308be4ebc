//! Exclusive advisory locks on files (the journal's `LOCK`, each sink's
//! cursor, the sink registry's), released explicitly.
//!
//! An `flock` belongs to the open file description, not to the descriptor. A
//! process spawned by any thread (the `command` sink's children, a test's)
//! holds a copy of every descriptor from its fork until its exec — they are
//! all close-on-exec, so not a moment longer — and if the holder merely
//! closed its descriptor in that window, the child's copy would keep the lock
//! and the next open of the file would be refused as locked. Unlocking before
//! closing releases the lock at once, whatever copies exist.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::{AlertsError, Result};

/// A file held under an exclusive lock until dropped.
#[derive(Debug)]
pub(crate) struct LockedFile {
    file: File,
}

impl LockedFile {
    /// Locks `file` (opened at `path`) exclusively, without waiting: held
    /// elsewhere is [`AlertsError::Locked`].
    pub(crate) fn try_lock(file: File, path: &Path) -> Result<Self> {
        match file.try_lock() {
            Ok(()) => Ok(LockedFile { file }),
            Err(TryLockError::WouldBlock) => Err(AlertsError::Locked {
                path: path.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(AlertsError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Locks `file` (opened at `path`) exclusively, waiting for a holder to
    /// release it (for short critical sections, like a registry update).
    pub(crate) fn lock(file: File, path: &Path) -> Result<Self> {
        match file.lock() {
            Ok(()) => Ok(LockedFile { file }),
            Err(source) => Err(AlertsError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The locked file, for reading and writing it.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for LockedFile {
    fn drop(&mut self) {
        // A failed unlock leaves what closing leaves: the lock goes with the
        // last copy of the descriptor.
        let _ = self.file.unlock();
    }
}
