//! The reusable core: jobs, shards, the clock, expiry, and the engine that
//! runs them. Nothing in here knows what a purchase is.

mod alert;
mod clock;
mod context;
mod expiry;
mod job;
mod keyed;
mod partition;
mod runner;
mod snapshot;

pub use alert::{Alert, AlertOrder, json_payload};
pub use clock::EngineClock;
pub use context::{BatchContext, DrainContext};
pub use expiry::ExpiryQueue;
pub use job::{Job, Shard};
pub use keyed::{KeyHasher, KeyMap, KeySet};
pub use runner::{Engine, EngineOptions};
pub use snapshot::{SnapshotError, SnapshotReader, SnapshotWriter};
