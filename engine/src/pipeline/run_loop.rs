//! The engine thread's loop, shared by `replay` and `run`: cut a batch, run
//! the jobs, hand the alerts to the journal thread, repeat until the source
//! ends; then drain (if asked) and collect the summary.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use alerts::{Journal, JournalOptions};
use ingest::{Cut, Cutter};

use super::{
    Progress, Summary, checkpoint,
    checkpoint_policy::{CheckpointClock, CheckpointPolicy},
    checkpoint_writer,
    dead_letters::DeadLetterWriter,
    job_set::add_jobs,
    journal_writer::{JournalJob, JournalWriter},
    recovery::AlreadyJournaled,
    source::Source,
    stats::{BatchStats, StatsWriter},
};
use crate::{
    EngineError, Result,
    config::Config,
    core::{Engine, EngineOptions},
    metrics::{BatchObservation, Metrics},
};

/// Batches queued for the journal thread at most (backpressure beyond).
const JOURNAL_QUEUE: usize = 1024;
/// A stream quiet this long gets a checkpoint of what it processed.
const IDLE_CHECKPOINT_AFTER: Duration = Duration::from_millis(50);

fn path_opt(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// The outputs of a run, opened before any input is read so that a bad path
/// fails first.
pub(crate) struct Outputs {
    journal: Journal,
    dead: Option<DeadLetterWriter>,
    stats: Option<StatsWriter>,
    notes: Vec<String>,
}

impl Outputs {
    /// The seq the journal appends next.
    pub(crate) fn next_seq(&self) -> u64 {
        self.journal.next_seq()
    }

    /// Makes what the journal holds durable: after a crash of the process
    /// its last records may sit only in the page cache, and they are about
    /// to be shipped.
    pub(crate) fn sync_journal(&mut self) -> Result<()> {
        Ok(self.journal.sync()?)
    }

    /// Opens the outputs; `dead_letter_len` continues the dead-letter file
    /// from that length (`run`) instead of starting it afresh (`replay`).
    pub(crate) fn open(cfg: &Config, dead_letter_len: Option<u64>) -> Result<Self> {
        if cfg.journal.dir.exists() && !cfg.journal.dir.is_dir() {
            return Err(EngineError::Config(format!(
                "journal path {} is not a directory",
                cfg.journal.dir.display()
            )));
        }
        let (journal, report) = Journal::open(
            &cfg.journal.dir,
            JournalOptions {
                segment_bytes: cfg.journal.segment_bytes,
            },
        )?;
        let mut notes = Vec::new();
        if let Some(t) = &report.truncated {
            // The journal already logged it; the summary repeats it.
            notes.push(format!(
                "journal tail truncated: {} at offset {} ({} bytes dropped: {})",
                t.segment.display(),
                t.offset,
                t.bytes_dropped,
                t.reason
            ));
        }
        let dead = path_opt(&cfg.replay.dead_letter)
            .map(|p| match dead_letter_len {
                None => DeadLetterWriter::create(&p),
                Some(len) => DeadLetterWriter::open_at(&p, len),
            })
            .transpose()?;
        let stats = path_opt(&cfg.replay.stats)
            .map(|p| StatsWriter::create(&p))
            .transpose()?;
        Ok(Outputs {
            journal,
            dead,
            stats,
            notes,
        })
    }
}

/// The engine with the configured jobs.
pub(crate) fn build_engine(cfg: &Config) -> Result<Engine> {
    let e = &cfg.engine;
    let threads = match e.threads {
        // The ingest thread keeps one core busy; the workers get the rest.
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
        n => n,
    };
    let mut engine = Engine::new(EngineOptions {
        threads,
        partitions: e.partitions,
        pin_from_core: e.pin.then_some(1),
    })?;
    add_jobs(&mut engine, &cfg.job, cfg)?;
    Ok(engine)
}

/// How the loop ends and reports.
pub(crate) struct LoopOptions {
    /// Close all state at the end of the input.
    pub(crate) drain: bool,
    /// The input ends by itself (a file, not followed).
    pub(crate) finite: bool,
    /// Where to publish metrics, if anywhere.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Crash-consistent checkpoints (`run`); `None` takes none (`replay`).
    pub(crate) checkpoint: Option<CheckpointPolicy>,
    /// Alerts a restarted run finds already journaled.
    pub(crate) already: Option<AlreadyJournaled>,
    /// Receives the highest durable seq (for the sink shippers).
    pub(crate) durable: Option<Arc<alerts::DurableHead>>,
}

/// Runs `engine` over `source` until it ends. Returns the summary.
pub(crate) fn run_loop(
    cfg: &Config,
    engine: &mut Engine,
    source: Source,
    mut cutter: Cutter,
    outputs: Outputs,
    opts: LoopOptions,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary {
        journal: cfg.journal.dir.clone(),
        notes: outputs.notes,
        ..Summary::default()
    };
    if cfg.engine.pin {
        ingest::pin_current(Some(1));
    }
    let mut ckpt = opts.checkpoint.map(CheckpointClock::new);
    let mut already = opts.already;
    let (ckpt_tx, ckpt_thread) = match &ckpt {
        Some(c) => {
            let (tx, h) = checkpoint_writer::spawn(c.dir(), source.acker())?;
            (Some(tx), Some(h))
        }
        None => (None, None),
    };
    let (tx, rx) = crossbeam_channel::bounded::<JournalJob>(JOURNAL_QUEUE);
    let writer = JournalWriter {
        journal: outputs.journal,
        durability: cfg.journal.durability,
        interval: Duration::from_millis(cfg.journal.fsync_interval_ms),
        dead: outputs.dead,
        stats: outputs.stats,
        // With checkpoints, acknowledgements wait for them.
        acker: if ckpt_tx.is_some() {
            None
        } else {
            source.acker()
        },
        metrics: opts.metrics.clone(),
        checkpoints: ckpt_tx,
        durable: opts.durable.clone(),
    }
    .spawn(rx)?;
    let stop_flag = source.stop_flag();
    // How long a quiet stream waits before an idle checkpoint.
    let idle_after = if ckpt.is_some() {
        IDLE_CHECKPOINT_AFTER
    } else {
        Duration::MAX
    };

    let amqp = source.amqp_counters();
    let mut seen = (0u64, 0u64); // redelivered, acked already reported
    let mut progress = Progress {
        total: source.total_bytes(),
        ..Progress::default()
    };
    let mut batch_no = 0u64;
    let mut ended_early = false;
    let mut rejected_by: Vec<(&'static str, u64)> = Vec::new();
    let mut alerts_by: Vec<(&'static str, u64)> = Vec::new();
    loop {
        let t_cut = Instant::now();
        let batch = match cutter.next_event(idle_after)? {
            Cut::Batch(b) => b,
            Cut::End => break,
            Cut::Idle => {
                // A quiet stream: checkpoint what was processed, so that an
                // acknowledging source is acknowledged without more input.
                if let Some(checkpoint) = ckpt.as_mut().and_then(|c| c.when_idle(engine))
                    && tx
                        .send(JournalJob {
                            stats: None,
                            batch: None,
                            alerts: Vec::new(),
                            handed_at: Instant::now(),
                            checkpoint: Some(checkpoint),
                        })
                        .is_err()
                {
                    ended_early = true;
                    source.stop();
                    break;
                }
                continue;
            }
        };
        let cut_ns = t_cut.elapsed().as_nanos() as u64;
        batch_no += 1;
        let t_proc = Instant::now();
        let cut_at_ns = ingest::wall_ns();
        let mut alerts = Vec::new();
        engine.process(&batch, cut_at_ns, &mut alerts);
        if let Some(a) = already.as_mut() {
            a.filter(&mut alerts);
        }
        let checkpoint = ckpt.as_mut().and_then(|c| c.after_batch(&batch, engine));
        let process_ns = t_proc.elapsed().as_nanos() as u64;

        let dead = batch.dead_letters();
        rejected_by.clear();
        for d in dead.iter() {
            let r = d.reason.as_str();
            *summary.rejected.entry(r).or_default() += 1;
            match rejected_by.iter_mut().find(|(k, _)| *k == r) {
                Some((_, n)) => *n += 1,
                None => rejected_by.push((r, 1)),
            }
        }
        summary.accepted += batch.len() as u64;
        summary.blank += batch.skipped_blank();
        let open = engine.live_keys() as u64;
        summary.peak_open = summary.peak_open.max(open);
        progress.events += (batch.len() + dead.len()) as u64;
        progress.alerts += alerts.len() as u64;
        progress.bytes = source.bytes_read();
        if let Some(m) = &opts.metrics {
            alerts_by.clear();
            for a in &alerts {
                match alerts_by.iter_mut().find(|(k, _)| *k == a.kind) {
                    Some((_, n)) => *n += 1,
                    None => alerts_by.push((a.kind, 1)),
                }
            }
            m.record_batch(&BatchObservation {
                events_in: (batch.len() + dead.len()) as u64,
                accepted: batch.len() as u64,
                rejected: &rejected_by,
                alerts: &alerts_by,
                batch_events: batch.len() as u64,
                process_ns,
                open_keys: open,
            });
            if let Some(c) = &amqp {
                use std::sync::atomic::Ordering::Relaxed;
                m.source_connected(c.connected.load(Relaxed) == 1);
                let (r, a) = (c.redelivered.load(Relaxed), c.acked.load(Relaxed));
                m.record_redelivered(r - seen.0);
                m.record_acked(a - seen.1);
                seen = (r, a);
            }
        }

        let job = JournalJob {
            stats: Some(BatchStats {
                batch: batch_no,
                cut_at_ns,
                events: batch.len() as u64,
                rejected: dead.len() as u64,
                alerts: alerts.len() as u64,
                open_books: open,
                cut_ns,
                process_ns,
                journal_ns: 0,
            }),
            batch: Some(batch),
            alerts,
            handed_at: Instant::now(),
            checkpoint,
        };
        if tx.send(job).is_err() {
            // The journal thread stopped: its error is reported by the join.
            ended_early = true;
            source.stop();
            break;
        }
        on_progress(&progress);
    }

    // Stopped on request (a signal), the input is not at its end: no drain.
    let at_end = !ended_early && !stop_flag.load(std::sync::atomic::Ordering::Relaxed);
    if (opts.drain && at_end) || (ckpt.is_some() && !ended_early) {
        let mut alerts = Vec::new();
        if opts.drain && at_end {
            engine.drain(ingest::wall_ns(), &mut alerts);
            if let Some(a) = already.as_mut() {
                a.filter(&mut alerts);
            }
        }
        // The last checkpoint: a finite input read to its end is done.
        let checkpoint = ckpt.as_mut().map(|c| c.take(engine, at_end && opts.finite));
        batch_no += 1;
        let job = JournalJob {
            stats: Some(BatchStats {
                batch: batch_no,
                cut_at_ns: ingest::wall_ns(),
                alerts: alerts.len() as u64,
                ..BatchStats::default()
            }),
            batch: None,
            alerts,
            handed_at: Instant::now(),
            checkpoint,
        };
        // A send error means the journal thread failed; the join reports it.
        let _ = tx.send(job);
    }
    drop(tx);
    let outcome = writer
        .join()
        .map_err(|_| EngineError::Internal("the journal thread panicked".into()))??;
    if let (Some(h), Some(c)) = (ckpt_thread, &ckpt) {
        let dir = c.dir();
        let c = h
            .join()
            .map_err(|_| EngineError::Internal("the checkpoint thread panicked".into()))??;
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
    if let Some(a) = &already
        && (a.suppressed > 0 || a.pending() > 0)
    {
        let unmatched = match a.pending() {
            0 => String::new(),
            n => format!(" ({n} journaled alerts past the checkpoint were not re-produced)"),
        };
        summary.notes.push(format!(
            "recovery: {} re-produced alerts were already in the journal and not appended again{unmatched}",
            a.suppressed
        ));
    }
    // The journal thread has sent its last acknowledgement; the source can
    // finish and close its connection.
    source.join()?;

    summary.events = summary.accepted + summary.rejected_total();
    summary.batches = batch_no;
    summary.counters = engine.counters();
    summary.alerts = outcome.alerts_by_kind;
    summary.latency = outcome.latency.percentiles();
    summary.first_seq = outcome.first_seq;
    summary.next_seq = outcome.next_seq;
    summary.fsyncs = outcome.fsyncs;
    summary.wall = started.elapsed();
    Ok(summary)
}
