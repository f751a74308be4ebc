//! The active's replicator: one standby connection at a time, served by two
//! threads — one streams, one reads the standby's acknowledgements into the
//! release gate.
//!
//! The stream is the active's own files, read as they grow (readers never
//! modify them): journal records and input-log frames in order, each frame
//! after every record below its `journal_end` (the journal thread hands a
//! frame's records to the OS before the frame), the sinks' cursor files as
//! the shippers write them, and a status every heartbeat. A standby that
//! resyncs first gets the journal from the oldest record kept, then the
//! newest checkpoint, then the frames after it. Reading the files rather
//! than a queue fed by the journal thread lets a standby that connects late,
//! or reconnects, catch up from any point the logs still keep, while the
//! journal thread never waits for the network.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alerts::JournalReader;
use pair::{
    Closer, Link, LinkReader, LinkWriter,
    gate::{Heads, Link as GateLink},
    join::{Join, decide_join},
    wire::{Hello, JoinMode, Message},
};

use super::{cursors::CursorQueue, node::NodeStatus, release::ReleaseGate, view, wake::Wake};
use crate::{PipelineError, Result, checkpoint, input_log, retention::ExtraFloor};

/// Bytes of a snapshot per message.
const SNAPSHOT_CHUNK: usize = 4 << 20;
/// Messages sent between two flushes while catching up.
const FLUSH_EVERY: usize = 256;

/// What the replicator works with.
pub(crate) struct ReplCtx {
    pub(crate) journal_dir: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) gate: Arc<ReleaseGate>,
    pub(crate) wake: Arc<Wake>,
    pub(crate) node: Arc<NodeStatus>,
    pub(crate) cursors: Arc<CursorQueue>,
    pub(crate) heartbeat: Duration,
    /// The highest epoch a joining node said it had.
    pub(crate) peer_epoch: Arc<AtomicU64>,
}

struct Conn {
    alive: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    writer_close: Arc<Mutex<Option<Closer>>>,
}

/// The active side of the pair's link.
pub(crate) struct Replicator {
    ctx: Arc<ReplCtx>,
    current: Mutex<Option<Conn>>,
    stopped: Arc<AtomicBool>,
    /// The journal's retention keeps what the connected standby lacks.
    floor: Arc<Mutex<Option<ExtraFloor>>>,
}

impl Replicator {
    pub(crate) fn new(ctx: ReplCtx) -> Self {
        Replicator {
            ctx: Arc::new(ctx),
            current: Mutex::new(None),
            stopped: Arc::new(AtomicBool::new(false)),
            floor: Arc::new(Mutex::new(None)),
        }
    }

    /// Holds the journal's retention at what the connected standby has
    /// acknowledged (nothing is held while none is connected: one that
    /// comes back after retention went past it resyncs).
    pub(crate) fn hold_journal_for_standby(&self, floor: ExtraFloor) {
        if let Ok(mut f) = self.floor.lock() {
            *f = Some(floor);
        }
    }

    /// Serves a standby that said `hello` (the listener read it).
    pub(crate) fn accept(&self, mut link: Link, hello: Hello) {
        let Ok(mut cur) = self.current.lock() else {
            return;
        };
        if self.stopped.load(Ordering::Acquire) {
            let _ = link.send(&Message::Refuse("this node is no longer active".into()));
            return;
        }
        if let Some(c) = cur.as_ref()
            && c.alive.load(Ordering::Acquire)
        {
            let _ = link.send(&Message::Refuse(format!(
                "node {} already has a standby connected",
                self.ctx.node.name
            )));
            tracing::warn!(peer = %link.peer(), node = %hello.node,
                "ha: a second standby was refused: one is connected already");
            return;
        }
        if let Some(old) = cur.take() {
            for t in old.threads {
                let _ = t.join();
            }
        }
        self.ctx.peer_epoch.fetch_max(hello.epoch, Ordering::AcqRel);
        let alive = Arc::new(AtomicBool::new(true));
        let writer_close = Arc::new(Mutex::new(None));
        let ctx = Arc::clone(&self.ctx);
        let floor = self.floor.lock().ok().and_then(|f| f.clone());
        let (a, w, stopped) = (
            Arc::clone(&alive),
            Arc::clone(&writer_close),
            Arc::clone(&self.stopped),
        );
        let spawned = std::thread::Builder::new()
            .name("aldebaran-replicate".into())
            .spawn(move || {
                let who = hello.node.clone();
                match serve(&ctx, link, hello, &a, &w, &stopped, floor.as_ref()) {
                    Ok(()) => tracing::info!(standby = %who, "ha: standby link closed"),
                    Err(e) => tracing::warn!(standby = %who, error = %e, "ha: standby link ended"),
                }
                a.store(false, Ordering::Release);
                if let Some(f) = &floor {
                    f.clear();
                }
                ctx.cursors.disconnect();
                ctx.node.set_peer(false, None);
                ctx.node.set_synced(false);
                let was = ctx.gate.link();
                ctx.gate.lost();
                if was == GateLink::Synced {
                    tracing::warn!(standby = %who, "ha: the in-sync standby is gone: acknowledgements and shipping are held, then go on alone");
                }
            });
        match spawned {
            Ok(t) => {
                *cur = Some(Conn {
                    alive,
                    threads: vec![t],
                    writer_close,
                })
            }
            Err(e) => tracing::error!(error = %e, "ha: cannot start the replication thread"),
        }
    }

    /// Ends the standby's connection and refuses new ones (the node is no
    /// longer active).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.ctx.wake.poke();
        let old = self.current.lock().ok().and_then(|mut c| c.take());
        if let Some(c) = old {
            if let Ok(s) = c.writer_close.lock()
                && let Some(s) = s.as_ref()
            {
                s.close();
            }
            for t in c.threads {
                let _ = t.join();
            }
        }
    }
}

/// Handshake, then the stream, until the link or the phase ends.
fn serve(
    ctx: &ReplCtx,
    mut link: Link,
    hello: Hello,
    alive: &Arc<AtomicBool>,
    closer: &Mutex<Option<Closer>>,
    stopped: &AtomicBool,
    floor: Option<&ExtraFloor>,
) -> Result<()> {
    let input_dir = input_log::dir(&ctx.state_dir);
    if hello.version != pair::wire::VERSION {
        let why = format!(
            "node {} speaks replication protocol {}, this node {}",
            hello.node,
            hello.version,
            pair::wire::VERSION
        );
        let _ = link.send(&Message::Refuse(why.clone()));
        return Err(PipelineError::Config(why));
    }
    let view = view::active_view(&ctx.journal_dir, &input_dir, &hello)?;
    let mode = match decide_join(&hello, &view) {
        Join::Refuse(why) => {
            tracing::error!(standby = %hello.node, reason = %why, "ha: a node was refused as standby");
            let _ = link.send(&Message::Refuse(why.clone()));
            return Err(PipelineError::Config(why));
        }
        Join::Accept(m) => m,
    };
    let me = view::hello(
        &ctx.node.name,
        ctx.node.epoch(),
        &ctx.journal_dir,
        &input_dir,
    )?;
    link.send(&Message::Welcome {
        active: me,
        join: mode,
    })?;
    tracing::info!(standby = %hello.node, peer = %link.peer(), join = ?mode, "ha: standby joined");
    let (reader, mut writer) = link.split();
    if let Ok(mut c) = closer.lock() {
        *c = writer.closer().ok();
    }
    let (input_from, journal_from, snapshot) = match mode {
        JoinMode::Stream {
            input_from,
            journal_from,
        } => {
            ctx.gate.joined(Heads {
                input: input_from - 1,
                journal: journal_from - 1,
            });
            (input_from, journal_from, None)
        }
        JoinMode::Resync { journal_from } => {
            let Some((_, ckpt)) = checkpoint::load(&ctx.state_dir)? else {
                return Err(PipelineError::Internal(
                    "an active without a checkpoint cannot resync a standby".into(),
                ));
            };
            ctx.gate.joined(Heads::default());
            (ckpt.input_seq + 1, journal_from, Some(ckpt))
        }
    };
    ctx.node.set_peer(true, Some(&hello.node));
    if let Some(f) = floor {
        f.set(journal_from);
    }
    let acks = spawn_ack_reader(ctx, reader, Arc::clone(alive), floor.cloned())?;
    let files = alerts::delivery::cursor_files(&ctx.journal_dir)?;
    let first = ctx.cursors.connect(files);
    let outcome = stream(
        ctx,
        &mut writer,
        Stream {
            journal_from,
            input_from,
            snapshot,
            first_cursors: first,
        },
        alive,
        stopped,
    );
    writer.close();
    alive.store(false, Ordering::Release);
    let _ = acks.join();
    outcome
}

/// Where the stream starts.
struct Stream {
    journal_from: u64,
    input_from: u64,
    snapshot: Option<checkpoint::Checkpoint>,
    first_cursors: Vec<super::cursors::CursorFile>,
}

fn send_cursor(w: &mut LinkWriter, c: super::cursors::CursorFile) -> Result<()> {
    w.send(&Message::Cursor {
        id: c.id,
        path: c.path,
        bytes: c.bytes,
    })?;
    Ok(())
}

fn stream(
    ctx: &ReplCtx,
    w: &mut LinkWriter,
    start: Stream,
    alive: &AtomicBool,
    stopped: &AtomicBool,
) -> Result<()> {
    let input_dir = input_log::dir(&ctx.state_dir);
    for c in start.first_cursors {
        send_cursor(w, c)?;
    }
    let mut records = JournalReader::open(&ctx.journal_dir, start.journal_from)?;
    let mut next_record = start.journal_from;
    if let Some(ckpt) = start.snapshot {
        // The standby writes the checkpoint once its journal holds what the
        // checkpoint covers: those records go first.
        send_records_below(
            w,
            &mut records,
            &mut next_record,
            ckpt.journal_next_seq,
            true,
        )?;
        let bytes = ckpt.to_bytes();
        let total = bytes.len() as u64;
        for (i, chunk) in bytes.chunks(SNAPSHOT_CHUNK).enumerate() {
            w.send(&Message::Snapshot {
                offset: (i * SNAPSHOT_CHUNK) as u64,
                total,
                bytes: chunk.to_vec(),
            })?;
        }
        w.flush()?;
    }
    std::fs::create_dir_all(&input_dir).map_err(|source| PipelineError::Output {
        path: input_dir.clone(),
        source,
    })?;
    let mut frames = JournalReader::open(&input_dir, start.input_from)?;
    let mut held: Option<(u64, Vec<u8>)> = None;
    let mut last_status = Instant::now() - ctx.heartbeat;
    while alive.load(Ordering::Acquire) && !stopped.load(Ordering::Acquire) {
        let seen = ctx.wake.generation();
        let mut sent = 0usize;
        for c in ctx.cursors.take() {
            send_cursor(w, c)?;
            sent += 1;
        }
        loop {
            if held.is_none() {
                held = frames.next().transpose()?;
            }
            let Some((seq, frame)) = held.take() else {
                break;
            };
            let end = input_log::journal_end(&frame).ok_or_else(|| {
                PipelineError::Internal(format!("input frame {seq} has no readable header"))
            })?;
            sent += send_records_below(w, &mut records, &mut next_record, end, false)?;
            if next_record < end {
                // Its records are not readable yet: they come first.
                held = Some((seq, frame));
                break;
            }
            w.send(&Message::Input { seq, frame })?;
            sent += 1;
            if sent.is_multiple_of(FLUSH_EVERY) {
                w.flush()?;
            }
            if !alive.load(Ordering::Acquire) {
                return Ok(());
            }
        }
        if held.is_none() {
            sent += send_records_below(w, &mut records, &mut next_record, u64::MAX, false)?;
        }
        if last_status.elapsed() >= ctx.heartbeat {
            let mut s = ctx.node.peer_status();
            s.synced = ctx.gate.link() == GateLink::Synced;
            s.lag_events = ctx.gate.lag_events();
            ctx.node.set_synced(s.synced);
            ctx.node.set_lag(s.lag_events, 0, 0);
            w.send(&Message::Status(s))?;
            last_status = Instant::now();
            sent += 1;
        }
        if sent > 0 {
            w.flush()?;
        }
        let next_beat = ctx.heartbeat.saturating_sub(last_status.elapsed());
        ctx.wake
            .wait_past(seen, next_beat.max(Duration::from_millis(1)));
    }
    Ok(())
}

/// Sends journal records from `*next` up to (not including) `end`, as far
/// as they are readable; returns how many. With `all`, waits for them.
fn send_records_below(
    w: &mut LinkWriter,
    records: &mut JournalReader,
    next: &mut u64,
    end: u64,
    all: bool,
) -> Result<usize> {
    let mut n = 0usize;
    while *next < end {
        match records.next().transpose()? {
            Some((seq, payload)) => {
                if seq != *next {
                    return Err(PipelineError::Internal(format!(
                        "journal record {seq} read where {} was expected",
                        *next
                    )));
                }
                w.send(&Message::Record { seq, payload })?;
                *next += 1;
                n += 1;
                if n.is_multiple_of(FLUSH_EVERY) {
                    w.flush()?;
                }
            }
            None if all => std::thread::sleep(Duration::from_millis(1)),
            None => break,
        }
    }
    Ok(n)
}

/// The thread reading the standby's acknowledgements and statuses.
fn spawn_ack_reader(
    ctx: &ReplCtx,
    mut r: LinkReader,
    alive: Arc<AtomicBool>,
    floor: Option<ExtraFloor>,
) -> Result<JoinHandle<()>> {
    let gate = Arc::clone(&ctx.gate);
    let node = Arc::clone(&ctx.node);
    let cursors = Arc::clone(&ctx.cursors);
    let wake = Arc::clone(&ctx.wake);
    std::thread::Builder::new()
        .name("aldebaran-repl-acks".into())
        .spawn(move || {
            loop {
                match r.recv() {
                    Ok(Message::Ack {
                        input_seq,
                        journal_next_seq,
                        cursor,
                    }) => {
                        node.heard();
                        cursors.acked(cursor);
                        if let Some(f) = &floor {
                            f.set(journal_next_seq);
                        }
                        gate.replicated(Heads {
                            input: input_seq,
                            journal: journal_next_seq.saturating_sub(1),
                        });
                    }
                    Ok(Message::Status(_)) => node.heard(),
                    Ok(other) => {
                        tracing::warn!(message = ?std::mem::discriminant(&other),
                            "ha: the standby sent an unexpected message; closing the link");
                        break;
                    }
                    Err(e) => {
                        if alive.load(Ordering::Acquire) {
                            tracing::warn!(error = %e, "ha: the standby's link failed");
                        }
                        break;
                    }
                }
            }
            alive.store(false, Ordering::Release);
            wake.poke();
        })
        .map_err(|e| PipelineError::Internal(format!("cannot start the ack reader: {e}")))
}
