//! Jobs built on the core. Each uses only the core's public API
//! (`crate::core`); the engine core never names a job.

pub mod exposure;
pub mod overfill;
