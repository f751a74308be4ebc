//! Rebuilding the engine's state at start: after the snapshot is restored,
//! the logged batches after it are processed again, at the positions they
//! had, so the engine ends exactly where the last durable frame left it.

use std::path::Path;

use alerts::JournalReader;
use engine_core::Engine;

use super::frame::{self, FrameMeta};
use crate::{PipelineError, Result};

/// What replaying the log did.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Frames replayed.
    pub(crate) frames: u64,
    /// Accepted events in them.
    pub(crate) events: u64,
    /// The last frame's facts: where everything continues.
    pub(crate) last: Option<(u64, FrameMeta)>,
    /// Digests of the messages the replayed frames completed, oldest first.
    pub(crate) messages: Vec<u64>,
}

/// Processes every frame of the log in `dir` after seq `after` through
/// `engine`, discarding the alerts (the journal already holds them: a frame
/// is made durable only after its alerts). A frame that cannot be read is an
/// error naming it: the state could not be rebuilt.
pub(crate) fn replay(dir: &Path, after: u64, engine: &mut Engine) -> Result<Replayed> {
    let mut done = Replayed::default();
    if !dir.is_dir() {
        return Ok(done);
    }
    let mut alerts = Vec::new();
    let mut expected = after + 1;
    for record in JournalReader::open(dir, expected)? {
        let (seq, payload) = record?;
        if seq != expected {
            return Err(PipelineError::Config(format!(
                "input log {}: frame {seq} follows frame {}: frames are missing (move the state directory away to rebuild the state from the input)",
                dir.display(),
                expected - 1
            )));
        }
        let f = frame::decode(&payload).map_err(|e| {
            PipelineError::Config(format!(
                "input log {}: frame {seq} cannot be read: {e} (move the state directory away to rebuild the state from the input)",
                dir.display()
            ))
        })?;
        engine.process_at(
            &f.batch,
            f.meta.pos_base,
            f.meta.detected_at_ns,
            &mut alerts,
        );
        alerts.clear();
        done.frames += 1;
        done.events += f.batch.len() as u64;
        done.messages.extend_from_slice(f.batch.messages());
        done.last = Some((seq, f.meta));
        expected = seq + 1;
    }
    Ok(done)
}
