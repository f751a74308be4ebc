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
}

/// Result with [`PipelineError`] as the default error.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
