//! **Engine core**: the reusable part of Aldebaran — keyed state over
//! micro-batches of Arrow columns. It knows nothing of purchases, orders or
//! any other use case: those are jobs, built only on this crate's API.
//!
//! - **Input**: [`columnar::TradeBatch`]es, one at a time, from the caller's
//!   thread ([`Engine::process`]), and [`Engine::drain`] at the end of a
//!   finite input.
//! - **Jobs**: a [`Job`] names itself, its counters, how to hash a row to a
//!   partition, and makes [`Shard`]s — the keyed state of one partition, which
//!   a job's per-key logic runs on single-threaded.
//! - **Per batch** the [`Engine`] computes the clock column (SPEC §2 step 1,
//!   [`EngineClock`]), partitions the rows of each job by hash (a counting
//!   sort), runs the shards on a rayon pool when there are several threads,
//!   and merges every job's [`Alert`]s into their deterministic
//!   [`AlertOrder`], so the output is independent of batch size, partition
//!   count and thread count.
//! - **Services for jobs**: the batch's [`BatchContext`] (clock per row, the
//!   event at which a deadline fell due), [`ExpiryQueue`] (deadlines in
//!   arrival order), [`KeyMap`]/[`KeySet`] over the 128-bit keys ingest
//!   computed ([`fold_key`] for tables that take a hash), and the
//!   [`SnapshotWriter`]/[`SnapshotReader`] codec with which shards save and
//!   restore their state ([`Engine::snapshot`]).
//!
//! **Threads**: the caller's thread, plus `threads` rayon workers
//! (`aldebaran-worker-N`) when asked for more than one; each worker may be
//! set up (pinned) by a hook the caller passes in [`EngineOptions`].
//! **Errors**: [`CoreError`].

mod alert;
mod clock;
mod context;
mod error;
mod expiry;
mod job;
mod keyed;
mod partition;
mod runner;
mod snapshot;

pub use alert::{Alert, AlertOrder};
pub use clock::EngineClock;
pub use context::{BatchContext, DrainContext};
pub use error::{CoreError, Result};
pub use expiry::ExpiryQueue;
pub use job::{Job, Shard};
pub use keyed::{KeyHasher, KeyMap, KeySet, fold_key};
pub use runner::{Engine, EngineOptions, WorkerStart};
pub use snapshot::{SnapshotError, SnapshotReader, SnapshotWriter};
