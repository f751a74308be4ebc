//! The outputs of a run — the journal, the dead-letter file, the stats file —
//! opened before any input is read, so a bad path fails first.

use alerts::{DurableClaim, Journal, JournalOptions};

use crate::{
    PipelineError, Result,
    dead_letters::DeadLetterWriter,
    options::{JournalSetup, OutputSetup},
    stats::StatsWriter,
};

/// The opened outputs, handed to the journal thread.
pub(crate) struct Outputs {
    pub(crate) journal: Journal,
    pub(crate) dead: Option<DeadLetterWriter>,
    pub(crate) stats: Option<StatsWriter>,
    /// For the summary (e.g. a truncated journal tail).
    pub(crate) notes: Vec<String>,
}

impl Outputs {
    /// The seq the journal appends next.
    pub(crate) fn next_seq(&self) -> u64 {
        self.journal.next_seq()
    }

    /// Makes what the journal holds durable: after a crash of the process
    /// its last records may sit only in the page cache, and they are about
    /// to be shipped.
    pub(crate) fn sync_journal(&mut self) -> Result<()> {
        Ok(self.journal.sync()?)
    }

    /// Opens the outputs; `dead_letter_len` continues the dead-letter file
    /// from that length (`run`) instead of starting it afresh (`replay`);
    /// the journal refuses to open below what `durable` says it held. Once
    /// the journal is open (and locked), `admit` sees the seq it appends next
    /// and may refuse the run before any other file is touched.
    pub(crate) fn open(
        journal: &JournalSetup,
        outputs: &OutputSetup,
        dead_letter_len: Option<u64>,
        durable: Option<DurableClaim>,
        admit: impl FnOnce(u64) -> Result<()>,
    ) -> Result<Self> {
        if journal.dir.exists() && !journal.dir.is_dir() {
            return Err(PipelineError::Config(format!(
                "journal path {} is not a directory",
                journal.dir.display()
            )));
        }
        let (journal, report) = Journal::open(
            &journal.dir,
            JournalOptions {
                segment_bytes: journal.segment_bytes,
                durable,
                ..JournalOptions::default()
            },
        )?;
        admit(journal.next_seq())?;
        let mut notes = Vec::new();
        // The journal already logged it; the summary repeats it, unless all
        // it cut were the zeros a crash left after the last record.
        if let Some(t) = report.truncated.as_ref().filter(|t| !t.zeros) {
            notes.push(format!(
                "journal tail truncated: {} at offset {} ({} bytes dropped: {})",
                t.segment.display(),
                t.offset,
                t.bytes_dropped,
                t.reason
            ));
        }
        let dead = outputs
            .dead_letter
            .as_deref()
            .map(|p| match dead_letter_len {
                None => DeadLetterWriter::create(p),
                Some(len) => DeadLetterWriter::open_at(p, len),
            })
            .transpose()?;
        let stats = outputs
            .stats
            .as_deref()
            .map(StatsWriter::create)
            .transpose()?;
        Ok(Outputs {
            journal,
            dead,
            stats,
            notes,
        })
    }
}
