//! The input log of `aldebaran run` (`<state.dir>/input/`): every micro-batch
//! the engine processed, in order, as its Arrow columns, with what a restart
//! needs to continue after it. It is the unit of durability between full
//! snapshots of the state — LMAX's input journal: the state is a pure function
//! of the input, so a snapshot plus the batches after it rebuild it exactly
//! (`replay`), and a checkpoint costs what the input costs, not what the
//! state weighs. A source is acknowledged only once the frames that hold its
//! messages are durable.
//!
//! Frames (`frame`) are payloads of the same segmented, CRC-framed,
//! seq-numbered log the alert journal uses (`alerts::Journal`); a snapshot
//! records the frame seq it includes, and retention deletes whole segments
//! before it.

mod frame;
mod replay;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alerts::{Journal, JournalOptions};
use columnar::TradeBatch;

pub(crate) use frame::{FrameMeta, decode, digest, journal_end, set_dead_letter_bytes};
pub(crate) use replay::{Replayed, replay};

use crate::{PipelineError, Result};

/// The directory of the input log under the state directory.
pub(crate) fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("input")
}

/// The writing end, owned by the journal thread.
pub(crate) struct InputLog {
    log: Journal,
    frame: Vec<u8>,
    /// Bytes appended since the log was opened, read by the engine thread to
    /// decide when a full snapshot pays off.
    appended: Arc<AtomicU64>,
}

impl InputLog {
    /// Opens (creating) the log in `dir`; an empty one starts at `first_seq`
    /// (after the frames the checkpoint already holds). A torn tail is cut:
    /// frames never acknowledged are re-read from the source.
    pub(crate) fn open(dir: &Path, first_seq: u64) -> Result<Self> {
        let (log, report) = Journal::open(
            dir,
            JournalOptions {
                first_seq,
                ..JournalOptions::default()
            },
        )?;
        if let Some(t) = report.truncated.as_ref().filter(|t| !t.zeros) {
            tracing::warn!(segment = %t.segment.display(), offset = t.offset, reason = %t.reason,
                "input log: a torn tail was cut (its input is read from the source again)");
        }
        Ok(InputLog {
            log,
            frame: Vec::new(),
            appended: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The seq the next frame gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.log.next_seq()
    }

    /// Bytes appended so far, shared with the snapshot policy.
    pub(crate) fn appended(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.appended)
    }

    /// Appends the frame of `batch`; returns its seq.
    pub(crate) fn append(&mut self, meta: &FrameMeta, batch: &TradeBatch) -> Result<u64> {
        frame::encode(meta, batch, &mut self.frame)
            .map_err(|e| PipelineError::Internal(format!("encoding an input frame: {e}")))?;
        let seq = self.log.append(&self.frame)?;
        self.appended
            .fetch_add(self.frame.len() as u64, Ordering::Relaxed);
        Ok(seq)
    }

    /// Appends a frame encoded elsewhere (a standby logging the active's);
    /// returns its seq.
    pub(crate) fn append_raw(&mut self, frame: &[u8]) -> Result<u64> {
        let seq = self.log.append(frame)?;
        self.appended
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        Ok(seq)
    }

    /// Makes every frame appended so far durable.
    pub(crate) fn sync(&mut self) -> Result<()> {
        Ok(self.log.sync()?)
    }

    /// Hands appended frames to the OS (a reader sees them).
    pub(crate) fn flush(&mut self) -> Result<()> {
        Ok(self.log.flush()?)
    }
}
