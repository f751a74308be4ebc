//! [`Replica`]: the standby's copy of the active — its own journal, input
//! log, dead-letter file and checkpoints, and the engine's state — kept
//! current by applying the active's stream ([`Replica::apply`]) and made
//! durable in group commits ([`Replica::commit`]), in the journal thread's
//! order: dead letters, journal, input log, then the acknowledgement.
//!
//! The standby runs the same jobs on each frame, at the position base and
//! wall clock the active gave it, and checks that they produce the records
//! the active journaled for it (byte for byte): the journals are the same by
//! construction *and* by computation — a divergence stops the standby
//! rather than let it take over with a state that is not the active's.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    thread::JoinHandle,
};

use alerts::{Journal, JournalOptions};
use crossbeam_channel::Sender;
use engine_core::Engine;
use pair::wire::{Message, PeerStatus};

use crate::{
    PipelineError, Result,
    checkpoint::{self, Checkpoint, Resume, SourceId},
    checkpoint_policy::RECENT_MESSAGES,
    checkpoint_writer::{self, CheckpointOutcome, DurableCheckpoint},
    dead_letters::DeadLetterWriter,
    input_log::{self, InputLog},
    options::JournalSetup,
    outputs::Outputs,
    recovery::AlreadyJournaled,
    restore::Restored,
    retention::{ExtraFloor, JournalRetention},
};

/// Where the standby's files are.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaDirs {
    pub(crate) journal: JournalSetup,
    pub(crate) state: PathBuf,
    pub(crate) dead_letter: Option<PathBuf>,
    pub(crate) snapshot_min_bytes: u64,
    pub(crate) source: SourceId,
    /// Where the standby's journal retention reports its oldest seq.
    pub(crate) metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl ReplicaDirs {
    /// The checkpoint thread of the standby, with the journal's retention
    /// run after each checkpoint (the replicated cursors say what the sinks
    /// still need, as on the active).
    fn checkpoint_thread(
        &self,
    ) -> Result<(
        Sender<DurableCheckpoint>,
        JoinHandle<Result<CheckpointOutcome>>,
    )> {
        let retention = JournalRetention::open(
            &self.journal.dir,
            &self.journal.retention,
            ExtraFloor::unset(),
            self.metrics.clone(),
        )?;
        checkpoint_writer::spawn(self.state.clone(), Some(retention))
    }
}

/// The standby's state between the messages of the stream.
pub(crate) struct Replica {
    dirs: ReplicaDirs,
    journal: Journal,
    /// `None` while a resync waits for its snapshot.
    input: Option<InputLog>,
    dead: Option<DeadLetterWriter>,
    checkpoints: Option<(
        Sender<DurableCheckpoint>,
        JoinHandle<Result<CheckpointOutcome>>,
    )>,
    /// A snapshot taken after the last frame, written once it is durable.
    due: Option<Checkpoint>,
    /// As [`Restored::journal_next_seq`] after the last frame.
    journal_from: u64,
    resume: Resume,
    recent: VecDeque<u64>,
    last_snapshot_bytes: u64,
    appended_at_last: u64,
    /// The previous frame's `journal_end` (`None` after a (re)connect).
    last_end: Option<u64>,
    /// Records appended since the last frame: what its jobs must produce.
    window: VecDeque<(u64, Vec<u8>)>,
    cursor_acked: u64,
    /// Cursor files installed since the last [`Replica::sync_cursors`].
    cursors_unsynced: bool,
    /// Cursor files waiting for the journal records they point at to be
    /// durable here, in arrival order: (id, path, bytes, seq reached).
    cursors: VecDeque<(u64, String, Vec<u8>, u64)>,
    /// A resync's snapshot, arriving in pieces.
    snapshot: Vec<u8>,
    alerts: Vec<engine_core::Alert>,
}

/// What applying a message asks of the follower.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Go on.
    More,
    /// The active said where it stands.
    Status(PeerStatus),
}

impl Replica {
    /// Opens the standby's files where the node's restored state left them.
    pub(crate) fn open(
        dirs: ReplicaDirs,
        restored: &Restored,
        durable: Option<alerts::DurableClaim>,
    ) -> Result<Self> {
        let outputs = Outputs::open(
            &dirs.journal,
            &crate::options::OutputSetup {
                dead_letter: dirs.dead_letter.clone(),
                stats: None,
            },
            Some(restored.dead_letter_bytes),
            durable,
            |_| Ok(()),
        )?;
        let input = InputLog::open(&input_log::dir(&dirs.state), restored.input_next_seq)?;
        let checkpoints = Some(dirs.checkpoint_thread()?);
        let appended_at_last = 0;
        let recent: VecDeque<u64> = restored
            .messages
            .iter()
            .rev()
            .take(RECENT_MESSAGES)
            .rev()
            .copied()
            .collect();
        Ok(Replica {
            journal: outputs.journal,
            dead: outputs.dead,
            input: Some(input),
            checkpoints,
            due: None,
            journal_from: restored.journal_next_seq,
            resume: restored.resume,
            recent,
            last_snapshot_bytes: restored.snapshot_bytes,
            appended_at_last,
            last_end: None,
            window: VecDeque::new(),
            cursor_acked: 0,
            cursors_unsynced: false,
            cursors: VecDeque::new(),
            snapshot: Vec::new(),
            alerts: Vec::new(),
            dirs,
        })
    }

    /// The journal's directory.
    pub(crate) fn journal_dir(&self) -> &Path {
        &self.dirs.journal.dir
    }

    /// Where the replica stands: the next input frame and journal seq.
    pub(crate) fn heads(&self) -> (u64, u64) {
        (
            self.input.as_ref().map_or(0, InputLog::next_seq),
            self.journal.next_seq(),
        )
    }

    /// A new connection: the next frame's records are not known yet.
    pub(crate) fn reconnected(&mut self) {
        self.last_end = None;
        self.window.clear();
        self.snapshot.clear();
        self.cursor_acked = 0;
        self.cursors.clear();
    }

    /// A resync: the journal and the state are set aside (renamed, never
    /// deleted), and the journal starts again at `journal_from`, empty; the
    /// engine's state comes with the snapshot.
    pub(crate) fn resync(&mut self, journal_from: u64) -> Result<()> {
        self.commit()?;
        if let Some((tx, h)) = self.checkpoints.take() {
            drop(tx);
            h.join()
                .map_err(|_| PipelineError::Internal("the checkpoint thread panicked".into()))??;
        }
        self.input = None;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let journal_dir = self.dirs.journal.dir.clone();
        let aside_journal = PathBuf::from(format!("{}.set-aside-{stamp}", journal_dir.display()));
        // The open journal moves with its directory (its files stay open);
        // a new one is opened in its place, then the old one is closed.
        rename(&journal_dir, &aside_journal)?;
        let (journal, _) = Journal::open(
            &journal_dir,
            JournalOptions {
                segment_bytes: self.dirs.journal.segment_bytes,
                first_seq: journal_from,
                ..JournalOptions::default()
            },
        )?;
        drop(std::mem::replace(&mut self.journal, journal));
        let aside_state = self.dirs.state.join(format!("set-aside-{stamp}"));
        std::fs::create_dir_all(&aside_state).map_err(io(&aside_state))?;
        for name in ["checkpoint", "input"] {
            let from = self.dirs.state.join(name);
            if from.exists() {
                rename(&from, &aside_state.join(name))?;
            }
        }
        self.checkpoints = Some(self.dirs.checkpoint_thread()?);
        self.reconnected();
        tracing::warn!(journal = %aside_journal.display(), state = %aside_state.display(),
            "ha: this node's journal and state are not the active's: set aside, resyncing from the active");
        Ok(())
    }

    /// Applies one message of the stream to `engine` and the files.
    pub(crate) fn apply(&mut self, engine: &mut Engine, msg: Message) -> Result<Applied> {
        match msg {
            Message::Record { seq, payload } => {
                let next = self.journal.next_seq();
                if seq != next {
                    return Err(protocol(format!(
                        "journal record {seq} arrived where this journal appends {next}"
                    )));
                }
                self.journal.append(&payload)?;
                self.window.push_back((seq, payload));
                Ok(Applied::More)
            }
            Message::Input { seq, frame } => {
                self.frame(engine, seq, frame)?;
                Ok(Applied::More)
            }
            Message::Cursor { id, path, bytes } => {
                let reach = alerts::delivery::cursor_reach(&path, &bytes)?.unwrap_or(0);
                self.cursors.push_back((id, path, bytes, reach));
                Ok(Applied::More)
            }
            Message::Snapshot {
                offset,
                total,
                bytes,
            } => {
                if offset != self.snapshot.len() as u64 {
                    return Err(protocol("a snapshot piece out of order".into()));
                }
                self.snapshot.extend_from_slice(&bytes);
                if self.snapshot.len() as u64 >= total {
                    let whole = std::mem::take(&mut self.snapshot);
                    self.install(engine, &whole)?;
                }
                Ok(Applied::More)
            }
            Message::Status(s) => Ok(Applied::Status(s)),
            other => Err(protocol(format!(
                "unexpected message from the active: {other:?}"
            ))),
        }
    }

    fn frame(&mut self, engine: &mut Engine, seq: u64, mut frame: Vec<u8>) -> Result<()> {
        let Some(next) = self.input.as_ref().map(InputLog::next_seq) else {
            return Err(protocol(format!(
                "input frame {seq} arrived before the resync's snapshot"
            )));
        };
        if seq != next {
            return Err(protocol(format!(
                "input frame {seq} arrived where this input log appends {next}"
            )));
        }
        let f = input_log::decode(&frame)
            .map_err(|e| protocol(format!("input frame {seq} cannot be read: {e}")))?;
        let end = f.meta.journal_end;
        // The frame's records came first; records of later frames may have
        // too (the active hands its journal to the OS before its frames).
        if self.journal.next_seq() < end {
            return Err(protocol(format!(
                "input frame {seq} ends the journal at {end}, but its records arrived only to {}",
                self.journal.next_seq() - 1
            )));
        }
        if let Some(d) = self.dead.as_mut() {
            if !f.batch.dead_letters().is_empty() {
                d.write(f.batch.dead_letters())?;
                d.flush()?;
            }
            input_log::set_dead_letter_bytes(&mut frame, d.len());
        }
        // The frame's alerts reach the OS before the frame (as on the active).
        self.journal.flush()?;
        let appended = match self.input.as_mut() {
            Some(input) => {
                input.append_raw(&frame)?;
                input.appended().load(std::sync::atomic::Ordering::Relaxed)
            }
            None => 0,
        };
        self.alerts.clear();
        engine.process_at(
            &f.batch,
            f.meta.pos_base,
            f.meta.detected_at_ns,
            &mut self.alerts,
        );
        self.check_alerts(seq, &f.meta)?;
        for &d in f.batch.messages() {
            if self.recent.len() == RECENT_MESSAGES {
                self.recent.pop_front();
            }
            self.recent.push_back(d);
        }
        self.journal_from = f.meta.journal_next_seq;
        self.resume = f.meta.resume;
        self.last_end = Some(end);
        self.window.retain(|(s, _)| *s >= end);
        let grown = appended.saturating_sub(self.appended_at_last);
        if grown >= self.last_snapshot_bytes.max(self.dirs.snapshot_min_bytes) {
            let state = engine.snapshot();
            self.last_snapshot_bytes = state.len() as u64;
            self.appended_at_last = appended;
            self.due = Some(Checkpoint {
                source: self.dirs.source.clone(),
                input_seq: seq,
                journal_next_seq: f.meta.journal_next_seq,
                resume: f.meta.resume,
                dead_letter_bytes: self.dead.as_ref().map_or(0, DeadLetterWriter::len),
                messages: self.recent.iter().copied().collect(),
                state,
            });
        }
        Ok(())
    }

    /// The jobs' alerts for the frame must be the records the active
    /// journaled for it, when this node saw them all: the same jobs over
    /// the same input at the same positions and clock.
    fn check_alerts(&self, seq: u64, meta: &input_log::FrameMeta) -> Result<()> {
        let Some(start) = self.last_end else {
            return Ok(());
        };
        // A restarted active keeps out alerts its journal already held:
        // then its records are not what the jobs produce here.
        if meta.journal_next_seq != meta.journal_end {
            return Ok(());
        }
        let records: Vec<&Vec<u8>> = self
            .window
            .iter()
            .filter(|(s, _)| *s >= start && *s < meta.journal_end)
            .map(|(_, p)| p)
            .collect();
        if records.len() as u64 != meta.journal_end - start {
            return Ok(());
        }
        let same = records.len() == self.alerts.len()
            && records
                .iter()
                .zip(&self.alerts)
                .all(|(r, a)| r.as_slice() == a.payload.as_slice());
        if same {
            return Ok(());
        }
        Err(PipelineError::Config(format!(
            "ha: input frame {seq}: the jobs here produced {} alerts where the active journaled {} \
             (seqs {start}..{}): the two nodes do not run the same jobs or configuration; this \
             standby stops rather than take over with another state",
            self.alerts.len(),
            records.len(),
            meta.journal_end
        )))
    }

    /// A resync's snapshot: the engine's state, this node's checkpoint, and
    /// an input log continuing after it.
    fn install(&mut self, engine: &mut Engine, bytes: &[u8]) -> Result<()> {
        let mut ckpt = Checkpoint::from_bytes(bytes)?;
        if ckpt.source != self.dirs.source {
            return Err(PipelineError::Config(format!(
                "ha: the active's state belongs to {}, this node consumes {}: the nodes must \
                 consume the same queue",
                ckpt.source.name, self.dirs.source.name
            )));
        }
        let next = self.journal.next_seq();
        if next < ckpt.journal_next_seq {
            return Err(protocol(format!(
                "the snapshot covers the journal to seq {}, but records arrived only to {}",
                ckpt.journal_next_seq.saturating_sub(1),
                next.saturating_sub(1)
            )));
        }
        engine.restore(&ckpt.state).map_err(|e| {
            PipelineError::Config(format!("ha: cannot restore the active's state: {e}"))
        })?;
        engine.rebase();
        self.journal.sync()?;
        ckpt.dead_letter_bytes = match self.dead.as_mut() {
            Some(d) => {
                d.sync()?;
                d.len()
            }
            None => 0,
        };
        checkpoint::save(&self.dirs.state, &ckpt)?;
        self.input = Some(InputLog::open(
            &input_log::dir(&self.dirs.state),
            ckpt.input_seq + 1,
        )?);
        self.recent = ckpt.messages.iter().copied().collect();
        self.journal_from = ckpt.journal_next_seq;
        self.resume = ckpt.resume;
        self.last_snapshot_bytes = ckpt.state.len() as u64;
        self.appended_at_last = 0;
        self.last_end = None;
        tracing::info!(
            input_seq = ckpt.input_seq,
            journal_next_seq = ckpt.journal_next_seq,
            open = engine.live_keys(),
            "ha: installed the active's snapshot"
        );
        Ok(())
    }

    /// Makes everything applied durable; returns the acknowledgement.
    pub(crate) fn commit(&mut self) -> Result<Message> {
        if let Some(d) = self.dead.as_mut() {
            d.sync()?;
        }
        self.journal.sync()?;
        if let Some(i) = self.input.as_mut() {
            i.sync()?;
        }
        // A cursor is installed once the records it reaches are durable
        // here: a restart never finds a cursor ahead of its journal.
        let durable = self.journal.next_seq() - 1;
        while let Some((id, path, bytes, reach)) = self.cursors.front() {
            if *reach > durable {
                break;
            }
            // Not fsynced per file: the copy serves a takeover by this
            // process, whose page cache holds it, and is synced before
            // this node ships (into_active) and at each heartbeat.
            alerts::delivery::install_cursor_file(
                &self.dirs.journal.dir,
                path,
                bytes,
                alerts::delivery::Install::Deferred,
            )?;
            self.cursors_unsynced = true;
            self.cursor_acked = *id;
            self.cursors.pop_front();
        }
        if let (Some(c), Some((tx, _))) = (self.due.take(), self.checkpoints.as_ref()) {
            let _ = tx.send(DurableCheckpoint { checkpoint: c });
        }
        let input_seq = self.input.as_ref().map_or(0, |i| i.next_seq() - 1);
        Ok(Message::Ack {
            input_seq,
            journal_next_seq: self.journal.next_seq(),
            cursor: self.cursor_acked,
        })
    }

    /// The digests of the last messages the state holds, oldest first (a
    /// redelivered one is not processed again after a takeover).
    pub(crate) fn recent_messages(&self) -> Vec<u64> {
        self.recent.iter().copied().collect()
    }

    /// Hands everything over to the active phase of this node: the open
    /// files and what the restart logic would have found (it then runs as
    /// if this node had restarted from these files, without reading them).
    pub(crate) fn into_active(mut self) -> Result<(Restored, Outputs, InputLog, AlreadyJournaled)> {
        self.commit()?;
        // Before its shippers start from them.
        self.sync_cursors()?;
        if let Some((tx, h)) = self.checkpoints.take() {
            drop(tx);
            h.join()
                .map_err(|_| PipelineError::Internal("the checkpoint thread panicked".into()))??;
        }
        let Some(input) = self.input.take() else {
            return Err(PipelineError::Config(
                "ha: cannot take over in the middle of a resync (no state yet)".into(),
            ));
        };
        let already = AlreadyJournaled::read(&self.dirs.journal.dir, self.journal_from)?;
        let restored = Restored {
            resume: self.resume,
            journal_next_seq: self.journal_from,
            dead_letter_bytes: self.dead.as_ref().map_or(0, DeadLetterWriter::len),
            notes: Vec::new(),
            path: Some(checkpoint::path(&self.dirs.state)),
            input_next_seq: input.next_seq(),
            messages: self.recent.iter().copied().collect(),
            snapshot_bytes: self.last_snapshot_bytes,
        };
        let outputs = Outputs {
            journal: self.journal,
            dead: self.dead,
            stats: None,
            notes: Vec::new(),
        };
        Ok((restored, outputs, input, already))
    }

    /// Makes the cursor files installed so far durable: a standby's copy is
    /// then at most a heartbeat behind what it acknowledged, should this
    /// host lose power and the active die before it rejoins.
    pub(crate) fn sync_cursors(&mut self) -> Result<()> {
        if std::mem::take(&mut self.cursors_unsynced) {
            alerts::delivery::sync_cursor_files(&self.dirs.journal.dir)?;
        }
        Ok(())
    }

    /// Closes the files (a standby that stops).
    pub(crate) fn close(mut self) -> Result<()> {
        self.commit()?;
        self.sync_cursors()?;
        if let Some((tx, h)) = self.checkpoints.take() {
            drop(tx);
            h.join()
                .map_err(|_| PipelineError::Internal("the checkpoint thread panicked".into()))??;
        }
        if let Some(d) = self.dead.take() {
            d.finish()?;
        }
        Ok(())
    }
}

fn protocol(m: String) -> PipelineError {
    PipelineError::Pair(pair::PairError::Protocol(m))
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Output {
        path: p.to_path_buf(),
        source,
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(io(from))
}
