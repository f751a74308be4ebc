//! The engine thread's loop, shared by `replay` and `run`: cut a batch, run
//! the jobs, hand the alerts to the journal thread, repeat until the source
//! ends; then drain (if asked), take the last checkpoint and collect the
//! summary. The bookkeeping is in [`crate::tally`], the threads behind the
//! loop in [`crate::writers`].

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use engine_core::Engine;
use ingest::{Cut, Cutter};

use crate::{
    Progress, Result, Summary,
    checkpoint_policy::{CheckpointClock, CheckpointPolicy},
    journal_writer::JournalJob,
    metrics::Metrics,
    options::Stages,
    outputs::Outputs,
    recovery::AlreadyJournaled,
    source::Source,
    tally::{BatchTimes, Tally},
    writers::Writers,
};

/// A stream quiet this long gets a checkpoint of what it processed.
const IDLE_CHECKPOINT_AFTER: Duration = Duration::from_millis(50);

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
    /// Alerts a restarted run finds already journaled.
    pub(crate) already: Option<AlreadyJournaled>,
    /// Receives the highest durable seq (for the sink shippers).
    pub(crate) durable: Option<Arc<alerts::DurableHead>>,
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
    let mut ckpt = opts.checkpoint.map(CheckpointClock::new);
    let mut already = opts.already;
    let writers = Writers::start(
        &stages.journal,
        outputs,
        &source,
        ckpt.as_ref().map(|c| c.dir()),
        opts.metrics.clone(),
        opts.durable,
    )?;
    let mut tally = Tally::new(summary, source.total_bytes(), opts.metrics);
    let stop_flag = source.stop_flag();
    // How long a quiet stream waits before an idle checkpoint.
    let idle_after = if ckpt.is_some() {
        IDLE_CHECKPOINT_AFTER
    } else {
        Duration::MAX
    };

    // The journal thread stopped early: its error is reported by the join.
    let mut ended_early = false;
    loop {
        let t_cut = Instant::now();
        let batch = match cutter.next_event(idle_after)? {
            Cut::Batch(b) => b,
            Cut::End => break,
            Cut::Idle => {
                // A quiet stream: checkpoint what was processed, so that an
                // acknowledging source is acknowledged without more input.
                let idle = ckpt.as_mut().and_then(|c| c.when_idle(engine));
                if let Some(checkpoint) = idle
                    && writers
                        .jobs
                        .send(JournalJob::checkpoint(checkpoint))
                        .is_err()
                {
                    ended_early = true;
                    break;
                }
                continue;
            }
        };
        let cut_ns = t_cut.elapsed().as_nanos() as u64;
        let t_proc = Instant::now();
        let cut_at_ns = ingest::wall_ns();
        let mut alerts = Vec::new();
        engine.process(&batch, cut_at_ns, &mut alerts);
        if let Some(a) = already.as_mut() {
            a.filter(&mut alerts);
        }
        let checkpoint = ckpt.as_mut().and_then(|c| c.after_batch(&batch, engine));
        let process_ns = t_proc.elapsed().as_nanos() as u64;
        let stats = tally.batch(
            &batch,
            &alerts,
            engine.live_keys() as u64,
            source.bytes_read(),
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
        let checkpoint = ckpt.as_mut().map(|c| c.take(engine, at_end && opts.finite));
        let job = JournalJob {
            stats: Some(tally.last(ingest::wall_ns(), alerts.len() as u64)),
            batch: None,
            alerts,
            handed_at: Instant::now(),
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
    // The journal thread has sent its last acknowledgement; the source can
    // finish and close its connection.
    source.join()?;

    summary.events = summary.accepted + summary.rejected_total();
    summary.batches = tally.batches;
    summary.counters = engine.counters();
    summary.alerts = outcome.alerts_by_kind;
    summary.latency = outcome.latency.percentiles();
    summary.first_seq = outcome.first_seq;
    summary.next_seq = outcome.next_seq;
    summary.fsyncs = outcome.fsyncs;
    summary.wall = started.elapsed();
    Ok(summary)
}
