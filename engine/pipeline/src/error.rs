//! The pipeline's errors.

use std::path::PathBuf;

/// Errors of a run: configuration, the stages' own errors, outputs, bugs.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A configuration problem, named.
    #[error("config: {0}")]
    Config(String),
    /// The configured jobs cannot be built (a configuration problem).
    #[error("config: {0}")]
    Jobs(#[from] jobs::JobsError),
    /// The engine core refused to start.
    #[error(transparent)]
    Core(#[from] engine_core::CoreError),
    /// Ingest failed.
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] alerts::AlertsError),
    /// The pair's link or protocol failed.
    #[error(transparent)]
    Pair(#[from] pair::PairError),
    /// An output file could not be written.
    #[error("cannot write {}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A pipeline thread died; this is a bug.
    #[error("internal error (a bug): {0}")]
    Internal(String),
    /// A state file (a checkpoint, an input-log frame) in a format version
    /// this binary does not read: never guessed at. Permanent.
    #[error(
        "{what} {}: format version {found}, but this aldebaran reads {reads}; {fix}",
        path.display()
    )]
    UnknownVersion {
        /// What the file is ("checkpoint", "input log frame 12 of").
        what: String,
        path: PathBuf,
        found: u64,
        /// The versions read, as printed ("version 4").
        reads: String,
        /// What the operator can do.
        fix: String,
    },
}

impl PipelineError {
    /// Whether trying again later can succeed: what the stages' own errors
    /// say, an output the file system may accept later, a worker pool the
    /// OS may start once resources are freed. A configuration, a state
    /// file of an unknown format version, a bug fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            PipelineError::Journal(e) => e.is_transient(),
            PipelineError::Pair(e) => e.is_transient(),
            PipelineError::Ingest(e) => e.class() == broker::Classified::Transient,
            PipelineError::Core(e) => matches!(e, engine_core::CoreError::Pool(_)),
            PipelineError::Output { .. } => true,
            _ => false,
        }
    }
}

/// Result with [`PipelineError`] as the default error.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
