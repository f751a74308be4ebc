//! The engine's metrics: prometheus-client metrics in one `Registry`,
//! updated once per micro-batch.

use std::sync::{Arc, atomic::AtomicU64};

use alerts::delivery::{DurableHead, SinkStats};
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge, histogram::Histogram},
    registry::{Metric, Registry, Unit},
};

use ingest::amqp::AmqpCounters;

use super::{
    health::JournalFailure,
    histogram::{AtomicHistogram, batch_events_bounds, latency_bounds, seconds},
    labels::BoundedCounters,
    pair::{Pair, PairView},
    sinks::Sinks,
    source::Source,
};

/// The `Content-Type` of what [`Metrics::render`] writes.
pub(super) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Most rejection reasons, and most alert kinds, with a series of their own.
pub(super) const LABEL_SLOTS: usize = 32;

/// What one micro-batch did, counted by the caller in locals and handed over
/// once, after the engine processed the batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchObservation<'a> {
    /// Lines seen (accepted plus rejected; blank lines excluded).
    pub events_in: u64,
    /// Events accepted into the batch.
    pub accepted: u64,
    /// Rejected lines by reason; zero counts are skipped.
    pub rejected: &'a [(&'static str, u64)],
    /// Alerts produced by kind; zero counts are skipped.
    pub alerts: &'a [(&'static str, u64)],
    /// Events in the batch (the batch-size histogram).
    pub batch_events: u64,
    /// Time the engine spent processing the batch.
    pub process_ns: u64,
    /// Open keys (live books) after the batch.
    pub open_keys: u64,
}

/// A gauge of whole numbers (prometheus-client's default is `i64`).
type UGauge = Gauge<u64, AtomicU64>;

/// The engine's metrics. Share it behind an `Arc`; every method takes `&self`.
/// The `record_*` methods are meant to be called once per micro-batch, never
/// per event.
pub struct Metrics {
    /// Holds a clone of every handle below (clones share their value).
    registry: Registry,
    events_in: Counter,
    accepted: Counter,
    rejected: BoundedCounters,
    alerts: BoundedCounters,
    batch_events: Histogram,
    batch_duration: Histogram,
    batch_durable: Histogram,
    e2e_latency: AtomicHistogram,
    open_keys: UGauge,
    journal_bytes: Counter,
    journal_fsync: Histogram,
    journal_fsyncs: Counter,
    journal_oldest: UGauge,
    sinks: Arc<Sinks>,
    source: Arc<Source>,
    pair: Arc<Pair>,
    /// Set by the journal thread if it fails (for `/healthz`).
    journal_failure: Arc<JournalFailure>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("events_in", &self.events_in.get())
            .field("accepted", &self.accepted.get())
            .finish_non_exhaustive()
    }
}

/// Registers a clone of `metric` and hands `metric` back. Names are as
/// exposed less what prometheus-client appends itself: `_total` to a
/// counter's samples, the unit's `_seconds` or `_bytes`, and the full stop
/// of the HELP text (so it is stripped here, and the texts read whole).
fn register<M: Metric + Clone>(
    r: &mut Registry,
    name: &str,
    unit: Option<Unit>,
    help: &str,
    metric: M,
) -> M {
    let help = help.strip_suffix('.').unwrap_or(help);
    match unit {
        Some(unit) => r.register_with_unit(name, help, unit, metric.clone()),
        None => r.register(name, help, metric.clone()),
    }
    metric
}

fn latency() -> Histogram {
    Histogram::new(latency_bounds())
}

impl Metrics {
    /// All counters at zero, no source (`aldebaran_source_connected` 0).
    pub fn new() -> Self {
        Metrics::of_shard(None)
    }

    /// [`Metrics::new`] for shard `shard` (SPEC §8): every series carries
    /// the label `shard="<k>"`, so the shards' engines can be scraped into
    /// one Prometheus and told apart (or summed) by it.
    pub fn of_shard(shard: Option<u32>) -> Self {
        let mut registry = match shard {
            Some(k) => Registry::with_labels(std::iter::once((
                std::borrow::Cow::Borrowed("shard"),
                std::borrow::Cow::Owned(k.to_string()),
            ))),
            None => Registry::default(),
        };
        let r = &mut registry;
        let secs = || Some(Unit::Seconds);
        let events_in = register(
            r,
            "aldebaran_events_in",
            None,
            "Input lines seen, blank lines excluded.",
            Counter::default(),
        );
        let accepted = register(
            r,
            "aldebaran_events_accepted",
            None,
            "Events accepted into micro-batches.",
            Counter::default(),
        );
        let rejected = register(
            r,
            "aldebaran_events_rejected",
            None,
            "Input lines rejected, by reason.",
            BoundedCounters::new("reason", LABEL_SLOTS),
        );
        let alerts = register(
            r,
            "aldebaran_alerts",
            None,
            "Alerts produced, by kind.",
            BoundedCounters::new("kind", LABEL_SLOTS),
        );
        let batch_events = register(
            r,
            "aldebaran_batch_events",
            None,
            "Events per micro-batch.",
            Histogram::new(batch_events_bounds()),
        );
        let batch_duration = register(
            r,
            "aldebaran_batch_duration",
            secs(),
            "Time the engine spent processing a micro-batch.",
            latency(),
        );
        let batch_durable = register(
            r,
            "aldebaran_batch_durable",
            secs(),
            "Time from handing a micro-batch to the journal until it was durable.",
            latency(),
        );
        let e2e_latency = register(
            r,
            "aldebaran_e2e_latency",
            secs(),
            "Per-event latency from ingest to durable in the journal.",
            AtomicHistogram::default(),
        );
        let open_keys = register(
            r,
            "aldebaran_open_keys",
            None,
            "Open keys (live books) after the last micro-batch.",
            UGauge::default(),
        );
        let journal_bytes = register(
            r,
            "aldebaran_journal",
            Some(Unit::Bytes),
            "Bytes written to the alert journal.",
            Counter::default(),
        );
        let journal_fsync = register(
            r,
            "aldebaran_journal_fsync",
            secs(),
            "Time of one journal fsync.",
            latency(),
        );
        let journal_fsyncs = register(
            r,
            "aldebaran_journal_fsyncs",
            None,
            "Journal fsyncs done.",
            Counter::default(),
        );
        let journal_oldest = register(
            r,
            "aldebaran_journal_oldest_seq",
            None,
            "The oldest seq the alert journal keeps (retention removed the segments before it).",
            UGauge::default(),
        );
        // The source and sink families come from collectors, which the
        // registry encodes after its metrics, in this order.
        let source = Arc::new(Source::default());
        r.register_collector(Box::new(Arc::clone(&source)));
        let sinks = Arc::new(Sinks::default());
        r.register_collector(Box::new(Arc::clone(&sinks)));
        let pair = Arc::new(Pair::default());
        r.register_collector(Box::new(Arc::clone(&pair)));
        Metrics {
            registry,
            events_in,
            accepted,
            rejected,
            alerts,
            batch_events,
            batch_duration,
            batch_durable,
            e2e_latency,
            open_keys,
            journal_bytes,
            journal_fsync,
            journal_fsyncs,
            journal_oldest,
            sinks,
            source,
            pair,
            journal_failure: Arc::default(),
        }
    }

    /// Records what one micro-batch did (engine thread, after processing).
    pub fn record_batch(&self, b: &BatchObservation<'_>) {
        self.events_in.inc_by(b.events_in);
        self.accepted.inc_by(b.accepted);
        for &(reason, n) in b.rejected {
            if n != 0 {
                self.rejected.add(reason, n);
            }
        }
        for &(kind, n) in b.alerts {
            if n != 0 {
                self.alerts.add(kind, n);
            }
        }
        self.batch_events.observe(b.batch_events as f64);
        self.batch_duration.observe(seconds(b.process_ns));
        self.open_keys.set(b.open_keys);
    }

    /// Records a batch made durable (journal thread): `batch_latency_ns` from
    /// hand-off to durable, and one ingest → durable latency per event (into
    /// the lock-free histogram, see `histogram.rs`).
    pub fn record_durable(&self, batch_latency_ns: u64, e2e_latency_ns: &[u64]) {
        self.batch_durable.observe(seconds(batch_latency_ns));
        self.e2e_latency.observe_many(e2e_latency_ns);
    }

    /// Records journal bytes written since the last call and, if one was
    /// done, the time of an fsync.
    pub fn record_journal(&self, bytes: u64, fsync_ns: Option<u64>) {
        self.journal_bytes.inc_by(bytes);
        if let Some(ns) = fsync_ns {
            self.journal_fsyncs.inc();
            self.journal_fsync.observe(seconds(ns));
        }
    }

    /// Records the oldest seq the journal keeps (at start and after each
    /// retention pass).
    pub fn set_journal_oldest(&self, seq: u64) {
        self.journal_oldest.set(seq);
    }

    /// Sets how far `sink`'s delivery cursor is behind the journal head, for
    /// a sink whose shipper is not published with [`Metrics::add_sink`]
    /// (a published shipper's lag is computed at each render).
    pub fn set_sink_lag(&self, sink: &str, lag: u64) {
        self.sinks.set_lag(sink, lag);
    }

    /// Publishes a shipper's counters (read at every render).
    pub fn add_sink(&self, stats: Arc<SinkStats>) {
        self.sinks.add(stats);
    }

    /// The journal's durable head, against which sink lag is measured.
    pub fn set_durable_seq_source(&self, durable: Arc<DurableHead>) {
        self.sinks.set_durable(durable);
    }

    /// Publishes the AMQP source's counters: `aldebaran_source_connected`,
    /// `_redelivered_total` and `_acked_total` are read from them at every
    /// render, so they change when the source does, input or not.
    pub fn watch_source(&self, counters: Arc<AmqpCounters>) {
        self.source.watch(counters);
    }

    /// Publishes a pair's node (`aldebaran_ha_*`).
    pub(crate) fn watch_pair(&self, node: Arc<dyn PairView>) {
        self.pair.watch(node);
    }

    /// Records that the journal thread failed with `error` (the journal is
    /// no longer written); the first failure stays.
    pub fn record_journal_failed(&self, error: &str) {
        self.journal_failure.set(error);
    }

    /// The journal thread's failure, shared with whoever watches it
    /// ([`Health`](super::Health)).
    pub fn journal_failure(&self) -> Arc<JournalFailure> {
        Arc::clone(&self.journal_failure)
    }

    /// The OpenMetrics text exposition of every metric, `# EOF` last
    /// (served as [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and no metric here returns an
        // error of its own, so an error is a bug; the scrape then gets an
        // empty body (which a scraper reports) rather than a panic.
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("Encoding the metrics failed; this is a bug.");
            out.clear();
        }
        out
    }
}
