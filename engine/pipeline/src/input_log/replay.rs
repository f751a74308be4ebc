//! Rebuilding the engine's state at start: after the snapshot is restored,
//! the logged batches after it are processed again, at the positions they
//! had, so the engine ends exactly where the last durable frame left it.

use std::path::Path;

use alerts::JournalReader;
use engine_core::Engine;

use super::frame::{self, FrameError, FrameMeta};
use crate::{PipelineError, Result, formats::INPUT_FRAME};

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
    let mut frames = JournalReader::open(dir, expected)?;
    while let Some(record) = frames.next() {
        let (seq, payload) = record?;
        if seq != expected {
            return Err(PipelineError::Config(format!(
                "input log {}: frame {seq} follows frame {}: frames are missing (move the state directory away to rebuild the state from the input)",
                dir.display(),
                expected - 1
            )));
        }
        let f = frame::decode(&payload).map_err(|e| match e {
            FrameError::Version(found) => INPUT_FRAME.refuse(
                format!("input log frame {seq} of"),
                frames.segment().unwrap_or(dir),
                u64::from(found),
                dir.parent().unwrap_or(dir),
            ),
            FrameError::Damaged(e) => PipelineError::Config(format!(
                "input log {}: frame {seq} cannot be read: {e} (move the state directory away to rebuild the state from the input)",
                dir.display()
            )),
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

#[cfg(test)]
mod tests {
    use super::*;
    use alerts::{Journal, JournalOptions};
    use engine_core::EngineOptions;

    /// A frame of a future format version stops the restore with one line
    /// naming the frame, its segment, the version found and the one read.
    #[test]
    fn a_frame_of_an_unknown_version_is_refused_naming_its_segment() {
        let state = tempfile::tempdir().expect("tempdir");
        let dir = crate::input_log::dir(state.path());
        let (mut log, _) = Journal::open(&dir, JournalOptions::default()).expect("open");
        log.append(&[99u8, 1, 2, 3]).expect("append");
        log.sync().expect("sync");
        drop(log);
        let mut engine = Engine::new(EngineOptions {
            threads: 1,
            partitions: 1,
            on_worker_start: None,
        })
        .expect("engine");
        let e = replay(&dir, 0, &mut engine).expect_err("refused");
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            format!(
                "input log frame 1 of {}: format version 99, but this aldebaran reads versions 1 and 2; \
                 run the aldebaran release that wrote it, or move the state directory {} away \
                 to rebuild the state from the input",
                dir.join("00000000000000000001.seg").display(),
                state.path().display()
            )
        );
    }
}
