//! The core's errors.

/// What can go wrong building or running an [`crate::Engine`].
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The worker pool could not be built (the OS refused a thread).
    #[error("cannot start the worker pool: {0}")]
    Pool(String),
    /// More jobs than the alert order can tell apart.
    #[error("too many jobs (at most 255)")]
    TooManyJobs,
}

/// Result with [`CoreError`] as the default error.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
