//! Jobs built on the core. Each uses only the core's public API.

pub mod overfill;
