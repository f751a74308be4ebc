//! Retention of the alert journal in `run`: after each durable checkpoint
//! (on the checkpoint thread, beside the input log's own retention), the
//! segments nothing needs any more are removed per `[journal.retention]`.
//!
//! The facts are gathered here — what the sinks still need, the checkpoint
//! just written, the extra floor (`floor.rs`) — and the decision and its
//! execution are `alerts::retain_journal`'s (a pure plan, then the removal
//! mechanism). Retention is housekeeping: a pass that fails is logged and
//! the next checkpoint tries again; the run goes on.

mod floor;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::SystemTime,
};

use alerts::{RetentionPolicy, RetentionReport};

pub(crate) use floor::ExtraFloor;
use floor::{Floor, lowest};

use crate::{PipelineError, Result, metrics::Metrics, options::RetentionSetup};

/// The alert journal's retention, owned by the checkpoint thread.
pub(crate) struct JournalRetention {
    dir: PathBuf,
    policy: RetentionPolicy,
    archive: Option<PathBuf>,
    extra: ExtraFloor,
    metrics: Option<Arc<Metrics>>,
    /// Why nothing may go, as last logged: said once, not per checkpoint.
    holding_all: Option<String>,
}

impl JournalRetention {
    /// Retention of the journal in `dir` per `setup`, also held to `extra`.
    /// The archive directory is created now, so a path that cannot be one
    /// stops the start; it may not be the journal directory itself. The
    /// oldest seq kept is published to `metrics` now and after each pass.
    pub(crate) fn open(
        dir: &Path,
        setup: &RetentionSetup,
        extra: ExtraFloor,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Self> {
        if let Some(archive) = &setup.archive_dir {
            std::fs::create_dir_all(archive).map_err(|e| {
                PipelineError::Config(format!(
                    "journal.retention.archive_dir {}: {e}",
                    archive.display()
                ))
            })?;
            let same = (std::fs::canonicalize(archive), std::fs::canonicalize(dir));
            if matches!(same, (Ok(a), Ok(d)) if a == d) {
                return Err(PipelineError::Config(format!(
                    "journal.retention.archive_dir {} is the journal directory itself: name \
                     another (a subdirectory of it will do)",
                    archive.display()
                )));
            }
        }
        if let Some(m) = &metrics {
            m.set_journal_oldest(alerts::first_kept_seq(dir)?);
        }
        Ok(JournalRetention {
            dir: dir.to_path_buf(),
            policy: setup.policy.clone(),
            archive: setup.archive_dir.clone(),
            extra,
            metrics,
            holding_all: None,
        })
    }

    /// One pass, after a checkpoint whose `journal_next_seq` is durable.
    pub(crate) fn after_checkpoint(&mut self, journal_next_seq: u64) {
        if let Err(error) = self.pass(journal_next_seq) {
            tracing::warn!(journal = %self.dir.display(), %error,
                "journal retention: the pass failed; nothing more is removed until the next \
                 checkpoint tries again");
        }
    }

    fn pass(&mut self, journal_next_seq: u64) -> Result<()> {
        let sinks = alerts::delivery::sinks_need(&self.dir)?;
        let floor = lowest(journal_next_seq, &sinks, self.extra.get());
        self.say_if_holding_all(&sinks, &floor);
        let report = alerts::retain_journal(
            &self.dir,
            &self.policy,
            floor.seq,
            self.archive.as_deref(),
            SystemTime::now(),
        )?;
        self.log(&report, &floor);
        if let Some(m) = &self.metrics {
            m.set_journal_oldest(report.removed.oldest);
        }
        Ok(())
    }

    /// Logs once (until it changes) that a sink's unknown need keeps every
    /// segment, and once that it no longer does.
    fn say_if_holding_all(&mut self, sinks: &alerts::delivery::SinksNeed, floor: &Floor) {
        let now = matches!(sinks, alerts::delivery::SinksNeed::Unknown { .. }).then(|| &floor.by);
        if now == self.holding_all.as_ref() {
            return;
        }
        match now {
            Some(why) => tracing::warn!(journal = %self.dir.display(),
                "journal retention: keeping every segment, since {why}; restore the cursor, or \
                 set it with `aldebaran journal cursors --reset NAME --to SEQ|head|oldest {}`",
                self.dir.display()),
            None => tracing::info!(journal = %self.dir.display(),
                "journal retention: every sink's cursor is readable again"),
        }
        self.holding_all = now.cloned();
    }

    fn log(&self, r: &RetentionReport, floor: &Floor) {
        let (Some(first), true) = (r.first_removed, r.removed.segments > 0) else {
            tracing::debug!(floor = floor.seq, needed_by = %floor.by, kept_for = r.held_by.as_str(),
                oldest = r.removed.oldest, "journal retention: nothing to remove");
            return;
        };
        let last = r.removed.oldest.saturating_sub(1);
        match &self.archive {
            Some(archive) => tracing::info!(segments = r.removed.segments,
                bytes = r.removed.bytes, oldest = r.removed.oldest, archive = %archive.display(),
                floor = floor.seq, needed_by = %floor.by, kept_for = r.held_by.as_str(),
                "journal retention: moved seqs {first}..={last} to the archive"),
            None => tracing::info!(segments = r.removed.segments, bytes = r.removed.bytes,
                oldest = r.removed.oldest, floor = floor.seq, needed_by = %floor.by,
                kept_for = r.held_by.as_str(), "journal retention: deleted seqs {first}..={last}"),
        }
    }
}
