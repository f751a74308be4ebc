//! The standby phase: follow the active while there is one; when there is
//! none, take the lease if this node may ([`pair::takeover`]) — one thread,
//! so the lease is tried only while no stream is being applied, and the
//! state the new active starts from is exactly the replica's.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use crossbeam_channel::RecvTimeoutError;
use engine_core::Engine;
use pair::{
    Link,
    role::{self, Decision, Facts, Lease, Role},
    takeover::{Standing, may_take_over},
    wire::{JoinMode, Message, PeerStatus},
};

use super::{
    lease::{LeaseTry, try_lease},
    node::NodeRole,
    pair_ctx::PairCtx,
    replica::{Applied, Replica},
    view,
};
use crate::{PipelineError, Result, input_log, source::Source};

/// Messages applied before a commit at most.
const COMMIT_EVERY: usize = 512;
/// Received messages waiting to be applied at most (backpressure beyond).
const INBOX: usize = 4096;

/// How the standby phase ended.
pub(crate) enum StandbyEnd {
    /// This node took the lease: it is the active of `epoch`.
    Promote {
        /// The source (the lease) and its cutter.
        won: Box<(Source, ingest::Cutter)>,
        epoch: u64,
    },
    /// A signal stopped the node.
    Stopped,
}

/// How one connection to the peer went.
enum Contact {
    /// Followed an active until the link ended; its last status said
    /// whether it waited for this node.
    Followed { synced: bool },
    /// The peer answered but is not active.
    PeerNotActive(PeerStatus),
    /// The peer refused this node, saying why.
    Refused(String),
    /// Nobody answered.
    Unreachable,
}

/// Runs the standby phase from `standing`.
pub(crate) fn run_standby(
    ctx: &PairCtx,
    engine: &mut Engine,
    replica: &mut Replica,
    mut standing: Standing,
) -> Result<StandbyEnd> {
    let started = Instant::now();
    let mut lost_at: Option<Instant> = None;
    let mut followed_synced = false;
    let mut peer_not_active: Option<PeerStatus> = None;
    let mut last_warn = Instant::now() - Duration::from_secs(60);
    ctx.node.set_role(NodeRole::Standby);
    loop {
        if ctx.stop.load(Ordering::Acquire) {
            return Ok(StandbyEnd::Stopped);
        }
        match contact(ctx, engine, replica)? {
            Contact::Followed { synced } => {
                lost_at = Some(Instant::now());
                followed_synced = synced;
                peer_not_active = None;
                standing = Standing::Followed {
                    synced,
                    lost_for: Duration::ZERO,
                };
                ctx.node.set_problem(None);
            }
            Contact::PeerNotActive(s) => peer_not_active = Some(s),
            Contact::Refused(why) => {
                ctx.node
                    .set_problem(Some(format!("the active refused this node: {why}")));
                if last_warn.elapsed() > Duration::from_secs(10) {
                    tracing::error!(reason = %why, "ha: the active refuses this node as its standby");
                    last_warn = Instant::now();
                }
            }
            Contact::Unreachable => {}
        }
        if ctx.stop.load(Ordering::Acquire) {
            return Ok(StandbyEnd::Stopped);
        }
        // Where this node stands now.
        let now_standing = match standing {
            Standing::Followed { .. } => Standing::Followed {
                synced: followed_synced,
                lost_for: lost_at.map_or(Duration::MAX, |t| t.elapsed()),
            },
            Standing::Started { .. } => Standing::Started {
                waited: started.elapsed(),
            },
            Standing::WasActive { .. } => Standing::WasActive {
                since: started.elapsed(),
            },
        };
        let mut eligible = may_take_over(ctx.ha.wanted, now_standing, ctx.ha.windows);
        // Both nodes up and neither active (both starting, say): the one
        // whose state is newer goes first; the other waits for it.
        if let Some(peer) = peer_not_active {
            let (input_next, _) = replica.heads();
            let mine = (ctx.node.epoch(), input_next.saturating_sub(1));
            let theirs = (peer.epoch, peer.input_head);
            let wanted_ok = ctx.ha.wanted != pair::role::Wanted::Standby;
            eligible = match now_standing {
                Standing::Started { .. } => wanted_ok && mine >= theirs,
                _ => eligible && mine >= theirs,
            };
        }
        if eligible {
            ctx.node.set_problem(None);
            let processed = replica.recent_messages();
            match try_lease(ctx, &processed) {
                LeaseTry::Won(won) => {
                    let facts = Facts {
                        wanted: ctx.ha.wanted,
                        role: Role::Standby,
                        lease: Lease::Held,
                        broker_silent_for: Duration::ZERO,
                        epoch: ctx.node.epoch(),
                        peer_epoch: Some(ctx.peer_epoch.load(Ordering::Acquire)),
                    };
                    let epoch = match role::decide(&facts, ctx.ha.fence_after) {
                        Decision::Promote { epoch } => epoch,
                        other => {
                            return Err(PipelineError::Internal(format!(
                                "a standby holding the lease decided {other:?}"
                            )));
                        }
                    };
                    return Ok(StandbyEnd::Promote { won, epoch });
                }
                LeaseTry::Held => {}
                LeaseTry::Failed(why) => {
                    if last_warn.elapsed() > Duration::from_secs(5) {
                        tracing::warn!(reason = %why, "ha: cannot reach the broker to try the lease");
                        last_warn = Instant::now();
                    }
                }
            }
        } else if let Standing::Followed { .. } = now_standing {
            let why = if followed_synced {
                "out of sync: the active may have gone on alone since the link was lost"
            } else {
                "it was still catching up when the link was lost"
            };
            ctx.node.set_problem(Some(format!(
                "not eligible to take over: {why}; waiting for an active to follow"
            )));
            if last_warn.elapsed() > Duration::from_secs(10) {
                tracing::warn!(
                    "ha: this standby does not take over ({why}); it waits for an active to follow"
                );
                last_warn = Instant::now();
            }
        }
        std::thread::sleep(ctx.ha.probe);
    }
}

/// One attempt at the peer: handshake, then follow while it is active.
fn contact(ctx: &PairCtx, engine: &mut Engine, replica: &mut Replica) -> Result<Contact> {
    let mut link = match Link::connect(&ctx.ha.peer, ctx.ha.probe, ctx.ha.link_timeout) {
        Ok(l) => l,
        Err(_) => return Ok(Contact::Unreachable),
    };
    let input_dir = input_log::dir(&ctx.state_dir);
    let hello = view::hello(
        &ctx.node.name,
        ctx.node.epoch(),
        replica.journal_dir(),
        &input_dir,
    )?;
    if link.send(&Message::Hello(hello)).is_err() {
        return Ok(Contact::Unreachable);
    }
    let (active, join) = match link.recv() {
        Ok(Message::Welcome { active, join }) => (active, join),
        Ok(Message::Status(s)) => return Ok(Contact::PeerNotActive(s)),
        Ok(Message::Refuse(why)) => return Ok(Contact::Refused(why)),
        Ok(other) => {
            return Ok(Contact::Refused(format!(
                "the peer answered the handshake with {other:?}"
            )));
        }
        Err(_) => return Ok(Contact::Unreachable),
    };
    tracing::info!(active = %active.node, epoch = active.epoch, join = ?join, "ha: following the active");
    ctx.node.set_peer(true, Some(&active.node));
    ctx.node.set_lease_holder(&active.node);
    ctx.peer_epoch.fetch_max(active.epoch, Ordering::AcqRel);
    adopt(ctx, active.epoch)?;
    replica.reconnected();
    if let JoinMode::Resync { journal_from } = join {
        replica.resync(journal_from)?;
    }
    let synced = follow(ctx, engine, replica, link)?;
    ctx.node.set_peer(false, None);
    Ok(Contact::Followed { synced })
}

/// A higher epoch seen from the active is this node's too, persisted: it
/// never ships under a lower one later.
fn adopt(ctx: &PairCtx, epoch: u64) -> Result<()> {
    let facts = Facts {
        wanted: ctx.ha.wanted,
        role: Role::Standby,
        lease: Lease::Refused,
        broker_silent_for: Duration::ZERO,
        epoch: ctx.node.epoch(),
        peer_epoch: Some(epoch),
    };
    if let Decision::Adopt { epoch } = role::decide(&facts, ctx.ha.fence_after) {
        pair::epoch::store(&ctx.state_dir, epoch)?;
        ctx.node.set_epoch(epoch);
    }
    Ok(())
}

/// Applies the active's stream until the link ends, the active says it is
/// no longer active, or the node stops; returns whether the active's last
/// status said it waited for this node.
fn follow(ctx: &PairCtx, engine: &mut Engine, replica: &mut Replica, link: Link) -> Result<bool> {
    let (mut reader, mut writer) = link.split();
    let closer = writer.closer()?;
    let (tx, rx) = crossbeam_channel::bounded::<pair::Result<Message>>(INBOX);
    let reading = std::thread::Builder::new()
        .name("aldebaran-follow-rx".into())
        .spawn(move || {
            loop {
                let m = reader.recv();
                let failed = m.is_err();
                if tx.send(m).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| PipelineError::Internal(format!("cannot start the link reader: {e}")))?;
    let mut synced = false;
    let mut last_beat = Instant::now();
    let outcome = (|| -> Result<()> {
        loop {
            if ctx.stop.load(Ordering::Acquire) {
                return Ok(());
            }
            let first = match rx.recv_timeout(ctx.ha.heartbeat) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let mut applied = 0usize;
            let mut next = first;
            while let Some(m) = next.take() {
                let msg = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "ha: the link to the active ended");
                        if applied > 0 {
                            replica.commit()?;
                        }
                        return Ok(());
                    }
                };
                ctx.node.heard();
                match replica.apply(engine, msg)? {
                    Applied::More => applied += 1,
                    Applied::Status(s) => {
                        synced = s.synced;
                        ctx.node.set_synced(s.synced);
                        adopt(ctx, s.epoch)?;
                        let (input_next, journal_next) = replica.heads();
                        ctx.node.set_lag(
                            s.lag_events,
                            s.input_head.saturating_sub(input_next.saturating_sub(1)),
                            s.journal_head
                                .saturating_sub(journal_next.saturating_sub(1)),
                        );
                        if !s.active {
                            tracing::warn!("ha: the active says it is no longer active");
                            if applied > 0 {
                                replica.commit()?;
                            }
                            return Ok(());
                        }
                    }
                }
                if applied >= COMMIT_EVERY {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if applied > 0 {
                let ack = replica.commit()?;
                let (i, j) = replica.heads();
                ctx.node.set_heads(i.saturating_sub(1), j.saturating_sub(1));
                writer.send(&ack)?;
                writer.flush()?;
            }
            if last_beat.elapsed() >= ctx.ha.heartbeat {
                replica.sync_cursors()?;
                writer.send(&Message::Status(ctx.node.peer_status()))?;
                writer.flush()?;
                last_beat = Instant::now();
            }
        }
    })();
    closer.close();
    drop(rx);
    let _ = reading.join();
    match outcome {
        Ok(()) => Ok(synced),
        // The link failing is how following ends; anything else is this
        // node's own failure.
        Err(PipelineError::Pair(e)) if e.is_transient() => Ok(synced),
        Err(e) => Err(e),
    }
}
