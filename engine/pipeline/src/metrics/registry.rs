//! The metric registry: atomics updated once per micro-batch.

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
};

use alerts::delivery::{DurableHead, SinkStats};

use super::histogram::{BATCH_EVENTS, Histogram, LATENCY_NS, Unit};
use super::render::Exposition;

/// Slots for rejection reasons and for alert kinds.
const LABEL_SLOTS: usize = 32;
/// Slots for sink names.
const SINK_SLOTS: usize = 16;
/// Label value that collects whatever arrives once every slot is taken.
const OVERFLOW_LABEL: &str = "_overflow";

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

/// One label value and its number.
#[derive(Default)]
struct Slot {
    name: OnceLock<Box<str>>,
    value: AtomicU64,
}

/// A fixed table of label value → number. A value is copied in the first time
/// it is seen and found again by a short scan, so no update allocates after
/// that. Slots fill in order, so a known value always sits before the first
/// empty slot. Past the capacity everything goes to [`OVERFLOW_LABEL`], which
/// keeps the label set bounded even if a caller's is not.
struct Labelled {
    slots: Box<[Slot]>,
    overflow: AtomicU64,
    overflowed: AtomicBool,
}

impl Labelled {
    fn new(capacity: usize) -> Self {
        Labelled {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            overflow: AtomicU64::new(0),
            overflowed: AtomicBool::new(false),
        }
    }

    fn cell(&self, label: &str) -> &AtomicU64 {
        for slot in self.slots.iter() {
            if &**slot.name.get_or_init(|| label.into()) == label {
                return &slot.value;
            }
        }
        if !self.overflowed.swap(true, Relaxed) {
            tracing::warn!(
                label,
                "metric label table full; counting as {OVERFLOW_LABEL}"
            );
        }
        &self.overflow
    }

    fn add(&self, label: &str, n: u64) {
        self.cell(label).fetch_add(n, Relaxed);
    }

    fn set(&self, label: &str, v: u64) {
        self.cell(label).store(v, Relaxed);
    }

    /// The values seen so far, sorted by label.
    fn samples(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .slots
            .iter()
            .map_while(|s| Some((s.name.get()?.to_string(), s.value.load(Relaxed))))
            .collect();
        out.sort_unstable();
        if self.overflowed.load(Relaxed) {
            out.push((OVERFLOW_LABEL.to_string(), self.overflow.load(Relaxed)));
        }
        out
    }
}

/// The engine's metrics. Share it behind an `Arc`; every method takes `&self`
/// and is lock-free. The `record_*` methods are meant to be called once per
/// micro-batch, never per event.
pub struct Metrics {
    events_in: AtomicU64,
    accepted: AtomicU64,
    rejected: Labelled,
    alerts: Labelled,
    batch_events: Histogram,
    batch_duration: Histogram,
    batch_durable: Histogram,
    e2e_latency: Histogram,
    open_keys: AtomicU64,
    journal_bytes: AtomicU64,
    journal_fsync: Histogram,
    journal_fsyncs: AtomicU64,
    sink_lag: Labelled,
    sink_delivered: Labelled,
    sink_retried: Labelled,
    sink_failed: Labelled,
    sink_in_doubt: Labelled,
    sink_up: Labelled,
    /// The shippers' live counters, read at render (not on any hot path).
    sinks: Mutex<Vec<Arc<SinkStats>>>,
    /// The journal's durable head, for the sinks' lag.
    durable_seq: OnceLock<Arc<DurableHead>>,
    source_connected: AtomicBool,
    redelivered: AtomicU64,
    acked: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("events_in", &self.events_in.load(Relaxed))
            .field("accepted", &self.accepted.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// All counters at zero, the source disconnected.
    pub fn new() -> Self {
        Metrics {
            events_in: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            rejected: Labelled::new(LABEL_SLOTS),
            alerts: Labelled::new(LABEL_SLOTS),
            batch_events: Histogram::new(BATCH_EVENTS, Unit::Count),
            batch_duration: Histogram::new(LATENCY_NS, Unit::Nanos),
            batch_durable: Histogram::new(LATENCY_NS, Unit::Nanos),
            e2e_latency: Histogram::new(LATENCY_NS, Unit::Nanos),
            open_keys: AtomicU64::new(0),
            journal_bytes: AtomicU64::new(0),
            journal_fsync: Histogram::new(LATENCY_NS, Unit::Nanos),
            journal_fsyncs: AtomicU64::new(0),
            sink_lag: Labelled::new(SINK_SLOTS),
            sink_delivered: Labelled::new(SINK_SLOTS),
            sink_retried: Labelled::new(SINK_SLOTS),
            sink_failed: Labelled::new(SINK_SLOTS),
            sink_in_doubt: Labelled::new(SINK_SLOTS),
            sink_up: Labelled::new(SINK_SLOTS),
            sinks: Mutex::new(Vec::new()),
            durable_seq: OnceLock::new(),
            source_connected: AtomicBool::new(false),
            redelivered: AtomicU64::new(0),
            acked: AtomicU64::new(0),
        }
    }

    /// Records what one micro-batch did (engine thread, after processing).
    pub fn record_batch(&self, b: &BatchObservation<'_>) {
        self.events_in.fetch_add(b.events_in, Relaxed);
        self.accepted.fetch_add(b.accepted, Relaxed);
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
        self.batch_events.observe(b.batch_events);
        self.batch_duration.observe(b.process_ns);
        self.open_keys.store(b.open_keys, Relaxed);
    }

    /// Records a batch made durable (journal thread): `batch_latency_ns` from
    /// hand-off to durable, and one ingest → durable latency per event.
    pub fn record_durable(&self, batch_latency_ns: u64, e2e_latency_ns: &[u64]) {
        self.batch_durable.observe(batch_latency_ns);
        self.e2e_latency.observe_many(e2e_latency_ns);
    }

    /// Records journal bytes written since the last call and, if one was
    /// done, the time of an fsync.
    pub fn record_journal(&self, bytes: u64, fsync_ns: Option<u64>) {
        self.journal_bytes.fetch_add(bytes, Relaxed);
        if let Some(ns) = fsync_ns {
            self.journal_fsyncs.fetch_add(1, Relaxed);
            self.journal_fsync.observe(ns);
        }
    }

    /// Sets how far `sink`'s delivery cursor is behind the journal head.
    /// Sink names are a small bounded set (see the module docs).
    pub fn set_sink_lag(&self, sink: &str, lag: u64) {
        self.sink_lag.set(sink, lag);
    }

    /// Publishes a shipper's counters (read at every render).
    pub fn add_sink(&self, stats: Arc<SinkStats>) {
        if let Ok(mut v) = self.sinks.lock() {
            v.push(stats);
        }
    }

    /// The journal's durable head, against which sink lag is measured.
    pub fn set_durable_seq_source(&self, durable: Arc<DurableHead>) {
        let _ = self.durable_seq.set(durable);
    }

    fn refresh_sinks(&self) {
        let head = self.durable_seq.get().map_or(0, |d| d.get());
        let Ok(sinks) = self.sinks.lock() else {
            return;
        };
        for s in sinks.iter() {
            let cursor = s.cursor.load(Relaxed);
            self.sink_lag.set(&s.name, head.saturating_sub(cursor));
            self.sink_delivered.set(&s.name, s.delivered.load(Relaxed));
            self.sink_retried.set(&s.name, s.retried.load(Relaxed));
            self.sink_failed.set(&s.name, s.failed.load(Relaxed));
            self.sink_in_doubt.set(&s.name, s.in_doubt.load(Relaxed));
            self.sink_up
                .set(&s.name, u64::from(s.running.load(Relaxed)));
        }
    }

    /// Marks the source connected or not.
    pub fn source_connected(&self, up: bool) {
        self.source_connected.store(up, Relaxed);
    }

    /// Counts messages the source redelivered.
    pub fn record_redelivered(&self, n: u64) {
        self.redelivered.fetch_add(n, Relaxed);
    }

    /// Counts messages acknowledged to the source.
    pub fn record_acked(&self, n: u64) {
        self.acked.fetch_add(n, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn render(&self) -> String {
        self.refresh_sinks();
        let mut e = Exposition::default();
        let c = |e: &mut Exposition, name: &str, help: &str, v: &AtomicU64| {
            e.single(name, help, "counter", v.load(Relaxed));
        };
        let h = |e: &mut Exposition, name: &str, help: &str, h: &Histogram| {
            e.histogram(name, help, h.unit(), &h.snapshot());
        };
        c(
            &mut e,
            "aldebaran_events_in_total",
            "Input lines seen, blank lines excluded.",
            &self.events_in,
        );
        c(
            &mut e,
            "aldebaran_events_accepted_total",
            "Events accepted into micro-batches.",
            &self.accepted,
        );
        e.labelled(
            "aldebaran_events_rejected_total",
            "Input lines rejected, by reason.",
            "counter",
            "reason",
            &self.rejected.samples(),
        );
        e.labelled(
            "aldebaran_alerts_total",
            "Alerts produced, by kind.",
            "counter",
            "kind",
            &self.alerts.samples(),
        );
        h(
            &mut e,
            "aldebaran_batch_events",
            "Events per micro-batch.",
            &self.batch_events,
        );
        h(
            &mut e,
            "aldebaran_batch_duration_seconds",
            "Time the engine spent processing a micro-batch.",
            &self.batch_duration,
        );
        h(
            &mut e,
            "aldebaran_batch_durable_seconds",
            "Time from handing a micro-batch to the journal until it was durable.",
            &self.batch_durable,
        );
        h(
            &mut e,
            "aldebaran_e2e_latency_seconds",
            "Per-event latency from ingest to durable in the journal.",
            &self.e2e_latency,
        );
        e.single(
            "aldebaran_open_keys",
            "Open keys (live books) after the last micro-batch.",
            "gauge",
            self.open_keys.load(Relaxed),
        );
        c(
            &mut e,
            "aldebaran_journal_bytes_total",
            "Bytes written to the alert journal.",
            &self.journal_bytes,
        );
        h(
            &mut e,
            "aldebaran_journal_fsync_seconds",
            "Time of one journal fsync.",
            &self.journal_fsync,
        );
        c(
            &mut e,
            "aldebaran_journal_fsyncs_total",
            "Journal fsyncs done.",
            &self.journal_fsyncs,
        );
        e.labelled(
            "aldebaran_sink_lag",
            "Journal records a sink's delivery cursor is behind the head.",
            "gauge",
            "sink",
            &self.sink_lag.samples(),
        );
        for (name, help, kind, l) in [
            (
                "aldebaran_sink_delivered_total",
                "Alerts a sink confirmed (this run).",
                "counter",
                &self.sink_delivered,
            ),
            (
                "aldebaran_sink_retried_total",
                "Transient send failures, each retried after a back-off.",
                "counter",
                &self.sink_retried,
            ),
            (
                "aldebaran_sink_failed_total",
                "Alerts dead-lettered after a permanent failure.",
                "counter",
                &self.sink_failed,
            ),
            (
                "aldebaran_sink_in_doubt_total",
                "Alerts whose send a crash interrupted, found at start.",
                "counter",
                &self.sink_in_doubt,
            ),
            (
                "aldebaran_sink_up",
                "1 while the sink's shipper runs; 0 once it stopped on an error.",
                "gauge",
                &self.sink_up,
            ),
        ] {
            e.labelled(name, help, kind, "sink", &l.samples());
        }
        e.single(
            "aldebaran_source_connected",
            "1 when the source is connected, else 0.",
            "gauge",
            u64::from(self.source_connected.load(Relaxed)),
        );
        c(
            &mut e,
            "aldebaran_source_redelivered_total",
            "Messages the source redelivered.",
            &self.redelivered,
        );
        c(
            &mut e,
            "aldebaran_source_acked_total",
            "Messages acknowledged to the source.",
            &self.acked,
        );
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, thread};

    use super::*;

    fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn metrics_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Metrics>();
    }

    #[test]
    fn fresh_registry_renders_every_family() {
        let text = Metrics::new().render();
        for family in [
            "events_in_total counter",
            "events_accepted_total counter",
            "events_rejected_total counter",
            "alerts_total counter",
            "batch_events histogram",
            "batch_duration_seconds histogram",
            "batch_durable_seconds histogram",
            "e2e_latency_seconds histogram",
            "open_keys gauge",
            "journal_bytes_total counter",
            "journal_fsync_seconds histogram",
            "journal_fsyncs_total counter",
            "sink_lag gauge",
            "sink_delivered_total counter",
            "sink_retried_total counter",
            "sink_failed_total counter",
            "sink_in_doubt_total counter",
            "sink_up gauge",
            "source_connected gauge",
            "source_redelivered_total counter",
            "source_acked_total counter",
        ] {
            let ty = format!("# TYPE aldebaran_{family}");
            assert!(text.contains(&ty), "missing {ty:?}");
            let name = family.split(' ').next().unwrap_or_default();
            assert!(text.contains(&format!("# HELP aldebaran_{name} ")));
        }
        assert_eq!(sample(&text, "aldebaran_events_in_total"), Some("0"));
        assert_eq!(
            sample(&text, "aldebaran_e2e_latency_seconds_bucket{le=\"+Inf\"}"),
            Some("0")
        );
        assert!(text.ends_with('\n'));
        // Every line is a comment or `series value`.
        for line in text.lines() {
            assert!(
                line.starts_with("# ") || line.split(' ').count() == 2,
                "{line}"
            );
        }
    }

    #[test]
    fn batches_add_up() {
        let m = Metrics::new();
        m.record_batch(&BatchObservation {
            events_in: 10,
            accepted: 7,
            rejected: &[("bad_json", 2), ("missing_field", 1), ("unused", 0)],
            alerts: &[("overfill", 1)],
            batch_events: 7,
            process_ns: 30_000,
            open_keys: 5,
        });
        m.record_batch(&BatchObservation {
            events_in: 3,
            accepted: 2,
            rejected: &[("bad_json", 1)],
            batch_events: 2,
            process_ns: 2_000_000_000,
            open_keys: 4,
            ..BatchObservation::default()
        });
        m.record_durable(1_000_000, &[20_000, 20_000, 3_000_000, 20_000_000_000]);
        m.record_journal(100, None);
        m.record_journal(50, Some(2_000_000));
        m.set_sink_lag("kafka", 12);
        m.set_sink_lag("kafka", 3);
        m.source_connected(true);
        m.record_redelivered(2);
        m.record_acked(9);
        let t = m.render();
        let s = |series| sample(&t, series);
        assert_eq!(s("aldebaran_events_in_total"), Some("13"));
        assert_eq!(s("aldebaran_events_accepted_total"), Some("9"));
        assert_eq!(
            s("aldebaran_events_rejected_total{reason=\"bad_json\"}"),
            Some("3")
        );
        assert_eq!(
            s("aldebaran_events_rejected_total{reason=\"missing_field\"}"),
            Some("1")
        );
        assert!(!t.contains("unused"), "zero counts create no series");
        assert_eq!(s("aldebaran_alerts_total{kind=\"overfill\"}"), Some("1"));
        assert_eq!(s("aldebaran_batch_events_bucket{le=\"1\"}"), Some("0"));
        assert_eq!(s("aldebaran_batch_events_bucket{le=\"4\"}"), Some("1"));
        assert_eq!(s("aldebaran_batch_events_bucket{le=\"16\"}"), Some("2"));
        assert_eq!(s("aldebaran_batch_events_sum"), Some("9"));
        assert_eq!(
            s("aldebaran_batch_duration_seconds_bucket{le=\"0.00005\"}"),
            Some("1")
        );
        assert_eq!(
            s("aldebaran_batch_duration_seconds_bucket{le=\"2.5\"}"),
            Some("2")
        );
        assert_eq!(s("aldebaran_batch_duration_seconds_sum"), Some("2.00003"));
        assert_eq!(s("aldebaran_batch_durable_seconds_count"), Some("1"));
        assert_eq!(
            s("aldebaran_e2e_latency_seconds_bucket{le=\"0.000025\"}"),
            Some("2")
        );
        assert_eq!(
            s("aldebaran_e2e_latency_seconds_bucket{le=\"10\"}"),
            Some("3")
        );
        assert_eq!(
            s("aldebaran_e2e_latency_seconds_bucket{le=\"+Inf\"}"),
            Some("4")
        );
        assert_eq!(s("aldebaran_e2e_latency_seconds_count"), Some("4"));
        assert_eq!(s("aldebaran_open_keys"), Some("4"));
        assert_eq!(s("aldebaran_journal_bytes_total"), Some("150"));
        assert_eq!(s("aldebaran_journal_fsyncs_total"), Some("1"));
        assert_eq!(s("aldebaran_journal_fsync_seconds_count"), Some("1"));
        assert_eq!(s("aldebaran_sink_lag{sink=\"kafka\"}"), Some("3"));
        assert_eq!(s("aldebaran_source_connected"), Some("1"));
        assert_eq!(s("aldebaran_source_redelivered_total"), Some("2"));
        assert_eq!(s("aldebaran_source_acked_total"), Some("9"));
    }

    #[test]
    fn sink_counters_and_lag_come_from_the_shippers() {
        use alerts::delivery::DeliveryMode;
        let m = Metrics::new();
        let durable = Arc::new(DurableHead::new(100));
        m.set_durable_seq_source(Arc::clone(&durable));
        let st = Arc::new(SinkStats::named("hook", "http", DeliveryMode::ExactlyOnce));
        m.add_sink(Arc::clone(&st));
        st.delivered.store(60, Relaxed);
        st.retried.store(3, Relaxed);
        st.failed.store(1, Relaxed);
        st.in_doubt.store(2, Relaxed);
        st.cursor.store(61, Relaxed);
        st.running.store(true, Relaxed);
        let t = m.render();
        let s = |series| sample(&t, series);
        assert_eq!(s("aldebaran_sink_lag{sink=\"hook\"}"), Some("39"));
        assert_eq!(
            s("aldebaran_sink_delivered_total{sink=\"hook\"}"),
            Some("60")
        );
        assert_eq!(s("aldebaran_sink_retried_total{sink=\"hook\"}"), Some("3"));
        assert_eq!(s("aldebaran_sink_failed_total{sink=\"hook\"}"), Some("1"));
        assert_eq!(s("aldebaran_sink_in_doubt_total{sink=\"hook\"}"), Some("2"));
        assert_eq!(s("aldebaran_sink_up{sink=\"hook\"}"), Some("1"));
        // The lag follows the head without the shipper doing anything.
        durable.publish(170);
        assert_eq!(
            sample(&m.render(), "aldebaran_sink_lag{sink=\"hook\"}"),
            Some("109")
        );
    }

    #[test]
    fn labelled_values_are_sorted_and_escaped() {
        let m = Metrics::new();
        m.set_sink_lag("z", 1);
        m.set_sink_lag("a\"b\\c\nd", 2);
        let t = m.render();
        let a = t.find(r#"aldebaran_sink_lag{sink="a\"b\\c\nd"} 2"#);
        let z = t.find(r#"aldebaran_sink_lag{sink="z"} 1"#);
        assert!(a.is_some() && z.is_some() && a < z, "{t}");
    }

    #[test]
    fn label_table_overflows_into_one_bounded_series() {
        let l = Labelled::new(2);
        l.add("a", 1);
        l.add("b", 1);
        l.add("c", 1);
        l.add("d", 2);
        l.add("a", 1);
        assert_eq!(
            l.samples(),
            vec![
                ("a".to_string(), 2),
                ("b".to_string(), 1),
                (OVERFLOW_LABEL.to_string(), 3)
            ]
        );
    }

    #[test]
    fn concurrent_labels_are_counted_once_each() {
        let m = Arc::new(Metrics::new());
        let reasons: [&'static str; 4] = ["r0", "r1", "r2", "r3"];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let m = Arc::clone(&m);
                thread::spawn(move || {
                    for i in 0..1000 {
                        let r = [(reasons[(t + i) % 4], 1)];
                        m.record_batch(&BatchObservation {
                            events_in: 1,
                            rejected: &r,
                            ..BatchObservation::default()
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("worker");
        }
        let samples = m.rejected.samples();
        assert_eq!(samples.len(), 4, "{samples:?}");
        assert!(samples.iter().all(|(_, n)| *n == 1000));
        assert_eq!(m.events_in.load(Relaxed), 4000);
    }
}
