//! The checkpoint thread: writes the full snapshots the journal thread hands
//! over once what they cover is durable, then lets the input log go of the
//! frames a snapshot includes (whole segments before it are deleted), and
//! runs the alert journal's retention (`crate::retention`): the checkpoint
//! just written is one of the floors it keeps.
//!
//! Its own thread because a snapshot (the whole state, fsync, rename,
//! directory fsync) takes longer than a group commit: the journal thread goes
//! on committing meanwhile. When several wait, only the newest is written —
//! it covers everything the older ones did.

use std::{path::PathBuf, thread::JoinHandle};

use crossbeam_channel::{Receiver, Sender};

use crate::{
    PipelineError, Result,
    checkpoint::{self, Checkpoint},
    input_log,
    retention::JournalRetention,
};

/// A checkpoint whose alerts are durable.
pub(crate) struct DurableCheckpoint {
    pub(crate) checkpoint: Checkpoint,
}

/// What the thread did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CheckpointOutcome {
    pub(crate) written: u64,
    pub(crate) last_bytes: u64,
    pub(crate) last_journal_next_seq: u64,
    /// Bytes of snapshots written.
    pub(crate) bytes: u64,
}

/// Starts the thread; it ends when the sender is dropped, after writing the
/// newest checkpoint it was given. With `retention`, a retention pass of the
/// alert journal follows each checkpoint.
pub(crate) fn spawn(
    dir: PathBuf,
    retention: Option<JournalRetention>,
) -> Result<(
    Sender<DurableCheckpoint>,
    JoinHandle<Result<CheckpointOutcome>>,
)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = std::thread::Builder::new()
        .name("aldebaran-checkpoint".into())
        .spawn(move || run(&dir, &rx, retention))
        .map_err(|e| PipelineError::Internal(format!("cannot start the checkpoint thread: {e}")))?;
    Ok((tx, handle))
}

fn run(
    dir: &std::path::Path,
    rx: &Receiver<DurableCheckpoint>,
    mut retention: Option<JournalRetention>,
) -> Result<CheckpointOutcome> {
    let mut out = CheckpointOutcome::default();
    while let Ok(mut next) = rx.recv() {
        while let Ok(newer) = rx.try_recv() {
            next = newer;
        }
        let c = &next.checkpoint;
        out.last_bytes = checkpoint::save(dir, c)?;
        out.bytes += out.last_bytes;
        out.written += 1;
        out.last_journal_next_seq = c.journal_next_seq;
        // The frames the snapshot includes are no longer needed to rebuild
        // the state: their whole segments can go.
        let log = input_log::dir(dir);
        if c.input_seq > 0 && log.is_dir() {
            let r = alerts::retain_from(&log, c.input_seq + 1)?;
            if r.segments > 0 {
                tracing::debug!(
                    segments = r.segments,
                    bytes = r.bytes,
                    oldest = r.oldest,
                    "input log: segments the snapshot includes deleted"
                );
            }
        }
        // A restart now reads the journal from this checkpoint's seq on:
        // the journal's segments before it may go, if the sinks are past.
        if let Some(r) = retention.as_mut() {
            r.after_checkpoint(c.journal_next_seq);
        }
    }
    Ok(out)
}
