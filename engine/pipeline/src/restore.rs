//! At the start of `run`: the engine's state from the newest checkpoint (if
//! there is one and it belongs to this source), then the input log's batches
//! after it, so the engine ends exactly where the last durable frame left it.

use std::path::{Path, PathBuf};

use engine_core::Engine;

use crate::{
    PipelineError, Result,
    checkpoint::{self, Checkpoint, Resume, SourceId},
    input_log,
    options::{SourceSetup, StateSetup},
    source_id,
};

/// Where the restored state leaves everything.
pub(crate) struct Restored {
    pub(crate) resume: Resume,
    /// The journal's alerts from this seq on may be produced again.
    pub(crate) journal_next_seq: u64,
    /// The dead-letter file's length that belongs to the restored input.
    pub(crate) dead_letter_bytes: u64,
    /// For the summary.
    pub(crate) notes: Vec<String>,
    /// The checkpoint restored, if any.
    pub(crate) path: Option<PathBuf>,
    /// The seq the input log continues at.
    pub(crate) input_next_seq: u64,
    /// Digests of the last messages the state holds, oldest first.
    pub(crate) messages: Vec<u64>,
    /// The size of the restored snapshot.
    pub(crate) snapshot_bytes: u64,
}

/// Restores `engine` from `state.dir`: the checkpoint, then the input log.
pub(crate) fn restore(
    state: &StateSetup,
    source: &SourceSetup,
    engine: &mut Engine,
    source_id: &SourceId,
) -> Result<Restored> {
    checkpoint::clean_tmp(&state.dir)?;
    let log = input_log::dir(&state.dir);
    let Some((path, ckpt)) = checkpoint::load(&state.dir)? else {
        refuse_orphan_log(&log, &state.dir)?;
        return Ok(Restored {
            resume: Resume::Start,
            journal_next_seq: 1,
            dead_letter_bytes: 0,
            notes: Vec::new(),
            path: None,
            input_next_seq: 1,
            messages: Vec::new(),
            snapshot_bytes: 0,
        });
    };
    if let Some(why) = source_id::mismatch(&ckpt.source, source_id, source)? {
        return Err(PipelineError::Config(format!(
            "the checkpoint {} is not this input's: {why} (move {} away to start afresh)",
            path.display(),
            state.dir.display()
        )));
    }
    engine.restore(&ckpt.state).map_err(|e| {
        PipelineError::Config(format!(
            "cannot restore state from {}: {e} (move {} away to rebuild the state from the input)",
            path.display(),
            state.dir.display()
        ))
    })?;
    let replayed = input_log::replay(&log, ckpt.input_seq, engine)?;
    // The source counts its positions from its own start again.
    engine.rebase();
    tracing::info!(path = %path.display(), open = engine.live_keys(),
        frames = replayed.frames, events = replayed.events,
        journal_next_seq = ckpt.journal_next_seq, resume = ?ckpt.resume,
        "restored the checkpoint and the input log after it");
    Ok(continue_after(path, ckpt, replayed))
}

/// What the last durable frame (or, without frames, the checkpoint) says.
fn continue_after(path: PathBuf, ckpt: Checkpoint, replayed: input_log::Replayed) -> Restored {
    let mut notes = vec![format!(
        "restored the checkpoint {} (journal up to seq {})",
        path.display(),
        ckpt.journal_next_seq.saturating_sub(1)
    )];
    let mut messages = ckpt.messages;
    messages.extend_from_slice(&replayed.messages);
    let (resume, journal_next_seq, dead_letter_bytes, input_next_seq) = match replayed.last {
        Some((seq, meta)) => {
            notes.push(format!(
                "replayed {} input frames ({} events) logged after it",
                replayed.frames, replayed.events
            ));
            (
                meta.resume,
                meta.journal_next_seq,
                meta.dead_letter_bytes,
                seq + 1,
            )
        }
        None => (
            ckpt.resume,
            ckpt.journal_next_seq,
            ckpt.dead_letter_bytes,
            ckpt.input_seq + 1,
        ),
    };
    Restored {
        resume,
        journal_next_seq,
        dead_letter_bytes,
        notes,
        snapshot_bytes: ckpt.state.len() as u64,
        path: Some(path),
        input_next_seq,
        messages,
    }
}

/// An input log without the checkpoint it continues cannot be placed: its
/// frames may belong to any input.
fn refuse_orphan_log(log: &Path, state_dir: &Path) -> Result<()> {
    if !log.is_dir() {
        return Ok(());
    }
    let oldest = alerts::oldest_kept(log)?;
    let holds = alerts::JournalReader::open(log, oldest)?.next().is_some();
    if holds {
        return Err(PipelineError::Config(format!(
            "{} holds an input log but no checkpoint: its frames cannot be placed (move {} away to start afresh)",
            log.display(),
            state_dir.display()
        )));
    }
    Ok(())
}
