//! The engine thread's loop, shared by `replay` and `run`: cut a batch, run
//! the jobs, hand the alerts to the journal thread, repeat until the source
//! ends; then drain (if asked), take the last checkpoint and collect the
//! summary. The bookkeeping is in [`crate::tally`], the threads behind the
//! loop in [`crate::writers`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use engine_core::Engine;
use ingest::{Cut, Cutter};

use crate::{
    Progress, Result, Summary,
    checkpoint_policy::{CheckpointClock, CheckpointPolicy},
    input_log::InputLog,
    journal_writer::{AckPolicy, JournalJob, PairHooks},
    metrics::Metrics,
    options::Stages,
    outputs::Outputs,
    recovery::AlreadyJournaled,
    retention::JournalRetention,
    source::Source,
    tally::{BatchTimes, Tally},
    writers::{StateWriters, Writers},
};

/// How the loop ends and reports.
pub(crate) struct LoopOptions {
    /// The input ends by itself (a file, not followed).
    pub(crate) finite: bool,
    /// Close all state at the end of the input.
    pub(crate) drain: bool,
    /// Where to publish metrics, if anywhere.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Crash-consistent checkpoints (`run`); `None` takes none (`replay`).
    pub(crate) checkpoint: Option<CheckpointPolicy>,
    /// The input log (`run`): every batch, for a restart between snapshots.
    pub(crate) input_log: Option<InputLog>,
    /// When the source is acknowledged (an acknowledging source of `run`).
    pub(crate) acks: Option<AckPolicy>,
    /// Alerts a restarted run finds already journaled.
    pub(crate) already: Option<AlreadyJournaled>,
    /// Receives the highest durable seq (for the sink shippers).
    pub(crate) durable: Option<Arc<alerts::DurableHead>>,
    /// The journal's retention, run after each checkpoint (`run`).
    pub(crate) retention: Option<JournalRetention>,
    /// The active of a pair.
    pub(crate) pair: Option<PairHooks>,
}

/// Runs `engine` over `source` until it ends. Returns the summary.
pub(crate) fn run_loop(
    stages: &Stages,
    engine: &mut Engine,
    source: Source,
    mut cutter: Cutter,
    outputs: Outputs,
    opts: LoopOptions,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let started = Instant::now();
    if stages.engine.pin {
        ingest::pin_current(Some(1));
    }
    let summary = Summary {
        journal: stages.journal.dir.clone(),
        notes: outputs.notes.clone(),
        ..Summary::default()
    };
    let appended = opts
        .input_log
        .as_ref()
        .map_or_else(|| Arc::new(AtomicU64::new(0)), InputLog::appended);
    let mut ckpt = opts
        .checkpoint
        .map(|p| CheckpointClock::new(p, Arc::clone(&appended)));
    let mut already = opts.already;
    let writers = Writers::start(
        &stages.journal,
        outputs,
        StateWriters {
            checkpoint_dir: ckpt.as_ref().map(|c| c.dir()),
            input_log: opts.input_log,
            acks: opts.acks,
            retention: opts.retention,
            pair: opts.pair,
        },
        opts.metrics.clone(),
        opts.durable,
    )?;
    let mut tally = Tally::new(summary, source.total_bytes(), opts.metrics);
    let stop_flag = source.stop_flag();

    // The journal thread stopped early: its error is reported by the join.
    let mut ended_early = false;
    loop {
        let t_cut = Instant::now();
        // A quiet stream needs nothing of this thread: the journal thread
        // makes what is pending durable and acknowledges on its own.
        let batch = match cutter.next_event(Duration::MAX)? {
            Cut::Batch(b) => b,
            Cut::End => break,
            Cut::Idle => continue,
        };
        let cut_ns = t_cut.elapsed().as_nanos() as u64;
        let t_proc = Instant::now();
        let cut_at_ns = ingest::wall_ns();
        let mut alerts = Vec::new();
        engine.process(&batch, cut_at_ns, &mut alerts);
        if let Some(a) = already.as_mut() {
            a.filter(&mut alerts);
        }
        let recover_from = already.as_ref().and_then(AlreadyJournaled::recover_from);
        let (input, checkpoint) = match ckpt.as_mut() {
            Some(c) => {
                let (mut meta, mut snapshot) = c.after_batch(&batch, cut_at_ns, engine);
                meta.recover_from = recover_from;
                if let Some(s) = snapshot.as_mut() {
                    s.recover_from = recover_from;
                }
                (Some(meta), snapshot)
            }
            None => (None, None),
        };
        let process_ns = t_proc.elapsed().as_nanos() as u64;
        let stats = tally.batch(
            &batch,
            &alerts,
            engine.live_keys() as u64,
            source.processed_to(&batch),
            BatchTimes {
                cut_at_ns,
                cut_ns,
                process_ns,
            },
        );
        let job = JournalJob {
            stats: Some(stats),
            batch: Some(batch),
            alerts,
            handed_at: Instant::now(),
            processed_at_ns: cut_at_ns + process_ns,
            input,
            checkpoint,
        };
        if writers.jobs.send(job).is_err() {
            ended_early = true;
            break;
        }
        on_progress(&tally.progress);
    }
    if ended_early {
        source.stop();
    }
    // Nothing more is read: a source thread still writing into a full ring
    // (a parse lane past the end, or any source after an early end) sees the
    // ring's reader gone and ends, so the join below cannot wait on it.
    drop(cutter);

    // Stopped on request (a signal), the input is not at its end: no drain.
    let at_end = !ended_early && !stop_flag.load(Ordering::Relaxed);
    let drain = opts.drain && at_end;
    if drain || (ckpt.is_some() && !ended_early) {
        let mut alerts = Vec::new();
        if drain {
            engine.drain(ingest::wall_ns(), &mut alerts);
            if let Some(a) = already.as_mut() {
                a.filter(&mut alerts);
            }
        }
        // The last checkpoint: a finite input read to its end is done.
        let recover_from = already.as_ref().and_then(AlreadyJournaled::recover_from);
        let checkpoint = ckpt.as_mut().map(|c| {
            let mut s = c.take(engine, at_end && opts.finite);
            s.recover_from = recover_from;
            s
        });
        let job = JournalJob {
            stats: Some(tally.last(ingest::wall_ns(), alerts.len() as u64)),
            batch: None,
            alerts,
            handed_at: Instant::now(),
            processed_at_ns: ingest::wall_ns(),
            input: None,
            checkpoint,
        };
        // A send error means the journal thread failed; the join reports it.
        let _ = writers.jobs.send(job);
    }
    let mut summary = std::mem::take(&mut tally.summary);
    let outcome = writers.join(&mut summary)?;
    if let Some(note) = already.as_ref().and_then(AlreadyJournaled::note) {
        summary.notes.push(note);
    }
    if let Some(c) = source.amqp_counters() {
        let skipped = c.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            summary.notes.push(format!(
                "source: {skipped} redelivered messages the state already held were not processed again"
            ));
        }
    }
    // The journal thread has sent its last acknowledgement; the source can
    // finish and close its connection.
    source.join()?;

    summary.events = summary.accepted + summary.rejected_total();
    summary.batches = tally.batches;
    summary.counters = engine.counters();
    summary.alerts = outcome.alerts_by_kind;
    summary.latency = outcome.latency.percentiles();
    summary.processing = outcome.processing.percentiles();
    summary.fsync = outcome.fsync.percentiles();
    summary.first_seq = outcome.first_seq;
    summary.next_seq = outcome.next_seq;
    summary.fsyncs = outcome.fsyncs;
    summary.wall = started.elapsed();
    Ok(summary)
}
