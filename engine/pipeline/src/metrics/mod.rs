//! **Metrics**: the engine's per-batch facts as Prometheus metrics, built
//! with the Prometheus project's `prometheus-client` and served as
//! OpenMetrics text over HTTP next to a readiness probe (SPEC §7).
//!
//! The pipeline counts in locals while it works and hands the totals to
//! [`Metrics`] once per micro-batch ([`Metrics::record_batch`],
//! [`Metrics::record_durable`], [`Metrics::record_journal`]); nothing here is
//! ever called per event, and no lock is taken per event. [`Metrics`] owns one
//! `prometheus_client` `Registry` and keeps a handle to each metric in it:
//! - counters and gauges are the library's `Counter` and `Gauge` (atomics);
//! - the per-batch histograms (batch size, batch and durable time, fsync
//!   time) are the library's `Histogram`, which takes a short lock per
//!   observation, so once per batch;
//! - the per-event end-to-end latency is `histogram::AtomicHistogram`, a
//!   fixed array of atomic buckets filled once per batch from a local array,
//!   encoded through the library's `EncodeMetric` (its `Histogram` would lock
//!   once per event);
//! - rejection reasons and alert kinds are a library `Family` behind
//!   `labels::BoundedCounters`, which caps the distinct label values and
//!   counts the rest as `_overflow`;
//! - the seven `aldebaran_sink_*` families are read from the shippers'
//!   `SinkStats` at scrape time by a library `Collector` (`sinks.rs`), so no
//!   delivery path updates a metric; the three `aldebaran_source_*` ones
//!   likewise from the AMQP source's counters (`source.rs`), so a lost
//!   connection shows while no input flows.
//!
//! [`Metrics::render`] encodes the registry on demand (OpenMetrics 1.0 text,
//! `# EOF` last), so a scrape costs the scraper, not the engine.
//!
//! On a pair's node the four `aldebaran_ha_*` gauges come from its status
//! the same way (`pair.rs`).
//!
//! [`Health`] (`health.rs`) answers `/healthz`: it watches the shippers'
//! `SinkStats`, the source's connected flag and the journal thread's
//! [`JournalFailure`], and a pure `verdict` of those facts says 200 or 503
//! and why, as JSON.
//!
//! Threads: [`serve`] starts one `metrics-http` thread (plus tiny_http's own
//! accept thread) answering `GET /metrics` and `GET /healthz`;
//! [`MetricsServer::stop`] unblocks and joins it.

mod health;
mod histogram;
mod http;
mod labels;
mod pair;
mod registry;
mod sinks;
mod source;

#[cfg(test)]
mod parsed;
#[cfg(test)]
mod tests;

pub use health::{Health, JournalFailure};
pub use http::{MetricsServer, serve};
pub(crate) use pair::PairView;
pub use registry::{BatchObservation, Metrics};
