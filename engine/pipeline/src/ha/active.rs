//! The active phase of a pair's node: the same loop as a single node's
//! `run` over the source the lease came with, plus the pair's parts — the
//! replicator serving the standby, the release gate between the journal
//! thread and the broker's acknowledgements and the shippers, the shippers'
//! fence and epoch, and a watchdog that fences the node the moment its lease
//! may be gone.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use alerts::{DurableHead, delivery::ShipGate};
use engine_core::Engine;
use pair::{
    gate::{Heads, Link as GateLink, Policy},
    role::{self, Decision, Facts, Lease, Role},
};

use super::{
    cursors::CursorQueue,
    listener::ActiveSlot,
    mirror::Mirror,
    node::NodeRole,
    pair_ctx::PairCtx,
    release::ReleaseGate,
    replicator::{ReplCtx, Replicator},
    wake::Wake,
};
use crate::{
    Progress, Result, Summary,
    checkpoint::Resume,
    checkpoint_policy::CheckpointPolicy,
    delivery::Shippers,
    input_log::InputLog,
    journal_writer::{AckPolicy, PairHooks},
    metrics::{Health, Metrics},
    outputs::Outputs,
    recovery::AlreadyJournaled,
    restore::Restored,
    retention::{ExtraFloor, JournalRetention},
    run_loop::{LoopOptions, run_loop},
    source::Source,
    source_id,
};

/// How often the watchdog looks at the lease and the gate.
const WATCH: Duration = Duration::from_millis(10);

/// What the phase starts from: the replica's state and files.
pub(crate) struct ActiveStart {
    pub(crate) restored: Restored,
    pub(crate) outputs: Outputs,
    pub(crate) input_log: InputLog,
    pub(crate) already: AlreadyJournaled,
    pub(crate) source: Source,
    pub(crate) cutter: ingest::Cutter,
    pub(crate) epoch: u64,
}

/// How the phase ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ActiveEnd {
    /// A signal: the node stops.
    Stopped,
    /// The lease is (or may be) gone, or a higher epoch was seen: the node
    /// demotes itself.
    Demoted(String),
}

/// Runs the active phase until the source ends.
pub(crate) fn run_active(
    ctx: &PairCtx,
    engine: &mut Engine,
    start: ActiveStart,
    slot: &ActiveSlot,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
    on_progress: impl FnMut(&Progress),
) -> Result<(ActiveEnd, Summary)> {
    let setup = &ctx.setup;
    let stages = &setup.stages;
    let ActiveStart {
        restored,
        outputs,
        input_log,
        already,
        source,
        cutter,
        epoch,
    } = start;
    // The epoch is durable before anything ships under it.
    pair::epoch::store(&ctx.state_dir, epoch)?;
    ctx.node.set_epoch(epoch);
    // The new source counts its positions from its own start.
    engine.rebase();
    let local = Heads {
        input: restored.input_next_seq.saturating_sub(1),
        journal: outputs.next_seq().saturating_sub(1),
    };
    let durable = Arc::new(DurableHead::new(local.journal));
    let gate = Arc::new(ReleaseGate::new(
        local,
        Policy {
            mode: ctx.ha.mode,
            alone_after: ctx.ha.alone_after,
        },
        Arc::new(DurableHead::new(local.journal)),
    ));
    gate.set_acker(source.acker());
    let wake = Arc::new(Wake::default());
    let cursors = Arc::new(CursorQueue::new(Arc::clone(&wake)));
    let fence = Arc::new(ShipGate::opened(epoch)?);
    let replicator = Arc::new(Replicator::new(ReplCtx {
        journal_dir: stages.journal.dir.clone(),
        state_dir: ctx.state_dir.clone(),
        gate: Arc::clone(&gate),
        wake: Arc::clone(&wake),
        node: Arc::clone(&ctx.node),
        cursors: Arc::clone(&cursors),
        heartbeat: ctx.ha.heartbeat,
        peer_epoch: Arc::clone(&ctx.peer_epoch),
    }));
    if let Ok(mut s) = slot.lock() {
        *s = Some(Arc::clone(&replicator));
    }
    ctx.node.set_role(NodeRole::Active);
    ctx.node.set_problem(None);
    tracing::warn!(node = %ctx.node.name, epoch, "ha: this node is the active");
    let mirror = Arc::new(Mirror::new(
        Arc::clone(&cursors),
        Arc::clone(&gate),
        ctx.ha.link_timeout,
        ctx.ha.alone_after,
    ));
    let shippers = Shippers::start_fenced(
        setup.delivery.sinks.clone(),
        &stages.journal.dir,
        gate.shippable(),
        metrics,
        health,
        Arc::clone(&fence),
        mirror,
    )?;
    metrics.set_durable_seq_source(Arc::clone(&durable));
    if let Some(counters) = source.amqp_counters() {
        metrics.watch_source(Arc::clone(&counters));
        health.watch_source(counters);
    }
    let demoted = Arc::new(std::sync::Mutex::new(None::<String>));
    let watching = Arc::new(AtomicBool::new(true));
    let watchdog = spawn_watchdog(
        ctx,
        &source,
        Arc::clone(&gate),
        Arc::clone(&fence),
        Arc::clone(&demoted),
        Arc::clone(&watching),
        epoch,
    )?;
    let source_id = source_id::identify(&setup.source)?;
    // The journal keeps what the connected standby still lacks.
    let extra_floor = ExtraFloor::unset();
    replicator.hold_journal_for_standby(extra_floor.clone());
    let retention = JournalRetention::open(
        &stages.journal.dir,
        &stages.journal.retention,
        extra_floor,
        Some(Arc::clone(metrics)),
    )?;
    let acks = source.acker().map(|acker| AckPolicy {
        acker,
        every: setup.source.ack_every(),
        interval: setup.state.checkpoint_interval,
    });
    let summary = run_loop(
        stages,
        engine,
        source,
        cutter,
        outputs,
        LoopOptions {
            finite: false,
            drain: false,
            metrics: Some(Arc::clone(metrics)),
            checkpoint: Some(CheckpointPolicy {
                dir: setup.state.dir.clone(),
                source: source_id,
                resume: Resume::Start,
                file_positions: false,
                snapshot_min_bytes: setup.state.snapshot_min_bytes,
                last_snapshot_bytes: restored.snapshot_bytes,
                messages: restored.messages.clone(),
            }),
            input_log: Some(input_log),
            acks,
            already: Some(already),
            durable: Some(durable),
            retention: Some(retention),
            pair: Some(PairHooks {
                gate: Arc::clone(&gate),
                wake: Arc::clone(&wake),
                finish_patience: ctx.ha.link_timeout,
            }),
        },
        on_progress,
    );
    watching.store(false, Ordering::Release);
    let _ = watchdog.join();
    let stopping = ctx.stop.load(Ordering::Acquire);
    let reason = demoted.lock().ok().and_then(|d| d.clone());
    let end = match (stopping, reason) {
        (true, _) => ActiveEnd::Stopped,
        (false, Some(r)) => ActiveEnd::Demoted(r),
        (false, None) => ActiveEnd::Demoted("the source ended".into()),
    };
    // Nothing ships once the lease may be gone: the source has let it go.
    fence.close();
    shippers.finish_within(Duration::ZERO);
    let notes = shippers.join();
    replicator.stop();
    if let Ok(mut s) = slot.lock() {
        *s = None;
    }
    let mut summary = summary?;
    summary.notes.extend(notes?);
    if let ActiveEnd::Demoted(why) = &end {
        tracing::warn!(reason = %why, "ha: this node is no longer the active");
        summary.notes.push(format!("ha: demoted: {why}"));
    }
    Ok((end, summary))
}

/// The watchdog: steps the gate's clock (a held gate goes alone, said
/// loudly), and fences the node — shippers stopped, source stopped — as soon
/// as the source lost its broker connection, the broker has been silent for
/// `fence_after`, or a higher epoch was seen.
fn spawn_watchdog(
    ctx: &PairCtx,
    source: &Source,
    gate: Arc<ReleaseGate>,
    fence: Arc<ShipGate>,
    demoted: Arc<std::sync::Mutex<Option<String>>>,
    watching: Arc<AtomicBool>,
    epoch: u64,
) -> Result<JoinHandle<()>> {
    let counters = source.amqp_counters();
    let stop_source = source.stop_flag();
    let node = Arc::clone(&ctx.node);
    let peer_epoch = Arc::clone(&ctx.peer_epoch);
    let signalled = Arc::clone(&ctx.stop);
    let (wanted, fence_after) = (ctx.ha.wanted, ctx.ha.fence_after);
    std::thread::Builder::new()
        .name("aldebaran-ha-watch".into())
        .spawn(move || {
            let mut link = gate.link();
            while watching.load(Ordering::Acquire) {
                // A signal: the node hands over. Its shippers stop before
                // the source lets the lease go (the standby, or the next
                // active, ships the rest from the replicated cursors), so
                // a successor never ships while this node still does.
                if signalled.load(Ordering::Acquire) {
                    fence.close();
                    stop_source.store(true, Ordering::Release);
                }
                gate.tick();
                let now = gate.link();
                if now != link {
                    match now {
                        GateLink::Alone => tracing::error!(
                            "ha: NO STANDBY: this active goes on alone (acknowledging and shipping without a replica)"
                        ),
                        GateLink::Synced => tracing::info!("ha: the standby is in sync"),
                        GateLink::CatchingUp => tracing::info!("ha: a standby is catching up"),
                        GateLink::Hold { .. } => {}
                    }
                    link = now;
                }
                node.set_synced(now == GateLink::Synced);
                node.set_lag(gate.lag_events(), 0, 0);
                let h = gate.local();
                node.set_heads(h.input, h.journal);
                let (connected, silent) = match &counters {
                    Some(c) => (
                        c.connected.load(Ordering::Acquire) == 1,
                        c.silent_for(std::time::Instant::now()),
                    ),
                    None => (false, Duration::MAX),
                };
                let facts = Facts {
                    wanted,
                    role: Role::Active,
                    lease: if connected { Lease::Held } else { Lease::Unknown },
                    broker_silent_for: silent,
                    epoch,
                    peer_epoch: Some(peer_epoch.load(Ordering::Acquire)),
                };
                if let Decision::Demote { epoch: seen } = role::decide(&facts, fence_after) {
                    // Fence first: the broker may give the lease away next.
                    fence.close();
                    let why = if seen > epoch {
                        format!("a node said epoch {seen}, above this node's {epoch}")
                    } else if !connected {
                        "the broker connection (and with it the lease) was lost".to_owned()
                    } else {
                        format!("the broker has been silent for {} ms", silent.as_millis())
                    };
                    tracing::error!(reason = %why, "ha: FENCED: this node stops shipping and demotes itself");
                    if let Ok(mut d) = demoted.lock() {
                        d.get_or_insert(why);
                    }
                    stop_source.store(true, Ordering::Release);
                    return;
                }
                std::thread::sleep(WATCH);
            }
        })
        .map_err(|e| crate::PipelineError::Internal(format!("cannot start the ha watchdog: {e}")))
}
