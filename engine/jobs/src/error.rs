//! The jobs' errors: all of them are configuration mistakes, found at start.

/// Why the configured jobs cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// `--job` / `job` names a job that is not registered.
    #[error("unknown job `{name}` (known: {known})")]
    UnknownJob {
        /// The name given.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A job is named twice in one spec.
    #[error("job `{0}` is named twice")]
    NamedTwice(&'static str),
    /// A job's section is invalid (a wrong type, an unknown key, a value
    /// out of range); the reason names the key.
    #[error("[{job}]: {reason}")]
    Section {
        /// The job (and section) name.
        job: &'static str,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// The engine refused the job.
    #[error(transparent)]
    Core(#[from] engine_core::CoreError),
}

/// Result with [`JobsError`] as the default error.
pub type Result<T, E = JobsError> = std::result::Result<T, E>;
