//! The active-standby pair of SPEC §6, as `aldebaran run` runs it when the
//! configuration has an `[ha]` section: this node's phases and the I/O
//! around the pair crate's protocol and decisions.
//!
//! A node is, in turn: a **standby** (`standby.rs`), following the active's
//! stream into its [`replica::Replica`] and trying the broker's lease only
//! when it follows no one and may take over; and an **active**
//! (`active.rs`), which is `run`'s loop over the source the lease came with,
//! with the replicator (`replicator.rs`) streaming to its standby, the
//! release gate (`release.rs`) holding acknowledgements and shipping to
//! what the standby holds, the shippers fenced and stamped with the epoch,
//! and a watchdog that fences the node the moment its lease may be gone.
//! A demoted active becomes a standby again from its own files. The
//! listener (`listener.rs`) answers on the replication address for the
//! node's whole life: `aldebaran status` queries (`status.rs`), and
//! following nodes while it is active.

mod active;
mod cursors;
mod lease;
mod listener;
mod mirror;
mod node;
mod pair_ctx;
mod release;
mod replica;
mod replicator;
mod setup;
mod standby;
pub(crate) mod status;
mod view;
mod wake;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64},
};

use engine_core::Engine;
use pair::takeover::Standing;

pub(crate) use release::ReleaseGate;
pub(crate) use setup::HaSetup;
pub(crate) use wake::Wake;

use self::{
    active::{ActiveEnd, ActiveStart, run_active},
    node::NodeStatus,
    pair_ctx::PairCtx,
    replica::{Replica, ReplicaDirs},
    standby::{StandbyEnd, run_standby},
};
use crate::{
    PipelineError, Progress, Result, Summary,
    checkpoint::{self as ckpt, Checkpoint, Resume},
    durable_claim::durable_claim,
    metrics::{Health, Metrics},
    options::ServiceSetup,
    restore::restore,
    service::start_metrics,
    signals::Shutdown,
    source_id,
};

/// Runs this node of the pair until a signal stops it.
pub(crate) fn serve_pair(
    setup: ServiceSetup,
    ha: HaSetup,
    shutdown: &Shutdown,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Summary> {
    let state_dir = setup.state.dir.clone();
    std::fs::create_dir_all(&state_dir).map_err(|source| PipelineError::Output {
        path: state_dir.clone(),
        source,
    })?;
    crate::shard_mark::claim(&setup.stages.journal.dir, setup.source.shard())?;
    let mut engine = setup.stages.engine.build()?;
    let source_id = source_id::identify(&setup.source)?;
    let epoch = pair::epoch::load(&state_dir)?;
    let replication = match ha.mode {
        pair::gate::Mode::Sync => "sync",
        pair::gate::Mode::Async => "async",
    };
    let node = Arc::new(NodeStatus::new(&ha.node, &ha.peer, replication, epoch));
    let metrics = Arc::new(Metrics::of_shard(setup.source.shard()));
    let health = Arc::new(Health::new());
    health.watch_journal(metrics.journal_failure());
    metrics.watch_pair(Arc::clone(&node) as Arc<dyn crate::metrics::PairView>);
    health.watch_pair(Arc::clone(&node) as Arc<dyn crate::metrics::PairView>);
    let server = start_metrics(setup.metrics_listen.as_deref(), &metrics, &health)?;
    let slot = Arc::new(Mutex::new(None));
    listener::spawn(
        &ha.listen,
        Arc::clone(&node),
        Arc::clone(&slot),
        setup.stages.journal.dir.clone(),
        ha.link_timeout,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    shutdown.stops(Arc::clone(&stop));
    let dirs = ReplicaDirs {
        journal: setup.stages.journal.clone(),
        state: state_dir.clone(),
        dead_letter: setup.stages.outputs.dead_letter.clone(),
        snapshot_min_bytes: setup.state.snapshot_min_bytes,
        source: source_id.clone(),
        metrics: Some(Arc::clone(&metrics)),
    };
    let ctx = PairCtx {
        ha,
        setup,
        node,
        stop,
        state_dir,
        peer_epoch: Arc::new(AtomicU64::new(0)),
    };
    shutdown.ready(&health);
    let mut standing = Standing::Started {
        waited: std::time::Duration::ZERO,
    };
    let mut notes: Vec<String> = Vec::new();
    let mut last: Option<Summary> = None;
    let outcome = loop {
        let mut replica = match open_replica(&ctx, &dirs, &mut engine, &source_id) {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        match run_standby(&ctx, &mut engine, &mut replica, standing) {
            Err(e) => {
                let _ = replica.close();
                break Err(e);
            }
            Ok(StandbyEnd::Stopped) => break replica.close(),
            Ok(StandbyEnd::Promote { won, epoch }) => {
                let (source, cutter) = *won;
                let (restored, outputs, input_log, already) = replica.into_active()?;
                let start = ActiveStart {
                    restored,
                    outputs,
                    input_log,
                    already,
                    source,
                    cutter,
                    epoch,
                };
                let ran = run_active(
                    &ctx,
                    &mut engine,
                    start,
                    &slot,
                    &metrics,
                    &health,
                    &mut on_progress,
                );
                health.unwatch_active();
                match ran {
                    Err(e) => break Err(e),
                    Ok((end, s)) => {
                        notes.extend(s.notes.iter().cloned());
                        last = Some(s);
                        match end {
                            ActiveEnd::Stopped => break Ok(()),
                            ActiveEnd::Demoted(_) => {
                                standing = Standing::WasActive {
                                    since: std::time::Duration::ZERO,
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    health.set_ready(false);
    if let Some(s) = server {
        s.stop();
    }
    outcome?;
    let mut summary = last.unwrap_or_else(|| Summary {
        journal: ctx.setup.stages.journal.dir.clone(),
        ..Summary::default()
    });
    summary.notes = notes;
    Ok(summary)
}

/// The node's own state, from its files (at start, and after a demotion):
/// the engine restored, the replica's files open where it left them.
fn open_replica(
    ctx: &PairCtx,
    dirs: &ReplicaDirs,
    engine: &mut Engine,
    source_id: &ckpt::SourceId,
) -> Result<Replica> {
    let setup = &ctx.setup;
    let restored = restore(&setup.state, &setup.source, engine, source_id)?;
    let checkpoint = restored
        .path
        .as_deref()
        .map(|p| (p, restored.journal_next_seq.saturating_sub(1)));
    let claim = durable_claim(&setup.stages.journal.dir, checkpoint)?;
    if restored.path.is_none() {
        // Every frame follows a checkpoint naming the source it belongs to.
        ckpt::save(
            &ctx.state_dir,
            &Checkpoint {
                source: source_id.clone(),
                input_seq: 0,
                journal_next_seq: 1,
                resume: Resume::Start,
                dead_letter_bytes: 0,
                messages: Vec::new(),
                state: engine.snapshot(),
            },
        )?;
    }
    Replica::open(dirs.clone(), &restored, claim)
}
