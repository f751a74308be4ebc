//! When the engine thread takes a checkpoint, and what it records.
//!
//! Due after `interval`, or sooner when an acknowledging source has delivered
//! `ack_every` messages since the last one (acknowledgements wait for
//! checkpoints, and the broker stops delivering at the prefetch limit).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use columnar::{SourceMark, TradeBatch};

use super::{
    checkpoint::{Resume, SourceId},
    journal_writer::CheckpointRequest,
};
use engine_core::Engine;

/// Checkpoint settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointPolicy {
    /// `state.dir`.
    pub(crate) dir: PathBuf,
    /// The source identity stored with the state.
    pub(crate) source: SourceId,
    /// Take one at least this often while input flows.
    pub(crate) interval: Duration,
    /// ... or after this many acknowledgeable messages.
    pub(crate) ack_every: u64,
    /// Where the restored state left the source.
    pub(crate) resume: Resume,
    /// Positions are byte offsets of a file the source can seek in.
    pub(crate) file_positions: bool,
}

/// The engine thread's checkpoint bookkeeping.
pub(crate) struct CheckpointClock {
    policy: CheckpointPolicy,
    last_at: Instant,
    last_mark: Option<SourceMark>,
    mark: Option<SourceMark>,
    resume: Resume,
    /// Batches processed since the last checkpoint.
    batches_since: u64,
}

impl CheckpointClock {
    pub(crate) fn new(policy: CheckpointPolicy) -> Self {
        CheckpointClock {
            resume: policy.resume,
            policy,
            last_at: Instant::now(),
            last_mark: None,
            mark: None,
            batches_since: 0,
        }
    }

    /// Notes what `batch` consumed; returns a checkpoint of `engine` (which
    /// has processed the batch) when one is due.
    pub(crate) fn after_batch(
        &mut self,
        batch: &TradeBatch,
        engine: &Engine,
    ) -> Option<CheckpointRequest> {
        self.batches_since += 1;
        if let Some(m) = batch.source_mark() {
            self.mark = Some(m);
        }
        let last_row = batch.pos().last().copied();
        let last_dead = batch.dead_letters().iter().map(|d| d.pos).max();
        if let Some(at) = last_row
            .max(last_dead)
            .filter(|_| self.policy.file_positions)
        {
            self.resume = Resume::AfterLineAt(at);
        }
        let by_acks = match (self.mark, self.last_mark) {
            (Some(m), Some(l)) if m.generation == l.generation => {
                m.tag.saturating_sub(l.tag) >= self.policy.ack_every
            }
            (Some(_), _) => true,
            (None, _) => false,
        };
        (by_acks || self.last_at.elapsed() >= self.policy.interval)
            .then(|| self.take(engine, false))
    }

    /// On a quiet stream: a checkpoint if anything was processed since the
    /// last one.
    pub(crate) fn when_idle(&mut self, engine: &Engine) -> Option<CheckpointRequest> {
        (self.batches_since > 0).then(|| self.take(engine, false))
    }

    /// A checkpoint of `engine` now; `input_done` records that a finite input
    /// was read to its end.
    pub(crate) fn take(&mut self, engine: &Engine, input_done: bool) -> CheckpointRequest {
        self.last_at = Instant::now();
        self.last_mark = self.mark;
        self.batches_since = 0;
        if input_done {
            self.resume = Resume::Done;
        }
        CheckpointRequest {
            source: self.policy.source.clone(),
            resume: self.resume,
            state: engine.snapshot(),
            mark: self.mark,
        }
    }

    /// Where the state directory is.
    pub(crate) fn dir(&self) -> PathBuf {
        self.policy.dir.clone()
    }
}
