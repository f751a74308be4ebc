//! `aldebaran run`: the long-running service over the configured source,
//! with metrics, health, graceful shutdown on SIGTERM/SIGINT (a second
//! signal forces an immediate exit).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use ingest::{
    Input,
    amqp::{AmqpSourceOptions, Topology, start_amqp},
    start_replay,
};

use super::{
    Progress, Summary,
    replay::ingest_options,
    run_loop::{LoopOptions, Outputs, build_engine, run_loop},
    source::Source,
    state_file,
};
use crate::{
    EngineError, Result,
    config::{Config, SourceKind},
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
    let mut engine = build_engine(cfg)?;
    if let Some(p) = state_file::load(&cfg.state.dir, &mut engine)? {
        tracing::info!(path = %p.display(), open = engine.live_keys(), "restored state");
    }
    let outputs = Outputs::open(cfg)?;
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

    let (source, cutter, drain) = match cfg.source.kind {
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
            // A live stream has no end to drain at.
            (Source::Amqp(h), c, false)
        }
        SourceKind::File => {
            let f = &cfg.source.file;
            if f.path.is_empty() {
                return Err(EngineError::Config("source.file.path is empty".into()));
            }
            let input = if f.follow {
                Input::Follow(f.path.clone().into())
            } else {
                Input::File(f.path.clone().into())
            };
            let (h, c) = start_replay(input, &ingest_options(cfg))?;
            (Source::Replay(h), c, !f.follow && cfg.replay.drain)
        }
    };

    let stop = source.stop_flag();
    let signals = shutdown_on_signals(stop, Arc::clone(&health))?;
    health.set_ready(true);
    let summary = run_loop(
        cfg,
        &mut engine,
        source,
        cutter,
        outputs,
        LoopOptions {
            drain,
            metrics: Some(metrics),
        },
        on_progress,
    );
    health.set_ready(false);
    signals.close();
    if let Some(s) = server {
        s.stop();
    }
    let mut summary = summary?;
    // Everything processed is durable and acknowledged: keep the state that
    // goes with it for the next start.
    let path = state_file::save(&cfg.state.dir, &engine)?;
    summary
        .notes
        .push(format!("state saved to {}", path.display()));
    Ok(summary)
}

/// The first SIGTERM/SIGINT stops the source (the pipeline then finishes the
/// batch in flight, makes the journal durable, acknowledges and returns); a
/// second one exits at once.
fn shutdown_on_signals(
    stop: Arc<std::sync::atomic::AtomicBool>,
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
                    stop.store(true, Ordering::Relaxed);
                } else {
                    tracing::warn!(signal = sig, "second signal: exiting now");
                    std::process::exit(130);
                }
            }
        })
        .map_err(|e| EngineError::Internal(format!("cannot start the signal thread: {e}")))?;
    Ok(handle)
}
