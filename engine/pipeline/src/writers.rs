//! The threads behind the engine thread during a run: the journal writer and,
//! with checkpoints, the checkpoint writer. Started before the first batch,
//! joined after the last; their outcomes go into the summary.

use std::{path::PathBuf, sync::Arc, thread::JoinHandle};

use crossbeam_channel::Sender;

use crate::{
    PipelineError, Result, Summary, checkpoint,
    checkpoint_writer::{self, CheckpointOutcome},
    input_log::InputLog,
    journal_writer::{AckPolicy, JournalJob, JournalOutcome, JournalWriter, PairHooks},
    metrics::Metrics,
    options::JournalSetup,
    outputs::Outputs,
    retention::JournalRetention,
};

/// Batches queued for the journal thread at most (backpressure beyond).
const JOURNAL_QUEUE: usize = 1024;

/// What `run` keeps of its state beside the journal: the checkpoint
/// directory, the input log, the source's acknowledgements, the journal's
/// retention (none for `replay`).
#[derive(Default)]
pub(crate) struct StateWriters {
    pub(crate) checkpoint_dir: Option<PathBuf>,
    pub(crate) input_log: Option<InputLog>,
    pub(crate) acks: Option<AckPolicy>,
    /// Runs after each checkpoint, on the checkpoint thread.
    pub(crate) retention: Option<JournalRetention>,
    /// The active of a pair.
    pub(crate) pair: Option<PairHooks>,
}

/// The running writer threads and the engine thread's end of their queue.
pub(crate) struct Writers {
    pub(crate) jobs: Sender<JournalJob>,
    journal: JoinHandle<Result<JournalOutcome>>,
    checkpoints: Option<(PathBuf, JoinHandle<Result<CheckpointOutcome>>)>,
}

impl Writers {
    /// Starts the journal thread over `outputs` (with the input log and the
    /// source's acknowledgements, for `run`) and, when `checkpoint_dir` is
    /// given, the checkpoint thread.
    pub(crate) fn start(
        journal: &JournalSetup,
        outputs: Outputs,
        state: StateWriters,
        metrics: Option<Arc<Metrics>>,
        durable: Option<Arc<alerts::DurableHead>>,
    ) -> Result<Self> {
        let (ckpt_tx, checkpoints) = match state.checkpoint_dir {
            Some(dir) => {
                let (tx, h) = checkpoint_writer::spawn(dir.clone(), state.retention)?;
                (Some(tx), Some((dir, h)))
            }
            None => (None, None),
        };
        let (tx, rx) = crossbeam_channel::bounded::<JournalJob>(JOURNAL_QUEUE);
        let handle = JournalWriter {
            journal: outputs.journal,
            durability: journal.durability,
            interval: journal.fsync_interval,
            dead: outputs.dead,
            stats: outputs.stats,
            metrics,
            checkpoints: ckpt_tx,
            durable,
            input: state.input_log,
            acks: state.acks,
            pair: state.pair,
            logged_events: 0,
        }
        .spawn(rx)?;
        Ok(Writers {
            jobs: tx,
            journal: handle,
            checkpoints,
        })
    }

    /// Closes the queue and waits for both threads; notes what the checkpoint
    /// thread wrote in `summary`.
    pub(crate) fn join(self, summary: &mut Summary) -> Result<JournalOutcome> {
        drop(self.jobs);
        let outcome = self
            .journal
            .join()
            .map_err(|_| PipelineError::Internal("the journal thread panicked".into()))??;
        if let Some((dir, h)) = self.checkpoints {
            let c = h
                .join()
                .map_err(|_| PipelineError::Internal("the checkpoint thread panicked".into()))??;
            if c.written > 0 {
                summary.notes.push(format!(
                    "state: {} checkpoints written, the last to {} ({} bytes, journal up to seq {})",
                    c.written,
                    checkpoint::path(&dir).display(),
                    c.last_bytes,
                    c.last_journal_next_seq.saturating_sub(1)
                ));
            }
        }
        Ok(outcome)
    }
}
