//! **Metrics**: Prometheus text exposition of the engine's per-batch facts,
//! served over HTTP next to a readiness probe (SPEC §7).
//!
//! The pipeline counts in locals while it works and hands the totals to
//! [`Metrics`] once per micro-batch ([`Metrics::record_batch`],
//! [`Metrics::record_durable`], [`Metrics::record_journal`]); nothing here is
//! ever called per event. Updates are lock-free: counters and gauges are
//! atomics, histograms fixed arrays of atomic buckets, and labelled families
//! (rejection reason, alert kind, sink) fixed tables of slots whose label is
//! stored once, the first time it is seen. [`Metrics::render`] produces the
//! text format 0.0.4 on demand, so a scrape costs the scraper, not the engine.
//!
//! Threads: [`serve`] starts one `metrics-http` thread (plus tiny_http's own
//! accept thread) answering `GET /metrics` and `GET /healthz` (from
//! [`Health`]); [`MetricsServer::stop`] unblocks and joins it.

mod histogram;
mod http;
mod registry;
mod render;

pub use http::{Health, MetricsServer, serve};
pub use registry::{BatchObservation, Metrics};
