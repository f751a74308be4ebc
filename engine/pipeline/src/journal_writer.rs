//! The journal thread: appends each batch's alerts, makes them durable with
//! group commit, and writes the dead letters and stats rows of the batches;
//! for `run`, also each batch's frame of the input log, and the
//! acknowledgements of an acknowledging source once the frames that hold its
//! messages are durable.
//!
//! Running it on its own thread keeps fsync off the engine thread: while one
//! group of batches is being synced, the engine processes the next ones, and
//! everything that queued up meanwhile is committed with the next single fsync.
//!
//! Order of durability within a group, so that nothing durable points at
//! something that is not: dead letters, then the alert journal, then the
//! input log (a frame names the journal seq and dead-letter length its batch
//! reached), then the acknowledgement of the messages those frames hold.

use std::{
    collections::BTreeMap,
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alerts::{DurableHead, Journal};
use columnar::{SourceMark, TradeBatch};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use engine_core::Alert;
use ingest::amqp::AckRequest;
use tokio::sync::mpsc::UnboundedSender;

use crate::{
    PipelineError, Result,
    checkpoint::{Checkpoint, Resume, SourceId},
    checkpoint_writer::DurableCheckpoint,
    config::Durability,
    dead_letters::DeadLetterWriter,
    ha::{ReleaseGate, Wake},
    input_log::{FrameMeta, InputLog},
    latency::LatencyRecorder,
    metrics::Metrics,
    stats::{BatchStats, StatsWriter},
};

/// A full snapshot of the engine's state after a batch, to be checkpointed
/// once what it covers is durable.
pub(crate) struct CheckpointRequest {
    pub(crate) source: SourceId,
    pub(crate) resume: Resume,
    pub(crate) state: Vec<u8>,
    /// Digests of the last messages the state holds.
    pub(crate) messages: Vec<u64>,
    /// While a restarted engine still re-produces alerts the journal holds,
    /// the seq they start at (`None`: the journal's next seq).
    pub(crate) recover_from: Option<u64>,
}

/// What a batch's input-log frame carries besides the batch (the engine
/// thread knows these; the journal thread adds its own seq and lengths).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputMeta {
    pub(crate) pos_base: u64,
    /// The wall clock stamped on the batch's alerts.
    pub(crate) detected_at_ns: u64,
    pub(crate) resume: Resume,
    /// As [`CheckpointRequest::recover_from`].
    pub(crate) recover_from: Option<u64>,
}

/// One batch's output, handed from the engine thread.
pub(crate) struct JournalJob {
    /// The stats row (none for a checkpoint-only job).
    pub(crate) stats: Option<BatchStats>,
    pub(crate) batch: Option<TradeBatch>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) handed_at: Instant,
    /// Wall-clock ns when the engine had processed the batch (its alerts
    /// made, in order, handed to this thread).
    pub(crate) processed_at_ns: u64,
    /// The batch's frame facts, when the run keeps an input log.
    pub(crate) input: Option<InputMeta>,
    pub(crate) checkpoint: Option<CheckpointRequest>,
}

/// What the journal thread reports at the end.
pub(crate) struct JournalOutcome {
    /// Per event, ingest to durable.
    pub(crate) latency: LatencyRecorder,
    /// Per event, ingest to its batch processed and handed over (not yet
    /// written or durable).
    pub(crate) processing: LatencyRecorder,
    /// Each journal fsync.
    pub(crate) fsync: LatencyRecorder,
    pub(crate) alerts_by_kind: BTreeMap<&'static str, u64>,
    pub(crate) first_seq: Option<u64>,
    pub(crate) next_seq: u64,
    pub(crate) fsyncs: u64,
    pub(crate) bytes: u64,
}

/// When an acknowledging source is acknowledged.
pub(crate) struct AckPolicy {
    pub(crate) acker: UnboundedSender<AckRequest>,
    /// After this many messages...
    pub(crate) every: u64,
    /// ... or this long after the first unacknowledged one was logged.
    pub(crate) interval: Duration,
}

pub(crate) struct JournalWriter {
    pub(crate) journal: Journal,
    pub(crate) durability: Durability,
    pub(crate) interval: Duration,
    pub(crate) dead: Option<DeadLetterWriter>,
    pub(crate) stats: Option<StatsWriter>,
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Where durable checkpoints go.
    pub(crate) checkpoints: Option<Sender<DurableCheckpoint>>,
    /// The highest durable seq, for the sink shippers.
    pub(crate) durable: Option<Arc<DurableHead>>,
    /// The input log (`run`).
    pub(crate) input: Option<InputLog>,
    /// Acknowledgements to the source, once its messages are logged durably.
    pub(crate) acks: Option<AckPolicy>,
    /// The active of a pair: releases go through its gate, and the
    /// replicator is woken when records and frames reach the OS.
    pub(crate) pair: Option<PairHooks>,
    /// Events in the frames logged so far (a pair's replication lag).
    pub(crate) logged_events: u64,
}

/// What the journal thread of a pair's active reports to the pair.
#[derive(Clone)]
pub(crate) struct PairHooks {
    pub(crate) gate: Arc<ReleaseGate>,
    pub(crate) wake: Arc<Wake>,
    /// At the end, how long the standby may take to acknowledge the last
    /// frames before the source closes.
    pub(crate) finish_patience: Duration,
}

/// Batches committed together at most.
const MAX_GROUP: usize = 256;

/// What is appended but not yet durable, per output.
#[derive(Default)]
struct Pending {
    journal: bool,
    dead_letters: bool,
    frames: bool,
    /// The newest logged mark not acknowledged yet, and when the first
    /// unacknowledged one was logged.
    mark: Option<SourceMark>,
    mark_since: Option<Instant>,
    acked: Option<SourceMark>,
}

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
            processing: LatencyRecorder::new(),
            fsync: LatencyRecorder::new(),
            alerts_by_kind: BTreeMap::new(),
            first_seq: None,
            next_seq: self.journal.next_seq(),
            fsyncs: 0,
            bytes: 0,
        };
        let mut group: Vec<JournalJob> = Vec::with_capacity(MAX_GROUP);
        let mut pending = Pending::default();
        let mut last_sync = Instant::now();
        let mut e2e: Vec<u64> = Vec::new();
        loop {
            let first = match rx.recv_timeout(self.interval.max(Duration::from_millis(1))) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    // Idle: make what is pending durable (an interval policy
                    // owes a sync, a quiet source its acknowledgement).
                    if (pending.journal && self.durability != Durability::Never) || pending.frames {
                        self.make_durable(&mut pending, &mut out, true)?;
                        last_sync = Instant::now();
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
            // Processed: the engine made the batch's alerts and handed them
            // over; what follows (the append, then the sync) is the
            // journal's, and an append waits for the sync before it.
            for job in &group {
                if let Some(b) = &job.batch {
                    out.processing
                        .record_batch(b.ingest_ns(), job.processed_at_ns);
                }
            }
            let bytes_before = self.journal.bytes_written();
            let mut ready: Option<DurableCheckpoint> = None;
            for job in &mut group {
                for a in &job.alerts {
                    let seq = self.journal.append(&a.payload)?;
                    out.first_seq.get_or_insert(seq);
                    *out.alerts_by_kind.entry(a.kind).or_default() += 1;
                    pending.journal = true;
                }
                let mut dead_written = false;
                if let (Some(dead), Some(batch)) = (self.dead.as_mut(), job.batch.as_ref())
                    && !batch.dead_letters().is_empty()
                {
                    dead.write(batch.dead_letters())?;
                    pending.dead_letters = true;
                    dead_written = true;
                }
                if let (Some(log), Some(batch), Some(meta)) =
                    (self.input.as_mut(), job.batch.as_ref(), job.input)
                {
                    // The frame may reach the OS as soon as it is appended
                    // (the log writes past a buffer size): what it names must
                    // be there first, or a killed process could leave a frame
                    // whose alerts or dead letters were lost with it.
                    if dead_written && let Some(d) = self.dead.as_mut() {
                        d.flush()?;
                    }
                    if !job.alerts.is_empty() {
                        self.journal.flush()?;
                    }
                    log.append(
                        &FrameMeta {
                            pos_base: meta.pos_base,
                            detected_at_ns: meta.detected_at_ns,
                            resume: meta.resume,
                            journal_next_seq: meta
                                .recover_from
                                .unwrap_or_else(|| self.journal.next_seq()),
                            journal_end: self.journal.next_seq(),
                            dead_letter_bytes: self.dead.as_ref().map_or(0, DeadLetterWriter::len),
                            mark: batch.source_mark(),
                        },
                        batch,
                    )?;
                    pending.frames = true;
                    self.logged_events += batch.len() as u64;
                    if let Some(m) = batch.source_mark() {
                        pending.mark = Some(m);
                        pending.mark_since.get_or_insert_with(Instant::now);
                    }
                }
                if let Some(c) = job.checkpoint.take() {
                    ready = Some(DurableCheckpoint {
                        checkpoint: Checkpoint {
                            source: c.source,
                            input_seq: self.input.as_ref().map_or(0, |l| l.next_seq() - 1),
                            journal_next_seq: c
                                .recover_from
                                .unwrap_or_else(|| self.journal.next_seq()),
                            resume: c.resume,
                            dead_letter_bytes: self.dead.as_ref().map_or(0, DeadLetterWriter::len),
                            messages: c.messages,
                            state: c.state,
                        },
                    });
                }
            }
            let ack_due = self.ack_due(&pending);
            let sync_journal = match self.durability {
                Durability::Batch => pending.journal,
                // A checkpoint may only point past durable alerts.
                Durability::Interval => {
                    pending.journal && (ready.is_some() || last_sync.elapsed() >= self.interval)
                }
                Durability::Never => false,
            };
            let t = Instant::now();
            let synced = if sync_journal || ack_due || ready.is_some() {
                self.make_durable(&mut pending, &mut out, true)?
            } else {
                self.make_durable(&mut pending, &mut out, false)?
            };
            let fsync_ns = synced.then(|| t.elapsed().as_nanos() as u64);
            if let Some(ns) = fsync_ns {
                out.fsync.record(ns);
            }
            if synced {
                last_sync = Instant::now();
            }
            if let (Some(c), Some(r)) = (&self.checkpoints, ready) {
                // The checkpoint thread outlives this one; a send error means
                // it failed, and its join reports why.
                let _ = c.send(r);
            }
            let done = ingest::wall_ns();
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
        // Whatever the policy, the end of the run is durable.
        if !self.make_durable(&mut pending, &mut out, true)? {
            self.journal.sync()?;
            out.fsyncs += 1;
            if let Some(d) = &self.durable {
                d.publish(self.journal.next_seq() - 1);
            }
            if let Some(p) = &self.pair {
                p.gate.journal_durable(self.journal.next_seq() - 1);
            }
        }
        if let Some(p) = &self.pair {
            p.gate.finish(p.finish_patience);
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

    /// Whether the source is owed an acknowledgement now (a broker stops
    /// delivering at its prefetch limit, so messages must not wait long).
    fn ack_due(&self, pending: &Pending) -> bool {
        let (Some(acks), Some(m)) = (&self.acks, pending.mark) else {
            return false;
        };
        let by_count = match pending.acked {
            Some(a) if a.generation == m.generation => m.tag.saturating_sub(a.tag) >= acks.every,
            _ => true,
        };
        by_count
            || pending
                .mark_since
                .is_some_and(|t| t.elapsed() >= acks.interval)
    }

    /// With `sync`: makes everything pending durable in the order of the
    /// module docs, publishes the durable head and acknowledges the source;
    /// returns whether the journal was synced. Without: hands what is
    /// buffered to the OS (a `never` policy publishes it as durable).
    fn make_durable(
        &mut self,
        pending: &mut Pending,
        out: &mut JournalOutcome,
        sync: bool,
    ) -> Result<bool> {
        if !sync || self.pair.is_some() {
            // What a frame names must reach the OS before the frame does: a
            // killed process loses its buffers, not the page cache.
            if let Some(d) = self.dead.as_mut() {
                d.flush()?;
            }
            self.journal.flush()?;
            if let Some(log) = self.input.as_mut() {
                log.flush()?;
            }
            // The replicator reads what reached the OS: the standby then
            // writes it while this thread syncs it here.
            if let Some(p) = &self.pair {
                p.wake.poke();
            }
        }
        if !sync {
            if let Some(d) = &self.durable
                && self.durability == Durability::Never
            {
                d.publish(self.journal.next_seq() - 1);
                if let Some(p) = &self.pair {
                    p.gate.journal_durable(self.journal.next_seq() - 1);
                }
            }
            return Ok(false);
        }
        if pending.dead_letters
            && let Some(d) = self.dead.as_mut()
        {
            d.sync()?;
            pending.dead_letters = false;
        }
        // `never` leaves the journal to the OS (tests, benchmarks): only the
        // end of the run syncs it (`finish`).
        let synced_journal = pending.journal && self.durability != Durability::Never;
        if synced_journal {
            self.journal.sync()?;
            out.fsyncs += 1;
            pending.journal = false;
        }
        if let Some(d) = &self.durable {
            d.publish(self.journal.next_seq() - 1);
        }
        if let Some(p) = &self.pair {
            p.gate.journal_durable(self.journal.next_seq() - 1);
        }
        let frames_synced = pending.frames;
        if pending.frames
            && let Some(log) = self.input.as_mut()
        {
            log.sync()?;
            pending.frames = false;
        }
        let ack = match (&self.acks, pending.mark.take()) {
            (Some(_), Some(m)) => {
                pending.acked = Some(m);
                pending.mark_since = None;
                Some(AckRequest {
                    generation: m.generation,
                    tag: m.tag,
                })
            }
            _ => None,
        };
        match (&self.pair, self.input.as_ref()) {
            // A pair's active acknowledges through its gate: once the
            // standby holds the frames too (sync replication).
            (Some(p), Some(log)) if frames_synced || ack.is_some() => {
                p.gate
                    .input_durable(log.next_seq() - 1, ack, self.logged_events);
            }
            _ => {
                if let (Some(acks), Some(a)) = (&self.acks, ack) {
                    // The source is gone only at shutdown; the broker then
                    // redelivers what was not acknowledged.
                    let _ = acks.acker.send(a);
                }
            }
        }
        Ok(synced_journal)
    }
}
