//! At the start of `run`: the engine's state from the newest checkpoint, if
//! there is one and it belongs to this source.

use engine_core::Engine;

use crate::{
    PipelineError, Result,
    checkpoint::{self, Resume, SourceId},
    options::{SourceSetup, StateSetup},
    source_id,
};

/// What the newest checkpoint gave back.
pub(crate) struct Restored {
    pub(crate) resume: Resume,
    /// The journal's alerts from this seq on are past the checkpoint.
    pub(crate) journal_next_seq: u64,
    /// The dead-letter file's length at the checkpoint.
    pub(crate) dead_letter_bytes: u64,
    /// For the summary.
    pub(crate) note: Option<String>,
    /// The checkpoint restored, if any.
    pub(crate) path: Option<std::path::PathBuf>,
}

/// Restores `engine` from the newest checkpoint in `state.dir`, if any.
pub(crate) fn restore(
    state: &StateSetup,
    source: &SourceSetup,
    engine: &mut Engine,
    source_id: &SourceId,
) -> Result<Restored> {
    let Some((path, ckpt)) = checkpoint::load(&state.dir)? else {
        return Ok(Restored {
            resume: Resume::Start,
            journal_next_seq: 1,
            dead_letter_bytes: 0,
            note: None,
            path: None,
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
        path: Some(path),
    })
}
