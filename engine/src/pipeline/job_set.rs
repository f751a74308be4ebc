//! Choosing jobs by name (`--job overfill,exposure`, `job = "…"`).

use crate::{
    EngineError, Result,
    config::Config,
    core::Engine,
    jobs::{
        exposure::{self, ExposureConfig, ExposureJob},
        overfill::{self, OverfillConfig, OverfillJob},
    },
};

/// Every job the binary knows, by name.
pub const KNOWN_JOBS: &[&str] = &[overfill::NAME, exposure::NAME];

/// Adds the jobs named in `spec` (comma-separated, in order) to `engine`.
/// Alerts of one event come in that order; a name may appear once.
pub fn add_jobs(engine: &mut Engine, spec: &str, cfg: &Config) -> Result<Vec<&'static str>> {
    let mut added: Vec<&'static str> = Vec::new();
    for name in spec.split(',').map(str::trim) {
        let job = match name {
            n if n == overfill::NAME => overfill::NAME,
            n if n == exposure::NAME => exposure::NAME,
            other => {
                return Err(EngineError::Config(format!(
                    "unknown job `{other}` (known: {})",
                    KNOWN_JOBS.join(", ")
                )));
            }
        };
        if added.contains(&job) {
            return Err(EngineError::Config(format!("job `{job}` is named twice")));
        }
        if job == overfill::NAME {
            engine.add_job(OverfillJob::new(OverfillConfig {
                book_ttl_ms: cfg.overfill.book_ttl_ms,
                tombstone_ttl_ms: cfg.overfill.tombstone_ttl_ms,
            }))?;
        } else {
            let e = &cfg.exposure;
            if e.window_ms == 0 {
                return Err(EngineError::Config(
                    "exposure.window_ms must be at least 1".into(),
                ));
            }
            engine.add_job(ExposureJob::new(ExposureConfig {
                window_ms: e.window_ms,
                limit: e.limit,
                client_limits: e.client_limits.clone(),
                allowed_lateness_ms: e.allowed_lateness_ms,
            }))?;
        }
        added.push(job);
    }
    Ok(added)
}
