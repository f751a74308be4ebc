//! The exposure job: per (client, stock), the purchased shares whose event
//! time lies in a sliding window; one `exposure` alert when the sum rises
//! above the client's limit, re-armed once it falls back to or below it.
//! The rules are in `engine/JOBS.md` ("Exposure rule").
//!
//! Built only on the engine's public API: [`engine_core::Job`] and
//! [`engine_core::Shard`], the batch context's clock, [`engine_core::ExpiryQueue`]
//! and [`engine_core::KeyMap`]. Keyed by (client, stock): each shard keeps a
//! window per key and evicts by deadline as the clock advances.

mod config;
mod record;
mod shard;
mod window;

use columnar::{TradeBatch, keys};

use engine_core::{Engine, Job};

use crate::{AlertField, JobSpec, JobsError, Result, registry::parse_section};

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

/// The job's registration.
pub(crate) static SPEC: Spec = Spec;

/// How the registry builds the exposure job.
pub(crate) struct Spec;

/// The fields of an `exposure` record besides `seq`, `alert_id` and `kind`.
const FIELDS: &[AlertField] = &[
    AlertField {
        name: "client",
        ty: "string",
        doc: "the client",
    },
    AlertField {
        name: "stock",
        ty: "string",
        doc: "the stock",
    },
    AlertField {
        name: "limit",
        ty: "integer",
        doc: "the client's limit in shares",
    },
    AlertField {
        name: "exposure",
        ty: "integer",
        doc: "shares purchased within the window",
    },
    AlertField {
        name: "window_ms",
        ty: "integer",
        doc: "length of the window",
    },
    AlertField {
        name: "window_start",
        ty: "integer",
        doc: "start of the window, epoch ms (exclusive)",
    },
    AlertField {
        name: "window_end",
        ty: "integer",
        doc: "end of the window (the clock), epoch ms",
    },
    AlertField {
        name: "order_id",
        ty: "string",
        doc: "the order of the triggering purchase",
    },
    AlertField {
        name: "trigger_id",
        ty: "string",
        doc: "the triggering purchase",
    },
    AlertField {
        name: "event_ts",
        ty: "integer or null",
        doc: "the trigger's ts, epoch ms (null without ts)",
    },
    AlertField {
        name: "detected_at",
        ty: "integer",
        doc: "wall clock at detection, ns since the epoch",
    },
];

impl JobSpec for Spec {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "client exposure over a sliding window (engine/JOBS.md)"
    }

    fn alert_fields(&self) -> &'static [AlertField] {
        FIELDS
    }

    fn free_form_tables(&self) -> &'static [&'static str] {
        &["client_limits"]
    }

    fn add_to(&self, engine: &mut Engine, section: &toml::Table) -> Result<()> {
        let cfg: ExposureConfig = parse_section(NAME, section)?;
        if cfg.window_ms == 0 {
            return Err(JobsError::Section {
                job: NAME,
                key: Some("window_ms".into()),
                reason: "must be at least 1".into(),
            });
        }
        engine.add_job(ExposureJob::new(cfg))?;
        Ok(())
    }
}
