//! `aldebaran run`: the long-running service over the configured source,
//! with metrics, health, graceful shutdown on SIGTERM/SIGINT (a second
//! signal forces an immediate exit).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use ingest::{
    Input,
    amqp::{AmqpSourceOptions, Topology, start_amqp},
    start_replay,
};

use super::{
    Progress, Summary,
    checkpoint::{self, Resume, SourceId},
    checkpoint_policy::CheckpointPolicy,
    delivery::Shippers,
    recovery::AlreadyJournaled,
    replay::ingest_options,
    run_loop::{LoopOptions, Outputs, build_engine, run_loop},
    source::Source,
    source_id,
};
use crate::{
    EngineError, Result,
    config::{Config, SourceKind},
    core::Engine,
    metrics::{Health, Metrics, serve},
};

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The layered configuration.
    pub config: Config,
}

/// Runs until the source ends or a signal stops it; returns the summary.
pub fn serve_forever(plan: &ServicePlan, on_progress: impl FnMut(&Progress)) -> Result<Summary> {
    let cfg = &plan.config;
    let sink_configs = Shippers::check(cfg)?;
    let mut engine = build_engine(cfg)?;
    let source_id = source_id::identify(cfg)?;
    let restored = restore(cfg, &mut engine, &source_id)?;
    let (resume, journal_from) = (restored.resume, restored.journal_next_seq);
    let mut outputs = Outputs::open(cfg, Some(restored.dead_letter_bytes))?;
    outputs.sync_journal()?;
    let already = AlreadyJournaled::read(&cfg.journal.dir, journal_from)?;
    if already.pending() > 0 {
        tracing::info!(
            records = already.pending(),
            "the journal holds alerts past the checkpoint: they are not appended again"
        );
    }
    let durable = Arc::new(alerts::DurableHead::new(
        outputs.next_seq().saturating_sub(1),
    ));
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new());
    let server = if cfg.metrics.listen.is_empty() {
        None
    } else {
        let s = serve(
            &cfg.metrics.listen,
            Arc::clone(&metrics),
            Arc::clone(&health),
        )
        .map_err(|e| EngineError::Config(format!("metrics.listen: {e}")))?;
        tracing::info!(addr = %s.local_addr(), "metrics at /metrics, health at /healthz");
        Some(s)
    };
    let shippers = Shippers::start(
        sink_configs,
        &cfg.journal.dir,
        Arc::clone(&durable),
        &metrics,
    )?;

    let finite = cfg.source.kind == SourceKind::File && !cfg.source.file.follow;
    // Set by the first signal; the source has its own flag, set along.
    let stop = Arc::new(AtomicBool::new(false));
    let (signals, mut summary) = if finite && resume == Resume::Done {
        let signals = shutdown_on_signals(vec![Arc::clone(&stop)], Arc::clone(&health))?;
        health.set_ready(true);
        // The input was processed to its end before: only delivery is left.
        drop(outputs);
        let mut s = Summary {
            journal: cfg.journal.dir.clone(),
            ..Summary::default()
        };
        s.notes
            .push("the checkpoint says the input was processed to its end".into());
        (signals, s)
    } else {
        let (source, cutter) = start_source(cfg, resume)?;
        let signals = shutdown_on_signals(
            vec![Arc::clone(&stop), source.stop_flag()],
            Arc::clone(&health),
        )?;
        health.set_ready(true);
        let ack_every = match cfg.source.kind {
            SourceKind::Amqp => u64::from(cfg.source.amqp.prefetch / 2).max(1),
            SourceKind::File => u64::MAX,
        };
        let summary = run_loop(
            cfg,
            &mut engine,
            source,
            cutter,
            outputs,
            LoopOptions {
                drain: finite && cfg.replay.drain,
                finite,
                metrics: Some(Arc::clone(&metrics)),
                checkpoint: Some(CheckpointPolicy {
                    dir: cfg.state.dir.clone(),
                    source: source_id,
                    interval: Duration::from_millis(cfg.state.checkpoint_interval_ms.max(1)),
                    ack_every,
                    resume,
                    file_positions: cfg.source.kind == SourceKind::File,
                }),
                already: Some(already),
                durable: Some(Arc::clone(&durable)),
            },
            on_progress,
        );
        (signals, summary?)
    };
    summary.notes.splice(0..0, restored.note);
    // A finite input at its end waits for every sink; a stop on request only
    // for the grace period (the rest is delivered after the restart).
    if finite && cfg.delivery.wait_at_end {
        shippers.wait_caught_up(&stop);
    }
    shippers.finish_within(Duration::from_millis(cfg.delivery.shutdown_grace_ms));
    summary.notes.extend(shippers.join()?);
    signals.close();
    health.set_ready(false);
    if let Some(s) = server {
        s.stop();
    }
    Ok(summary)
}

/// What the newest checkpoint gave back.
struct Restored {
    resume: Resume,
    /// The journal's alerts from this seq on are past the checkpoint.
    journal_next_seq: u64,
    /// The dead-letter file's length at the checkpoint.
    dead_letter_bytes: u64,
    /// For the summary.
    note: Option<String>,
}

/// Restores `engine` from the newest checkpoint, if there is one and it
/// belongs to this source.
fn restore(cfg: &Config, engine: &mut Engine, source_id: &SourceId) -> Result<Restored> {
    let Some((path, ckpt)) = checkpoint::load(&cfg.state.dir)? else {
        return Ok(Restored {
            resume: Resume::Start,
            journal_next_seq: 1,
            dead_letter_bytes: 0,
            note: None,
        });
    };
    if let Some(why) = source_id::mismatch(&ckpt.source, source_id, cfg)? {
        return Err(EngineError::Config(format!(
            "the checkpoint {} is not this input's: {why} (move {} away to start afresh)",
            path.display(),
            cfg.state.dir.display()
        )));
    }
    engine.restore(&ckpt.state).map_err(|e| {
        EngineError::Config(format!(
            "cannot restore state from {}: {e} (move it away to rebuild the state from the input)",
            path.display()
        ))
    })?;
    tracing::info!(path = %path.display(), open = engine.live_keys(),
        journal_next_seq = ckpt.journal_next_seq, resume = ?ckpt.resume,
        "restored the checkpoint");
    Ok(Restored {
        resume: ckpt.resume,
        journal_next_seq: ckpt.journal_next_seq,
        dead_letter_bytes: ckpt.dead_letter_bytes,
        note: Some(format!(
            "restored the checkpoint {} (journal up to seq {})",
            path.display(),
            ckpt.journal_next_seq.saturating_sub(1)
        )),
    })
}

/// Starts the configured source where `resume` says.
fn start_source(cfg: &Config, resume: Resume) -> Result<(Source, ingest::Cutter)> {
    match cfg.source.kind {
        SourceKind::Amqp => {
            let a = &cfg.source.amqp;
            if a.prefetch == 0 {
                return Err(EngineError::Config(
                    "source.amqp.prefetch must be at least 1".into(),
                ));
            }
            let ing = ingest_options(cfg);
            let (h, c) = start_amqp(AmqpSourceOptions {
                url: a.url.clone(),
                topology: Topology::with_trade_queue(&a.queue),
                prefetch: a.prefetch,
                consumer_tag: a.consumer_tag.clone(),
                cut: ing.cut,
                ring_bytes: ing.ring_bytes,
                pin_core: ing.pin_core,
                reconnect_min: Duration::from_millis(a.reconnect_min_ms.max(1)),
                reconnect_max: Duration::from_millis(
                    a.reconnect_max_ms.max(a.reconnect_min_ms).max(1),
                ),
            })?;
            Ok((Source::Amqp(h), c))
        }
        SourceKind::File => {
            let f = &cfg.source.file;
            let path = std::path::PathBuf::from(&f.path);
            let mut opts = ingest_options(cfg);
            opts.start_offset = match resume {
                Resume::AfterLineAt(at) => line_after(&path, at)?,
                Resume::Start | Resume::Done => 0,
            };
            let input = if f.follow {
                Input::Follow(path)
            } else {
                Input::File(path)
            };
            let (h, c) = start_replay(input, &opts)?;
            Ok((Source::Replay(h), c))
        }
    }
}

/// The offset of the line after the one starting at `at`.
fn line_after(path: &std::path::Path, at: u64) -> Result<u64> {
    use std::io::{BufRead, Seek, SeekFrom};
    let err = |e: std::io::Error| {
        EngineError::Config(format!(
            "source.file.path {}: cannot resume at byte {at}: {e}",
            path.display()
        ))
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    if at >= len {
        return Err(err(std::io::Error::other(format!(
            "the file has only {len} bytes: it is not the file the checkpoint was taken on"
        ))));
    }
    f.seek(SeekFrom::Start(at)).map_err(err)?;
    let mut line = Vec::new();
    let n = std::io::BufReader::new(f)
        .read_until(b'\n', &mut line)
        .map_err(err)?;
    Ok(at + n as u64)
}

/// The first SIGTERM/SIGINT stops the source (the pipeline then finishes the
/// batch in flight, makes the journal durable, acknowledges and returns); a
/// second one exits at once.
fn shutdown_on_signals(
    stops: Vec<Arc<AtomicBool>>,
    health: Arc<Health>,
) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| EngineError::Internal(format!("cannot install signal handlers: {e}")))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("aldebaran-signals".into())
        .spawn(move || {
            let mut count = 0;
            for sig in signals.forever() {
                count += 1;
                if count == 1 {
                    tracing::info!(signal = sig, "shutting down: finishing the batch in flight");
                    health.set_ready(false);
                    for s in &stops {
                        s.store(true, Ordering::Relaxed);
                    }
                } else {
                    tracing::warn!(signal = sig, "second signal: exiting now");
                    std::process::exit(130);
                }
            }
        })
        .map_err(|e| EngineError::Internal(format!("cannot start the signal thread: {e}")))?;
    Ok(handle)
}
