//! The over-purchase job (SPEC §2): one alert per order whose purchases
//! exceed its purchase request, and orphan alerts for purchases that never
//! saw a request.
//!
//! Keyed by order: each shard holds a columnar book table ([`books`]) with
//! the request, the cumulative fill and the counted purchase keys of its open
//! orders, tombstones of recently closed orders ([`tombstones`]), and an
//! expiry queue.

mod arena;
mod books;
mod names;
mod record;
mod shard;
mod tombstones;

use columnar::TradeBatch;

use engine_core::{Engine, Job};

use crate::{AlertField, JobSpec, Result, registry::parse_section};

pub use record::{ORPHAN, OVERFILL};
pub use shard::OverfillShard;

/// The job's name on the command line.
pub const NAME: &str = "overfill";

/// The two time-to-lives of SPEC §2: the job's `[overfill]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverfillConfig {
    /// An open book closes this long after it opened.
    pub book_ttl_ms: u64,
    /// A closed order drops its events for this long, then is forgotten.
    pub tombstone_ttl_ms: u64,
}

impl Default for OverfillConfig {
    fn default() -> Self {
        OverfillConfig {
            book_ttl_ms: 60_000,
            tombstone_ttl_ms: 600_000,
        }
    }
}

/// The job's counters, in [`COUNTERS`] order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Opened,
    DuplicateRequest,
    DuplicatePurchase,
    LateRequest,
    Closed,
    Overfill,
    Orphan,
    Expired,
    Drained,
}

/// Counter names, indexed by [`Counter`].
pub const COUNTERS: &[&str] = &[
    "books_opened",
    "duplicate_request",
    "duplicate_purchase",
    "late_request",
    "closed",
    "overfill",
    "orphan",
    "expired",
    "drained",
];

/// The over-purchase job.
#[derive(Debug, Clone, Copy, Default)]
pub struct OverfillJob {
    cfg: OverfillConfig,
}

impl OverfillJob {
    /// A job with the given time-to-lives.
    pub fn new(cfg: OverfillConfig) -> Self {
        OverfillJob { cfg }
    }
}

impl Job for OverfillJob {
    type Shard = OverfillShard;

    fn name(&self) -> &'static str {
        NAME
    }

    fn counter_names(&self) -> &'static [&'static str] {
        COUNTERS
    }

    fn new_shard(&self) -> OverfillShard {
        OverfillShard::new(self.cfg)
    }

    fn partition_hashes(&self, batch: &TradeBatch, out: &mut Vec<u64>) {
        out.clear();
        out.extend_from_slice(batch.order_key_lo());
    }
}

/// The job's registration.
pub(crate) static SPEC: Spec = Spec;

/// How the registry builds the over-purchase job.
pub(crate) struct Spec;

/// The fields of an `overfill` or `orphan` record besides `seq`, `alert_id`
/// and `kind` (SPEC §3).
const FIELDS: &[AlertField] = &[
    AlertField {
        name: "order_id",
        ty: "string",
        doc: "the order (the purchase request's id)",
    },
    AlertField {
        name: "client",
        ty: "string",
        doc: "the client of the event that opened the book",
    },
    AlertField {
        name: "stock",
        ty: "string",
        doc: "the stock of the event that opened the book",
    },
    AlertField {
        name: "requested",
        ty: "integer or null",
        doc: "shares requested (null for an orphan)",
    },
    AlertField {
        name: "filled",
        ty: "integer",
        doc: "shares purchased and counted",
    },
    AlertField {
        name: "trigger_id",
        ty: "string or null",
        doc: "the event that crossed the limit (null for an orphan)",
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
        "the over-purchase rule (SPEC §2): purchases above their request"
    }

    fn alert_fields(&self) -> &'static [AlertField] {
        FIELDS
    }

    fn add_to(&self, engine: &mut Engine, section: &toml::Table) -> Result<()> {
        let cfg: OverfillConfig = parse_section(NAME, section)?;
        engine.add_job(OverfillJob::new(cfg))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn declared_fields_are_spec_3s() {
        // SPEC §3, in its order, without the journal's `seq` and the two
        // fields every record has.
        let spec = [
            "order_id",
            "client",
            "stock",
            "requested",
            "filled",
            "trigger_id",
            "event_ts",
            "detected_at",
        ];
        let declared: Vec<&str> = super::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(declared, spec);
    }
}
