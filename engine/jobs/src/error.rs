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
    /// out of range).
    #[error("{}: {reason}", section_key(job, key.as_deref()))]
    Section {
        /// The job (and section) name.
        job: &'static str,
        /// The key in the section the error is about, when it is one key
        /// (the pipeline then says where that key was set).
        key: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The engine refused the job.
    #[error(transparent)]
    Core(#[from] engine_core::CoreError),
}

/// `` `overfill.book_ttl_ms` `` for a key of a section, `[overfill]` for
/// the whole section.
fn section_key(job: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("`{job}.{k}`"),
        None => format!("[{job}]"),
    }
}

/// Result with [`JobsError`] as the default error.
pub type Result<T, E = JobsError> = std::result::Result<T, E>;
