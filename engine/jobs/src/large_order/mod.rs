//! The large-order job: one `large_order` alert per purchase request whose
//! `#shares` exceeds `large_order.max_shares` — a surveillance desk's "fat
//! finger" check, raised on the request itself, before any fill.
//!
//! Keyed by order id. A request that alerted is remembered for `ttl_ms` of
//! clock time, so a redelivered or duplicated request within that time never
//! alerts twice (counted `duplicate`); past it the id is forgotten, so the
//! state holds only the alerted requests of the last `ttl_ms`. A request that
//! comes back after the TTL alerts again under the same `alert_id`
//! (`large_order:<order_id>`), which deduplicating sinks drop: choose a TTL
//! longer than the redelivery horizon. Purchases are ignored.

mod record;
mod shard;

use columnar::TradeBatch;
use engine_core::{Engine, Job};

use crate::{AlertField, JobSpec, JobsError, Result, registry::parse_section};

pub use record::LARGE_ORDER;
pub use shard::LargeOrderShard;

/// The job's name on the command line and its config section.
pub const NAME: &str = "large_order";

/// The job's `[large_order]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LargeOrderConfig {
    /// A request for more shares than this alerts.
    pub max_shares: u64,
    /// How long an alerted request id is remembered (clock ms).
    pub ttl_ms: u64,
}

impl Default for LargeOrderConfig {
    fn default() -> Self {
        LargeOrderConfig {
            max_shares: 1_000_000,
            ttl_ms: 600_000,
        }
    }
}

/// The job's counters, in [`COUNTERS`] order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Alerts,
    Duplicate,
    Forgotten,
}

/// Counter names, indexed by [`Counter`].
pub const COUNTERS: &[&str] = &["large_order", "duplicate", "forgotten"];

/// The large-order job.
#[derive(Debug, Clone, Copy, Default)]
pub struct LargeOrderJob {
    cfg: LargeOrderConfig,
}

impl LargeOrderJob {
    /// A job with the given limit and TTL.
    pub fn new(cfg: LargeOrderConfig) -> Self {
        LargeOrderJob { cfg }
    }
}

impl Job for LargeOrderJob {
    type Shard = LargeOrderShard;

    fn name(&self) -> &'static str {
        NAME
    }

    fn counter_names(&self) -> &'static [&'static str] {
        COUNTERS
    }

    fn new_shard(&self) -> LargeOrderShard {
        LargeOrderShard::new(self.cfg)
    }

    fn partition_hashes(&self, batch: &TradeBatch, out: &mut Vec<u64>) {
        out.clear();
        out.extend_from_slice(batch.order_key_lo());
    }
}

/// The job's registration.
pub(crate) static SPEC: Spec = Spec;

/// How the registry builds the large-order job.
pub(crate) struct Spec;

/// The fields of a `large_order` record besides `seq`, `alert_id` and `kind`.
const FIELDS: &[AlertField] = &[
    AlertField {
        name: "order_id",
        ty: "string",
        doc: "the purchase request's id",
    },
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
        name: "shares",
        ty: "integer",
        doc: "shares requested",
    },
    AlertField {
        name: "max_shares",
        ty: "integer",
        doc: "the limit it exceeded",
    },
    AlertField {
        name: "event_ts",
        ty: "integer or null",
        doc: "the request's ts, epoch ms (null without ts)",
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
        "purchase requests above a share limit (fat-finger check)"
    }

    fn alert_fields(&self) -> &'static [AlertField] {
        FIELDS
    }

    fn add_to(&self, engine: &mut Engine, section: &toml::Table) -> Result<()> {
        let cfg: LargeOrderConfig = parse_section(NAME, section)?;
        if cfg.ttl_ms == 0 {
            return Err(JobsError::Section {
                job: NAME,
                key: Some("ttl_ms".into()),
                reason: "must be at least 1".into(),
            });
        }
        engine.add_job(LargeOrderJob::new(cfg))?;
        Ok(())
    }
}
