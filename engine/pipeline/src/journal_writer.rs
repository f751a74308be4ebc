//! The journal thread: appends each batch's alerts, makes them durable with
//! group commit, and writes the dead letters and stats rows of the batches.
//!
//! Running it on its own thread keeps fsync off the engine thread: while one
//! group of batches is being synced, the engine processes the next ones, and
//! everything that queued up meanwhile is committed with the next single fsync.

use std::{
    collections::BTreeMap,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alerts::Journal;
use columnar::TradeBatch;
use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::{
    checkpoint::{Checkpoint, Resume, SourceId},
    checkpoint_writer::DurableCheckpoint,
    dead_letters::DeadLetterWriter,
    latency::LatencyRecorder,
    stats::{BatchStats, StatsWriter},
};
use engine_core::Alert;

use crate::{PipelineError, Result, config::Durability, metrics::Metrics};
use alerts::DurableHead;
use columnar::SourceMark;
use crossbeam_channel::Sender;
use ingest::amqp::AckRequest;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// The engine's state after a batch, to be checkpointed once the batch's
/// alerts are durable.
pub(crate) struct CheckpointRequest {
    pub(crate) source: SourceId,
    pub(crate) resume: Resume,
    pub(crate) state: Vec<u8>,
    /// The newest source mark processed so far.
    pub(crate) mark: Option<SourceMark>,
}

/// One batch's output, handed from the engine thread.
pub(crate) struct JournalJob {
    /// The stats row (none for a checkpoint-only job).
    pub(crate) stats: Option<BatchStats>,
    pub(crate) batch: Option<TradeBatch>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) handed_at: Instant,
    pub(crate) checkpoint: Option<CheckpointRequest>,
}

impl JournalJob {
    /// A job that carries only a checkpoint (a quiet stream's).
    pub(crate) fn checkpoint(checkpoint: CheckpointRequest) -> Self {
        JournalJob {
            stats: None,
            batch: None,
            alerts: Vec::new(),
            handed_at: Instant::now(),
            checkpoint: Some(checkpoint),
        }
    }
}

/// What the journal thread reports at the end.
pub(crate) struct JournalOutcome {
    pub(crate) latency: LatencyRecorder,
    pub(crate) alerts_by_kind: BTreeMap<&'static str, u64>,
    pub(crate) first_seq: Option<u64>,
    pub(crate) next_seq: u64,
    pub(crate) fsyncs: u64,
    pub(crate) bytes: u64,
}

pub(crate) struct JournalWriter {
    pub(crate) journal: Journal,
    pub(crate) durability: Durability,
    pub(crate) interval: Duration,
    pub(crate) dead: Option<DeadLetterWriter>,
    pub(crate) stats: Option<StatsWriter>,
    /// Acknowledges the source's deliveries once their batches are durable
    /// (without checkpoints; with them the checkpoint thread acknowledges).
    pub(crate) acker: Option<UnboundedSender<AckRequest>>,
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Where durable checkpoints go.
    pub(crate) checkpoints: Option<Sender<DurableCheckpoint>>,
    /// The highest durable seq, for the sink shippers.
    pub(crate) durable: Option<Arc<DurableHead>>,
}

/// Batches committed together at most.
const MAX_GROUP: usize = 256;

impl JournalWriter {
    pub(crate) fn spawn(
        self,
        rx: Receiver<JournalJob>,
    ) -> Result<JoinHandle<Result<JournalOutcome>>> {
        let metrics = self.metrics.clone();
        std::thread::Builder::new()
            .name("aldebaran-journal".into())
            .spawn(move || {
                let outcome = self.run(rx);
                // Said at once (`/healthz`): an idle engine notices only
                // when it next hands over a batch.
                if let (Err(e), Some(m)) = (&outcome, &metrics) {
                    m.record_journal_failed(&e.to_string());
                }
                outcome
            })
            .map_err(|e| PipelineError::Internal(format!("cannot start the journal thread: {e}")))
    }

    fn run(mut self, rx: Receiver<JournalJob>) -> Result<JournalOutcome> {
        let mut out = JournalOutcome {
            latency: LatencyRecorder::new(),
            alerts_by_kind: BTreeMap::new(),
            first_seq: None,
            next_seq: self.journal.next_seq(),
            fsyncs: 0,
            bytes: 0,
        };
        let mut group: Vec<JournalJob> = Vec::with_capacity(MAX_GROUP);
        let mut unsynced = false;
        let mut last_sync = Instant::now();
        let mut e2e: Vec<u64> = Vec::new();
        loop {
            let first = match rx.recv_timeout(self.interval.max(Duration::from_millis(1))) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    // Idle: an interval policy still owes a sync.
                    if unsynced {
                        self.journal.sync()?;
                        out.fsyncs += 1;
                        unsynced = false;
                        last_sync = Instant::now();
                        if let Some(d) = &self.durable {
                            d.publish(self.journal.next_seq() - 1);
                        }
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let bytes_before = self.journal.bytes_written();
            let mut ready: Option<DurableCheckpoint> = None;
            for job in &mut group {
                for a in &job.alerts {
                    let seq = self.journal.append(&a.payload)?;
                    out.first_seq.get_or_insert(seq);
                    *out.alerts_by_kind.entry(a.kind).or_default() += 1;
                    unsynced = true;
                }
                if let (Some(dead), Some(batch)) = (self.dead.as_mut(), job.batch.as_ref()) {
                    dead.write(batch.dead_letters())?;
                }
                if let Some(c) = job.checkpoint.take() {
                    // The dead letters of the input before the checkpoint
                    // are durable with it (a restart cuts the file back).
                    let dead_letter_bytes = match self.dead.as_mut() {
                        Some(d) => d.sync()?,
                        None => 0,
                    };
                    ready = Some(DurableCheckpoint {
                        mark: c.mark,
                        checkpoint: Checkpoint {
                            source: c.source,
                            journal_next_seq: self.journal.next_seq(),
                            resume: c.resume,
                            dead_letter_bytes,
                            state: c.state,
                        },
                    });
                }
            }
            let sync_now = match self.durability {
                Durability::Batch => unsynced,
                // A checkpoint may only point past durable alerts.
                Durability::Interval => {
                    unsynced && (ready.is_some() || last_sync.elapsed() >= self.interval)
                }
                Durability::Never => false,
            };
            let mut fsync_ns = None;
            if sync_now {
                let t = Instant::now();
                self.journal.sync()?;
                fsync_ns = Some(t.elapsed().as_nanos() as u64);
                out.fsyncs += 1;
                unsynced = false;
                last_sync = Instant::now();
            } else {
                self.journal.flush()?;
            }
            if let Some(d) = &self.durable {
                let synced = !unsynced || self.durability == Durability::Never;
                if synced {
                    d.publish(self.journal.next_seq() - 1);
                }
            }
            if let (Some(c), Some(r)) = (&self.checkpoints, ready) {
                // The checkpoint thread outlives this one; a send error means
                // it failed, and its join reports why.
                let _ = c.send(r);
            }
            let done = ingest::wall_ns();
            // Everything in the group is durable (or as durable as the policy
            // asks): acknowledge the source up to the group's last mark.
            let mark = group
                .iter()
                .rev()
                .find_map(|j| j.batch.as_ref()?.source_mark());
            if let (Some(acker), Some(m)) = (&self.acker, mark) {
                // The source is gone only at shutdown; the broker then
                // redelivers what was not acknowledged.
                let _ = acker.send(AckRequest {
                    generation: m.generation,
                    tag: m.tag,
                });
            }
            if let Some(m) = &self.metrics {
                m.record_journal(self.journal.bytes_written() - bytes_before, fsync_ns);
            }
            for mut job in group.drain(..) {
                if let Some(b) = &job.batch {
                    out.latency.record_batch(b.ingest_ns(), done);
                    if let Some(m) = &self.metrics {
                        e2e.clear();
                        e2e.extend(b.ingest_ns().iter().map(|&t| done.saturating_sub(t)));
                        m.record_durable(job.handed_at.elapsed().as_nanos() as u64, &e2e);
                    }
                }
                if let (Some(s), Some(row)) = (self.stats.as_mut(), job.stats.as_mut()) {
                    row.journal_ns = job.handed_at.elapsed().as_nanos() as u64;
                    s.row(row)?;
                }
            }
        }
        self.journal.sync()?;
        out.fsyncs += 1;
        if let Some(d) = &self.durable {
            d.publish(self.journal.next_seq() - 1);
        }
        out.next_seq = self.journal.next_seq();
        out.bytes = self.journal.bytes_written();
        if let Some(d) = self.dead.take() {
            d.finish()?;
        }
        if let Some(s) = self.stats.take() {
            s.finish()?;
        }
        Ok(out)
    }
}
