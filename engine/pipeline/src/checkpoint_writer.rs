//! The checkpoint thread: writes the checkpoints the journal thread hands
//! over once their alerts are durable, then acknowledges the source up to
//! each one.
//!
//! Its own thread because a checkpoint (the whole state, fsync, rename,
//! directory fsync) takes longer than a group commit: the journal thread goes
//! on committing meanwhile. When several wait, only the newest is written —
//! it covers everything the older ones did.

use std::{path::PathBuf, thread::JoinHandle};

use columnar::SourceMark;
use crossbeam_channel::{Receiver, Sender};
use ingest::amqp::AckRequest;
use tokio::sync::mpsc::UnboundedSender;

use super::checkpoint::{self, Checkpoint};
use crate::{PipelineError, Result};

/// A checkpoint whose alerts are durable, with the source mark it covers.
pub(crate) struct DurableCheckpoint {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) mark: Option<SourceMark>,
}

/// What the thread did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CheckpointOutcome {
    pub(crate) written: u64,
    pub(crate) last_bytes: u64,
    pub(crate) last_journal_next_seq: u64,
}

/// Starts the thread; it ends when the sender is dropped, after writing the
/// newest checkpoint it was given.
pub(crate) fn spawn(
    dir: PathBuf,
    acker: Option<UnboundedSender<AckRequest>>,
) -> Result<(
    Sender<DurableCheckpoint>,
    JoinHandle<Result<CheckpointOutcome>>,
)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = std::thread::Builder::new()
        .name("aldebaran-checkpoint".into())
        .spawn(move || run(&dir, &rx, acker.as_ref()))
        .map_err(|e| PipelineError::Internal(format!("cannot start the checkpoint thread: {e}")))?;
    Ok((tx, handle))
}

fn run(
    dir: &std::path::Path,
    rx: &Receiver<DurableCheckpoint>,
    acker: Option<&UnboundedSender<AckRequest>>,
) -> Result<CheckpointOutcome> {
    let mut out = CheckpointOutcome::default();
    while let Ok(mut next) = rx.recv() {
        while let Ok(newer) = rx.try_recv() {
            next = DurableCheckpoint {
                mark: newer.mark.or(next.mark),
                checkpoint: newer.checkpoint,
            };
        }
        out.last_bytes = checkpoint::save(dir, &next.checkpoint)?;
        out.written += 1;
        out.last_journal_next_seq = next.checkpoint.journal_next_seq;
        if let (Some(acker), Some(m)) = (acker, next.mark) {
            // The source is gone only at shutdown; the broker then redelivers
            // what was not acknowledged.
            let _ = acker.send(AckRequest {
                generation: m.generation,
                tag: m.tag,
            });
        }
    }
    Ok(out)
}
