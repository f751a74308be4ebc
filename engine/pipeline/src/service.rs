//! `run`: the long-running service over the configured source, with
//! checkpoints, recovery after a crash, the sink shippers, metrics, health
//! and graceful shutdown on SIGTERM/SIGINT (a second signal exits at once).

use std::sync::{Arc, atomic::AtomicBool};

use engine_core::Engine;

use crate::{
    PipelineError, Progress, Result, Summary,
    checkpoint::Resume,
    checkpoint::{self as ckpt, Checkpoint, SourceId},
    checkpoint_policy::CheckpointPolicy,
    config::Config,
    delivery::Shippers,
    durable_claim::durable_claim,
    ha::HaSetup,
    input_log::{self, InputLog},
    journal_writer::AckPolicy,
    metrics::{Health, Metrics, MetricsServer, serve},
    options::ServiceSetup,
    outputs::Outputs,
    recovery::AlreadyJournaled,
    restore::restore,
    retention::{ExtraFloor, JournalRetention},
    run_loop::{LoopOptions, run_loop},
    signals::Shutdown,
    source, source_id,
};

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The layered configuration.
    pub config: Config,
}

/// Runs until the source ends or a signal stops it; returns the summary.
/// With an `[ha]` section, runs this node of an active-standby pair.
pub fn serve_forever(plan: &ServicePlan, on_progress: impl FnMut(&Progress)) -> Result<Summary> {
    let setup = ServiceSetup::from_config(&plan.config)?;
    let ha = HaSetup::from_config(&plan.config)?;
    // Before anything slow: a stop during the start is a stop, not a kill.
    let shutdown = Shutdown::install()?;
    let out = match ha {
        Some(ha) => crate::ha::serve_pair(setup, ha, &shutdown, on_progress),
        None => serve_single(&setup, &shutdown, on_progress),
    };
    shutdown.close();
    out
}

/// `run` as one node.
fn serve_single(
    setup: &ServiceSetup,
    shutdown: &Shutdown,
    on_progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let stages = &setup.stages;
    crate::shard_mark::claim(&stages.journal.dir, setup.source.shard())?;
    // Set by the first signal; the source has its own flag, set along.
    let stop = Arc::new(AtomicBool::new(false));
    shutdown.stops(Arc::clone(&stop));
    let mut engine = stages.engine.build()?;
    let source_id = source_id::identify(&setup.source)?;
    let restored = restore(&setup.state, &setup.source, &mut engine, &source_id)?;
    let (resume, journal_from) = (restored.resume, restored.journal_next_seq);
    let checkpoint = restored
        .path
        .as_deref()
        .map(|p| (p, journal_from.saturating_sub(1)));
    let durable = durable_claim(&stages.journal.dir, checkpoint)?;
    let mut outputs = Outputs::open(
        &stages.journal,
        &stages.outputs,
        Some(restored.dead_letter_bytes),
        durable,
        |_| Ok(()),
    )?;
    outputs.sync_journal()?;
    let already = AlreadyJournaled::read(&stages.journal.dir, journal_from)?;
    if already.pending() > 0 {
        tracing::info!(
            records = already.pending(),
            "the journal holds alerts past the checkpoint: they are not appended again"
        );
    }
    let durable = Arc::new(alerts::DurableHead::new(
        outputs.next_seq().saturating_sub(1),
    ));
    let metrics = Arc::new(Metrics::of_shard(setup.source.shard()));
    // Held by nothing yet; the active-standby pair will keep a clone, to
    // hold the journal to what its standby still lacks.
    let extra_floor = ExtraFloor::unset();
    let retention = JournalRetention::open(
        &stages.journal.dir,
        &stages.journal.retention,
        extra_floor.clone(),
        Some(Arc::clone(&metrics)),
    )?;
    let health = Arc::new(Health::new());
    health.watch_journal(metrics.journal_failure());
    let server = start_metrics(setup.metrics_listen.as_deref(), &metrics, &health)?;
    let shippers = Shippers::start(
        setup.delivery.sinks.clone(),
        &stages.journal.dir,
        Arc::clone(&durable),
        &metrics,
        &health,
    )?;

    let finite = setup.source.is_finite();
    let mut summary = if finite && resume == Resume::Done {
        shutdown.ready(&health);
        // The input was processed to its end before: only delivery is left.
        drop(outputs);
        let mut s = Summary {
            journal: stages.journal.dir.clone(),
            ..Summary::default()
        };
        s.notes
            .push("the checkpoint says the input was processed to its end".into());
        s
    } else {
        let (source, cutter) =
            source::start(&setup.source, &stages.ingest, resume, &restored.messages)?;
        // The source started: the state may begin. Every frame follows a
        // checkpoint that names the source it belongs to.
        let input_log = InputLog::open(&input_log::dir(&setup.state.dir), restored.input_next_seq)?;
        if restored.path.is_none() {
            first_checkpoint(&setup.state.dir, &source_id, &engine)?;
        }
        let acks = source.acker().map(|acker| AckPolicy {
            acker,
            every: setup.source.ack_every(),
            interval: setup.state.checkpoint_interval,
        });
        if let Some(counters) = source.amqp_counters() {
            metrics.watch_source(Arc::clone(&counters));
            health.watch_source(counters);
        }
        shutdown.stops(source.stop_flag());
        shutdown.ready(&health);
        let summary = run_loop(
            stages,
            &mut engine,
            source,
            cutter,
            outputs,
            LoopOptions {
                finite,
                drain: finite && stages.drain,
                metrics: Some(Arc::clone(&metrics)),
                checkpoint: Some(CheckpointPolicy {
                    dir: setup.state.dir.clone(),
                    source: source_id,
                    resume,
                    file_positions: setup.source.has_file_positions(),
                    snapshot_min_bytes: setup.state.snapshot_min_bytes,
                    last_snapshot_bytes: restored.snapshot_bytes,
                    messages: restored.messages.clone(),
                }),
                input_log: Some(input_log),
                acks,
                already: Some(already),
                durable: Some(Arc::clone(&durable)),
                retention: Some(retention),
                pair: None,
            },
            on_progress,
        );
        summary?
    };
    summary.notes.splice(0..0, restored.notes);
    // A finite input at its end waits for every sink; a stop on request only
    // for the grace period (the rest is delivered after the restart).
    if finite && setup.delivery.wait_at_end {
        shippers.wait_caught_up(&stop);
    }
    shippers.finish_within(setup.delivery.shutdown_grace);
    summary.notes.extend(shippers.join()?);
    health.set_ready(false);
    if let Some(s) = server {
        s.stop();
    }
    Ok(summary)
}

/// The metrics endpoint, when `metrics.listen` names an address.
pub(crate) fn start_metrics(
    listen: Option<&str>,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) -> Result<Option<MetricsServer>> {
    let Some(addr) = listen else {
        return Ok(None);
    };
    let s = serve(addr, Arc::clone(metrics), Arc::clone(health))
        .map_err(|e| PipelineError::Config(format!("metrics.listen: {e}")))?;
    tracing::info!(addr = %s.local_addr(), "metrics at /metrics, health at /healthz");
    Ok(Some(s))
}

/// The checkpoint of a state that has seen nothing yet, written before the
/// first frame of the input log: so that every frame follows a checkpoint
/// naming the source it belongs to.
fn first_checkpoint(dir: &std::path::Path, source: &SourceId, engine: &Engine) -> Result<()> {
    ckpt::save(
        dir,
        &Checkpoint {
            source: source.clone(),
            input_seq: 0,
            journal_next_seq: 1,
            resume: Resume::Start,
            dead_letter_bytes: 0,
            messages: Vec::new(),
            state: engine.snapshot(),
        },
    )?;
    Ok(())
}
