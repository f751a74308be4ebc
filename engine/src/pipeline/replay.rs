//! Replay: a captured file (or stdin) through ingest, the engine and the journal.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alerts::{Journal, JournalOptions};
use ingest::{CutPolicy, Input, ReplayOptions, start_replay};

use super::{
    Summary,
    dead_letters::DeadLetterWriter,
    job_set::add_jobs,
    journal_writer::{JournalJob, JournalWriter},
    stats::{BatchStats, StatsWriter},
};
use crate::{
    EngineError, Result,
    config::Config,
    core::{Engine, EngineOptions},
};

/// Everything a replay needs, resolved from config and flags.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// What to read.
    pub input: Input,
    /// The layered configuration (flags already applied).
    pub config: Config,
}

/// Progress, reported after each batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Input bytes consumed.
    pub bytes: u64,
    /// Input size, if known.
    pub total: Option<u64>,
    /// Events so far.
    pub events: u64,
    /// Alerts so far.
    pub alerts: u64,
}

fn path_opt(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// Batches queued for the journal thread at most (backpressure beyond).
const JOURNAL_QUEUE: usize = 1024;

/// Runs a replay to the end of its input and returns the summary.
pub fn replay(plan: &ReplayPlan, mut on_progress: impl FnMut(&Progress)) -> Result<Summary> {
    let cfg = &plan.config;
    let started = Instant::now();
    let mut summary = Summary {
        journal: cfg.journal.dir.clone(),
        ..Summary::default()
    };

    // Outputs first, so a bad path fails before any input is read.
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
    if let Some(t) = &report.truncated {
        let note = format!(
            "journal tail truncated: {} at offset {} ({} bytes dropped: {})",
            t.segment.display(),
            t.offset,
            t.bytes_dropped,
            t.reason
        );
        // The journal already logged it; the summary repeats it for the operator.
        summary.notes.push(note);
    }
    let dead = path_opt(&cfg.replay.dead_letter)
        .map(|p| DeadLetterWriter::create(&p))
        .transpose()?;
    let stats = path_opt(&cfg.replay.stats)
        .map(|p| StatsWriter::create(&p))
        .transpose()?;

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

    let (ingest, mut cutter) = start_replay(
        plan.input.clone(),
        &ReplayOptions {
            cut: CutPolicy {
                batch_events: e.batch_events,
                batch_time: Duration::from_millis(e.batch_ms),
            },
            ring_bytes: e.ring_bytes,
            pin_core: e.pin.then_some(0),
            rate: (cfg.replay.rate > 0).then_some(cfg.replay.rate),
        },
    )?;
    if e.pin {
        ingest::pin_current(Some(1));
    }

    let (tx, rx) = crossbeam_channel::bounded::<JournalJob>(JOURNAL_QUEUE);
    let writer = JournalWriter {
        journal,
        durability: cfg.journal.durability,
        interval: Duration::from_millis(cfg.journal.fsync_interval_ms),
        dead,
        stats,
    }
    .spawn(rx)?;

    let mut progress = Progress {
        total: ingest.total_bytes(),
        ..Progress::default()
    };
    let mut batch_no = 0u64;
    let mut ended_early = false;
    loop {
        let t_cut = Instant::now();
        let Some(batch) = cutter.next_batch()? else {
            break;
        };
        let cut_ns = t_cut.elapsed().as_nanos() as u64;
        batch_no += 1;
        let t_proc = Instant::now();
        let cut_at_ns = ingest::wall_ns();
        let mut alerts = Vec::new();
        engine.process(&batch, cut_at_ns, &mut alerts);
        let process_ns = t_proc.elapsed().as_nanos() as u64;

        let dead = batch.dead_letters();
        for d in dead.iter() {
            *summary.rejected.entry(d.reason.as_str()).or_default() += 1;
        }
        summary.accepted += batch.len() as u64;
        summary.blank += batch.skipped_blank();
        let open = engine.live_keys() as u64;
        summary.peak_open = summary.peak_open.max(open);
        progress.events += (batch.len() + dead.len()) as u64;
        progress.alerts += alerts.len() as u64;
        progress.bytes = ingest.bytes_read();

        let job = JournalJob {
            stats: BatchStats {
                batch: batch_no,
                cut_at_ns,
                events: batch.len() as u64,
                rejected: dead.len() as u64,
                alerts: alerts.len() as u64,
                open_books: open,
                cut_ns,
                process_ns,
                journal_ns: 0,
            },
            batch: Some(batch),
            alerts,
            handed_at: Instant::now(),
        };
        if tx.send(job).is_err() {
            // The journal thread stopped: its error is reported by the join.
            ended_early = true;
            ingest.stop();
            break;
        }
        on_progress(&progress);
    }

    if cfg.replay.drain && !ended_early {
        let mut alerts = Vec::new();
        engine.drain(ingest::wall_ns(), &mut alerts);
        batch_no += 1;
        let job = JournalJob {
            stats: BatchStats {
                batch: batch_no,
                cut_at_ns: ingest::wall_ns(),
                alerts: alerts.len() as u64,
                ..BatchStats::default()
            },
            batch: None,
            alerts,
            handed_at: Instant::now(),
        };
        // A send error means the journal thread failed; the join reports it.
        let _ = tx.send(job);
    }
    drop(tx);
    let outcome = writer
        .join()
        .map_err(|_| EngineError::Internal("the journal thread panicked".into()))??;
    ingest.join()?;

    summary.events = summary.accepted + summary.rejected_total();
    summary.batches = batch_no;
    summary.counters = engine.counters();
    summary.alerts = outcome.alerts_by_kind;
    summary.latency = outcome.latency.percentiles();
    summary.first_seq = outcome.first_seq;
    summary.next_seq = outcome.next_seq;
    summary.fsyncs = outcome.fsyncs;
    summary.wall = started.elapsed();
    let _ = outcome.bytes;
    Ok(summary)
}
