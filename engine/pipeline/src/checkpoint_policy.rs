//! What the engine thread records for the state of `run`: per batch, the
//! facts its input-log frame carries (position base, where the source
//! resumes, the messages it completes); now and then, a full snapshot.
//!
//! A snapshot is due once the input log has grown, since the last one, by as
//! much as that snapshot weighed (and at least `snapshot_min_bytes`): so the
//! bytes written for the state stay within about twice what the input itself
//! costs, however large the state — a million open books of a quiet stream
//! are snapshotted rarely, not every second — and a restart replays at most
//! about one snapshot's worth of input.

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use columnar::TradeBatch;
use engine_core::Engine;

use crate::{
    checkpoint::{Resume, SourceId},
    journal_writer::{CheckpointRequest, InputMeta},
};

/// Message digests kept for a snapshot: a broker redelivers at most its
/// prefetch window of unacknowledged messages, and prefetch is at most this.
pub(crate) const RECENT_MESSAGES: usize = 65_535;

/// Snapshot settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointPolicy {
    /// `state.dir`.
    pub(crate) dir: PathBuf,
    /// The source identity stored with the state.
    pub(crate) source: SourceId,
    /// Where the restored state left the source.
    pub(crate) resume: Resume,
    /// Positions are byte offsets of a file the source can seek in.
    pub(crate) file_positions: bool,
    /// A snapshot waits for at least this much input log.
    pub(crate) snapshot_min_bytes: u64,
    /// The size of the snapshot the run started from.
    pub(crate) last_snapshot_bytes: u64,
    /// Digests of the last messages the restored state holds.
    pub(crate) messages: Vec<u64>,
}

/// The engine thread's bookkeeping.
pub(crate) struct CheckpointClock {
    policy: CheckpointPolicy,
    resume: Resume,
    /// Input-log bytes appended, published by the journal thread.
    appended: Arc<AtomicU64>,
    appended_at_last: u64,
    last_snapshot_bytes: u64,
    recent: VecDeque<u64>,
}

impl CheckpointClock {
    pub(crate) fn new(policy: CheckpointPolicy, appended: Arc<AtomicU64>) -> Self {
        let mut recent: VecDeque<u64> = policy.messages.iter().copied().collect();
        while recent.len() > RECENT_MESSAGES {
            recent.pop_front();
        }
        CheckpointClock {
            resume: policy.resume,
            appended_at_last: appended.load(Ordering::Relaxed),
            appended,
            last_snapshot_bytes: policy.last_snapshot_bytes,
            recent,
            policy,
        }
    }

    /// Notes what `batch` consumed (the engine has processed it); returns the
    /// facts of its frame, and a snapshot of `engine` when one is due.
    pub(crate) fn after_batch(
        &mut self,
        batch: &TradeBatch,
        detected_at_ns: u64,
        engine: &Engine,
    ) -> (InputMeta, Option<CheckpointRequest>) {
        let last_row = batch.pos().last().copied();
        let last_dead = batch.dead_letters().iter().map(|d| d.pos).max();
        if let Some(at) = last_row
            .max(last_dead)
            .filter(|_| self.policy.file_positions)
        {
            self.resume = Resume::AfterLineAt(at);
        }
        for &d in batch.messages() {
            if self.recent.len() == RECENT_MESSAGES {
                self.recent.pop_front();
            }
            self.recent.push_back(d);
        }
        let meta = InputMeta {
            pos_base: engine.pos_base(),
            detected_at_ns,
            resume: self.resume,
            recover_from: None,
        };
        let grown = self
            .appended
            .load(Ordering::Relaxed)
            .saturating_sub(self.appended_at_last);
        let due = grown >= self.last_snapshot_bytes.max(self.policy.snapshot_min_bytes);
        (meta, due.then(|| self.take(engine, false)))
    }

    /// A snapshot of `engine` now; `input_done` records that a finite input
    /// was read to its end.
    pub(crate) fn take(&mut self, engine: &Engine, input_done: bool) -> CheckpointRequest {
        if input_done {
            self.resume = Resume::Done;
        }
        let state = engine.snapshot();
        self.last_snapshot_bytes = state.len() as u64;
        self.appended_at_last = self.appended.load(Ordering::Relaxed);
        CheckpointRequest {
            source: self.policy.source.clone(),
            resume: self.resume,
            state,
            messages: self.recent.iter().copied().collect(),
            recover_from: None,
        }
    }

    /// Where the state directory is.
    pub(crate) fn dir(&self) -> PathBuf {
        self.policy.dir.clone()
    }
}
