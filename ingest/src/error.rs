use std::path::PathBuf;

/// Errors of the ingest stage.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input could not be opened or read.
    #[error("cannot read input {}", path.display())]
    Input {
        /// The input path (`-` for stdin).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The ingest thread could not be started.
    #[error("cannot start the ingest thread: {0}")]
    Spawn(std::io::Error),
    /// The ingest thread panicked; this is a bug.
    #[error("internal error (a bug): the ingest thread panicked")]
    Panicked,
    /// A ring record failed to decode; this is a bug.
    #[error("internal error (a bug): corrupt ring record at staging offset {0}")]
    Ring(usize),
    /// The AMQP broker refused or dropped an operation.
    #[error("amqp: {0}")]
    Amqp(String),
    /// Building a columnar batch failed.
    #[error(transparent)]
    Columnar(#[from] columnar::ColumnarError),
}

/// Result with [`IngestError`] as the default error.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
