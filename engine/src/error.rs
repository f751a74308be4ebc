use std::path::PathBuf;

/// Errors of the engine and its pipelines.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The worker pool could not be built.
    #[error("cannot start the worker pool: {0}")]
    Pool(String),
    /// More jobs than the alert order can tell apart.
    #[error("too many jobs (at most 255)")]
    TooManyJobs,
    /// A configuration problem, named.
    #[error("config: {0}")]
    Config(String),
    /// Ingest failed.
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] alerts::AlertsError),
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

/// Result with [`EngineError`] as the default error.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
