//! Replay: a captured file (or stdin) through ingest, the engine and the journal.

use std::{sync::Arc, time::Duration};

use ingest::{CutPolicy, Input, ReplayOptions, start_replay};

use super::{
    Summary,
    run_loop::{LoopOptions, Outputs, build_engine, run_loop},
    source::Source,
};
use crate::{
    EngineError, Result,
    config::Config,
    metrics::{Health, Metrics, serve},
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

/// The ingest options of the config.
pub(crate) fn ingest_options(cfg: &Config) -> ReplayOptions {
    let e = &cfg.engine;
    ReplayOptions {
        cut: CutPolicy {
            batch_events: e.batch_events,
            batch_time: Duration::from_millis(e.batch_ms),
        },
        ring_bytes: e.ring_bytes,
        pin_core: e.pin.then_some(0),
        rate: (cfg.replay.rate > 0).then_some(cfg.replay.rate),
        start_offset: 0,
    }
}

/// Runs a replay to the end of its input and returns the summary.
pub fn replay(plan: &ReplayPlan, on_progress: impl FnMut(&Progress)) -> Result<Summary> {
    let cfg = &plan.config;
    let mut engine = build_engine(cfg)?;
    let outputs = Outputs::open(cfg, None)?;
    let metrics = (!cfg.metrics.replay_listen.is_empty()).then(|| Arc::new(Metrics::new()));
    let server = match &metrics {
        Some(m) => Some(
            serve(
                &cfg.metrics.replay_listen,
                Arc::clone(m),
                Arc::new(Health::new()),
            )
            .map_err(|e| EngineError::Config(format!("metrics.replay_listen: {e}")))?,
        ),
        None => None,
    };
    let (handle, cutter) = start_replay(plan.input.clone(), &ingest_options(cfg))?;
    let summary = run_loop(
        cfg,
        &mut engine,
        Source::Replay(handle),
        cutter,
        outputs,
        LoopOptions {
            drain: cfg.replay.drain,
            finite: true,
            metrics,
            checkpoint: None,
            already: None,
            durable: None,
        },
        on_progress,
    );
    if let Some(s) = server {
        s.stop();
    }
    summary
}
