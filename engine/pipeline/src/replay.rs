//! `replay`: a captured file (or stdin) through ingest, the engine and the
//! journal, to the end of its input.

use std::{path::Path, sync::Arc};

use ingest::{Input, start_replay};

use crate::{
    PipelineError, Progress, Result, Summary,
    config::Config,
    durable_claim::durable_claim,
    metrics::{Health, Metrics, serve},
    options::ReplaySetup,
    outputs::Outputs,
    recovery::AlreadyJournaled,
    run_loop::{LoopOptions, run_loop},
    source::Source,
};

/// Everything a replay needs, resolved from config and flags.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// What to read.
    pub input: Input,
    /// The layered configuration (flags already applied).
    pub config: Config,
}

/// Runs a replay to the end of its input and returns the summary.
pub fn replay(plan: &ReplayPlan, on_progress: impl FnMut(&Progress)) -> Result<Summary> {
    let setup = ReplaySetup::from_config(&plan.config);
    let stages = &setup.stages;
    let mut engine = stages.engine.build()?;
    let dir = &stages.journal.dir;
    let durable = durable_claim(dir, None)?;
    let outputs = Outputs::open(&stages.journal, &stages.outputs, None, durable, |next| {
        admit(dir, next, setup.append)
    })?;
    let already = match outputs.next_seq() > 1 {
        true => Some(AlreadyJournaled::read(dir, 1)?.labelled("append")),
        false => None,
    };
    let metrics = setup
        .metrics_listen
        .as_ref()
        .map(|_| Arc::new(Metrics::new()));
    if let Some(m) = &metrics {
        // A replay removes nothing, but says where the journal begins.
        m.set_journal_oldest(alerts::first_kept_seq(dir)?);
    }
    let server = match (&setup.metrics_listen, &metrics) {
        (Some(addr), Some(m)) => Some(
            serve(addr, Arc::clone(m), Arc::new(Health::new()))
                .map_err(|e| PipelineError::Config(format!("metrics.replay_listen: {e}")))?,
        ),
        _ => None,
    };
    let (handle, cutter) = start_replay(plan.input.clone(), &stages.ingest)?;
    let summary = run_loop(
        stages,
        &mut engine,
        Source::Replay(handle),
        cutter,
        outputs,
        LoopOptions {
            finite: true,
            drain: stages.drain,
            metrics,
            checkpoint: None,
            input_log: None,
            acks: None,
            already,
            durable: None,
            retention: None,
            pair: None,
        },
        on_progress,
    );
    if let Some(s) = server {
        s.stop();
    }
    summary
}

/// A journal that already holds alerts (`next_seq` past 1) is refused unless
/// `append`; then its alerts are the ones the replay does not append again
/// (by `alert_id`, as `run` keeps re-produced alerts out after a crash).
fn admit(dir: &Path, next_seq: u64, append: bool) -> Result<()> {
    if next_seq <= 1 || append {
        return Ok(());
    }
    Err(PipelineError::Config(format!(
        "journal {} already holds alerts (seq 1..={}): a replay would append them again; \
         pass --append (replay.append) to add only the alerts it does not hold, or name a \
         fresh directory with --journal",
        dir.display(),
        next_seq - 1
    )))
}
