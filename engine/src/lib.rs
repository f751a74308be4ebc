//! **Engine**: the processing stage of Aldebaran — micro-batches in, ordered alerts out.
//!
//! - **Core** ([`core`]): the reusable part. A [`core::Job`] is keyed state
//!   over micro-batches; the [`core::Engine`] computes the clock column of each
//!   [`columnar::TradeBatch`], partitions its rows by the job's key hash, runs
//!   each partition's [`core::Shard`] on a rayon worker pool, and merges the
//!   alerts into their deterministic order ([`core::AlertOrder`]). The core
//!   knows nothing about purchases.
//! - **Jobs** ([`jobs`]): use cases built only on the core's public API; the
//!   first is the over-purchase rule ([`jobs::overfill`]).
//! - **Pipeline** ([`pipeline`]): wires ingest → engine → alerts journal →
//!   sinks: `replay` (journal on its own thread with group commit, dead
//!   letters, per-batch stats, the run summary) and the `run` service (the
//!   same loop plus crash-consistent checkpoints, recovery after a crash,
//!   one shipper per configured sink, metrics and signals).
//! - **Config** ([`config`]): the layered configuration (embedded default,
//!   file, `ALDEBARAN_*` environment).
//!
//! Threads: the caller's thread runs the cutter and the engine; rayon workers
//! run shards; the journal writer, the checkpoint writer and each sink's
//! shipper have their own threads. The `aldebaran` binary sits on top.

pub mod config;
pub mod core;
mod error;
pub mod jobs;
pub mod metrics;
pub mod pipeline;

pub use error::{EngineError, Result};
