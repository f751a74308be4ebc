//! The exposure job: per (client, stock), the purchased shares whose event
//! time lies in a sliding window; one `exposure` alert when the sum rises
//! above the client's limit, re-armed once it falls back to or below it.
//! The rules are in `engine/JOBS.md` ("Exposure rule").
//!
//! Built only on the engine's public API: [`crate::core::Job`] and
//! [`crate::core::Shard`], the batch context's clock, [`crate::core::ExpiryQueue`]
//! and [`crate::core::KeyMap`]. Keyed by (client, stock): each shard keeps a
//! window per key and evicts by deadline as the clock advances.

mod config;
mod record;
mod shard;
mod window;

use columnar::{TradeBatch, keys};

use crate::core::Job;

pub use config::ExposureConfig;
pub use record::EXPOSURE;
pub use shard::ExposureShard;

/// The job's name on the command line.
pub const NAME: &str = "exposure";

/// The job's counters, in [`COUNTERS`] order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Counted,
    DuplicatePurchase,
    Late,
    OutsideWindow,
    Alerts,
    Rearmed,
}

/// Counter names, indexed by [`Counter`].
pub const COUNTERS: &[&str] = &[
    "counted",
    "duplicate_purchase",
    "late",
    "outside_window",
    "exposure",
    "rearmed",
];

/// The exposure job.
#[derive(Debug, Clone, Default)]
pub struct ExposureJob {
    cfg: std::sync::Arc<ExposureConfig>,
}

impl ExposureJob {
    /// A job with the given window, limits and lateness.
    pub fn new(cfg: ExposureConfig) -> Self {
        ExposureJob {
            cfg: std::sync::Arc::new(cfg),
        }
    }
}

/// The key of a (client, stock) pair; the separator keeps ("ab","c") and
/// ("a","bc") apart (names are valid UTF-8, which never contains 0xFF).
pub(crate) fn pair_key(client: &str, stock: &str) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(client.as_bytes());
    h.update(&[0xFF]);
    h.update(stock.as_bytes());
    h.digest128()
}

impl Job for ExposureJob {
    type Shard = ExposureShard;

    fn name(&self) -> &'static str {
        NAME
    }

    fn counter_names(&self) -> &'static [&'static str] {
        COUNTERS
    }

    fn new_shard(&self) -> ExposureShard {
        ExposureShard::new(std::sync::Arc::clone(&self.cfg))
    }

    fn partition_hashes(&self, batch: &TradeBatch, out: &mut Vec<u64>) {
        out.clear();
        out.extend((0..batch.len()).map(|r| {
            // Only the pair decides the shard; requests are skipped by the
            // shard, so their hash only needs to be cheap.
            keys::hash64(batch.client(r).as_bytes())
                ^ keys::hash64(batch.stock(r).as_bytes()).rotate_left(17)
        }));
    }
}
