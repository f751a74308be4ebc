//! [`Metrics`] end to end: record, render, and read the exposition back with
//! a real parser (see `parsed.rs`).

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    thread,
};

use alerts::delivery::{DeliveryMode, DurableHead, SinkStats};
use prometheus_parse::SampleType::{self, Counter, Gauge, Histogram};

use super::{
    BatchObservation, Metrics,
    parsed::{Parsed, unescape},
    registry::LABEL_SLOTS,
};

/// Every family as OpenMetrics names it (a counter without `_total`, a
/// histogram with its unit), its type and its HELP text.
const FAMILIES: [(&str, SampleType, &str); 23] = [
    (
        "events_in",
        Counter,
        "Input lines seen, blank lines excluded.",
    ),
    (
        "events_accepted",
        Counter,
        "Events accepted into micro-batches.",
    ),
    (
        "events_rejected",
        Counter,
        "Input lines rejected, by reason.",
    ),
    ("alerts", Counter, "Alerts produced, by kind."),
    ("batch_events", Histogram, "Events per micro-batch."),
    (
        "batch_duration_seconds",
        Histogram,
        "Time the engine spent processing a micro-batch.",
    ),
    (
        "batch_durable_seconds",
        Histogram,
        "Time from handing a micro-batch to the journal until it was durable.",
    ),
    (
        "e2e_latency_seconds",
        Histogram,
        "Per-event latency from ingest to durable in the journal.",
    ),
    (
        "open_keys",
        Gauge,
        "Open keys (live books) after the last micro-batch.",
    ),
    (
        "journal_bytes",
        Counter,
        "Bytes written to the alert journal.",
    ),
    (
        "journal_fsync_seconds",
        Histogram,
        "Time of one journal fsync.",
    ),
    ("journal_fsyncs", Counter, "Journal fsyncs done."),
    (
        "journal_oldest_seq",
        Gauge,
        "The oldest seq the alert journal keeps (retention removed the segments before it).",
    ),
    (
        "sink_lag",
        Gauge,
        "Journal records a sink's delivery cursor is behind the head.",
    ),
    (
        "sink_delivered",
        Counter,
        "Alerts a sink confirmed (this run).",
    ),
    (
        "sink_retried",
        Counter,
        "Transient send failures, each retried after a back-off.",
    ),
    (
        "sink_failed",
        Counter,
        "Alerts dead-lettered after a permanent failure.",
    ),
    (
        "sink_in_doubt",
        Counter,
        "Alerts whose send a crash interrupted, found at start.",
    ),
    (
        "sink_up",
        Gauge,
        "1 while the sink's shipper runs and its endpoint accepts; 0 while paused or once stopped on an error.",
    ),
    (
        "sink_paused",
        Gauge,
        "1 while the sink is paused because its endpoint refuses every alert (wrong URL or credentials), else 0.",
    ),
    (
        "source_connected",
        Gauge,
        "1 when the source is connected, else 0.",
    ),
    (
        "source_redelivered",
        Counter,
        "Messages the source redelivered.",
    ),
    (
        "source_acked",
        Counter,
        "Messages acknowledged to the source.",
    ),
];

fn parsed(m: &Metrics) -> Parsed {
    Parsed::new(&m.render())
}

/// The unlabelled sample `name`.
fn value(p: &Parsed, name: &str) -> Option<f64> {
    p.value(name, &[])
}

#[test]
fn metrics_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Metrics>();
}

#[test]
fn fresh_registry_renders_every_family() {
    let text = Metrics::new().render();
    let p = Parsed::new(&text);
    for (family, ty, help) in FAMILIES {
        let family = format!("aldebaran_{family}");
        assert_eq!(p.type_of(&family), Some(ty), "{family}");
        assert_eq!(p.help(&family), Some(help), "{family}");
    }
    for counter in [
        "events_in",
        "events_accepted",
        "journal_bytes",
        "journal_fsyncs",
        "source_redelivered",
        "source_acked",
    ] {
        let series = format!("aldebaran_{counter}_total");
        assert_eq!(value(&p, &series), Some(0.0), "{series}");
    }
    assert_eq!(value(&p, "aldebaran_source_connected"), Some(0.0));
    assert_eq!(
        p.bucket("aldebaran_e2e_latency_seconds", f64::INFINITY),
        Some(0.0)
    );
    assert!(text.ends_with("\n# EOF\n"), "{text}");
}

#[test]
fn a_shard_labels_every_series() {
    let text = Metrics::of_shard(Some(2)).render();
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("aldebaran_"))
        .collect();
    assert!(samples.len() > 10, "{text}");
    for line in samples {
        assert!(line.contains("shard=\"2\""), "{line}");
    }
    assert!(!Metrics::new().render().contains("shard="));
}

#[test]
fn histograms_keep_their_bounds() {
    let p = parsed(&Metrics::new());
    let bounds = |family: &str| -> Vec<f64> {
        let h = p.histogram(family);
        h.iter().map(|&(le, _)| le).collect()
    };
    let mut batch: Vec<f64> = (0..11).map(|i| 4f64.powi(i)).collect();
    batch.push(f64::INFINITY);
    assert_eq!(bounds("aldebaran_batch_events"), batch);
    let mut time: Vec<f64> = (-5..1)
        .flat_map(|e| [1.0, 2.5, 5.0].map(|m| m * 10f64.powi(e)))
        .collect();
    time.push(10.0);
    time.push(f64::INFINITY);
    for family in [
        "batch_duration_seconds",
        "batch_durable_seconds",
        "e2e_latency_seconds",
        "journal_fsync_seconds",
    ] {
        let got = bounds(&format!("aldebaran_{family}"));
        assert_eq!(got.len(), time.len(), "{family}");
        for (g, t) in got.iter().zip(&time) {
            assert!(
                g == t || ((g - t) / t).abs() < 1e-12,
                "{family}: {g} vs {t}"
            );
        }
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
    m.set_journal_oldest(1);
    m.set_journal_oldest(4_097);
    m.set_sink_lag("kafka", 12);
    m.set_sink_lag("kafka", 3);
    let source = Arc::new(ingest::amqp::AmqpCounters::default());
    m.watch_source(Arc::clone(&source));
    source.connected.store(1, Relaxed);
    source.redelivered.store(2, Relaxed);
    source.acked.store(9, Relaxed);
    let text = m.render();
    let p = Parsed::new(&text);
    let v = |name| value(&p, name);
    let rejected = |reason| p.value("aldebaran_events_rejected_total", &[("reason", reason)]);
    assert_eq!(v("aldebaran_events_in_total"), Some(13.0));
    assert_eq!(v("aldebaran_events_accepted_total"), Some(9.0));
    assert_eq!(rejected("bad_json"), Some(3.0));
    assert_eq!(rejected("missing_field"), Some(1.0));
    assert_eq!(
        p.label_values("aldebaran_events_rejected_total", "reason"),
        ["bad_json", "missing_field"],
        "zero counts create no series"
    );
    assert!(!text.contains("unused"));
    assert_eq!(
        p.value("aldebaran_alerts_total", &[("kind", "overfill")]),
        Some(1.0)
    );

    let events = "aldebaran_batch_events";
    assert_eq!(p.bucket(events, 1.0), Some(0.0));
    assert_eq!(p.bucket(events, 4.0), Some(1.0));
    assert_eq!(p.bucket(events, 16.0), Some(2.0));
    assert_eq!(v("aldebaran_batch_events_sum"), Some(9.0));

    let duration = "aldebaran_batch_duration_seconds";
    assert_eq!(p.bucket(duration, 0.00005), Some(1.0));
    assert_eq!(p.bucket(duration, 2.5), Some(2.0));
    let sum = v("aldebaran_batch_duration_seconds_sum").unwrap_or_default();
    assert!((sum - 2.00003).abs() < 1e-9, "{sum}");
    assert_eq!(v("aldebaran_batch_durable_seconds_count"), Some(1.0));

    let e2e = "aldebaran_e2e_latency_seconds";
    assert_eq!(p.bucket(e2e, 0.000025), Some(2.0));
    assert_eq!(p.bucket(e2e, 10.0), Some(3.0));
    assert_eq!(p.bucket(e2e, f64::INFINITY), Some(4.0));
    assert_eq!(v("aldebaran_e2e_latency_seconds_count"), Some(4.0));
    let sum = v("aldebaran_e2e_latency_seconds_sum").unwrap_or_default();
    assert!((sum - 20.00304).abs() < 1e-9, "{sum}");

    assert_eq!(v("aldebaran_open_keys"), Some(4.0));
    assert_eq!(v("aldebaran_journal_bytes_total"), Some(150.0));
    assert_eq!(v("aldebaran_journal_fsyncs_total"), Some(1.0));
    assert_eq!(v("aldebaran_journal_fsync_seconds_count"), Some(1.0));
    assert_eq!(v("aldebaran_journal_oldest_seq"), Some(4097.0));
    assert_eq!(
        p.value("aldebaran_sink_lag", &[("sink", "kafka")]),
        Some(3.0)
    );
    assert_eq!(v("aldebaran_source_connected"), Some(1.0));
    assert_eq!(v("aldebaran_source_redelivered_total"), Some(2.0));
    assert_eq!(v("aldebaran_source_acked_total"), Some(9.0));
}

/// The source's connection and counters are read when scraped: a change
/// shows at the next scrape, with no batch in between.
#[test]
fn source_metrics_follow_the_source_without_batches() {
    let m = Metrics::new();
    let source = Arc::new(ingest::amqp::AmqpCounters::default());
    m.watch_source(Arc::clone(&source));
    let v = |m: &Metrics, name| value(&parsed(m), name);
    assert_eq!(v(&m, "aldebaran_source_connected"), Some(0.0));
    source.connected.store(1, Relaxed);
    assert_eq!(v(&m, "aldebaran_source_connected"), Some(1.0));
    source.acked.store(40, Relaxed);
    assert_eq!(v(&m, "aldebaran_source_acked_total"), Some(40.0));
    source.connected.store(0, Relaxed);
    assert_eq!(v(&m, "aldebaran_source_connected"), Some(0.0));
}

#[test]
fn sink_counters_and_lag_come_from_the_shippers() {
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
    let p = parsed(&m);
    let hook = |name| p.value(name, &[("sink", "hook")]);
    assert_eq!(hook("aldebaran_sink_lag"), Some(39.0));
    assert_eq!(hook("aldebaran_sink_delivered_total"), Some(60.0));
    assert_eq!(hook("aldebaran_sink_retried_total"), Some(3.0));
    assert_eq!(hook("aldebaran_sink_failed_total"), Some(1.0));
    assert_eq!(hook("aldebaran_sink_in_doubt_total"), Some(2.0));
    assert_eq!(hook("aldebaran_sink_up"), Some(1.0));
    assert_eq!(hook("aldebaran_sink_paused"), Some(0.0));
    // A paused sink is down, and says it is paused.
    st.set_paused(Some("HTTP 404: no such hook"));
    let p = parsed(&m);
    let hook = |name| p.value(name, &[("sink", "hook")]);
    assert_eq!(hook("aldebaran_sink_up"), Some(0.0));
    assert_eq!(hook("aldebaran_sink_paused"), Some(1.0));
    st.set_paused(None);
    let p = parsed(&m);
    let hook = |name| p.value(name, &[("sink", "hook")]);
    assert_eq!(hook("aldebaran_sink_up"), Some(1.0));
    assert_eq!(hook("aldebaran_sink_paused"), Some(0.0));
    // The lag follows the head without the shipper doing anything.
    durable.publish(170);
    let p = parsed(&m);
    assert_eq!(
        p.value("aldebaran_sink_lag", &[("sink", "hook")]),
        Some(109.0)
    );
}

#[test]
fn label_values_round_trip_through_escaping() {
    let m = Metrics::new();
    let odd = "a\"b\\c\nd";
    m.set_sink_lag("z", 1);
    m.set_sink_lag(odd, 2);
    let reason: &'static str = "say \"hi\"\\\n";
    m.record_batch(&BatchObservation {
        rejected: &[(reason, 5)],
        ..BatchObservation::default()
    });
    let p = parsed(&m);
    let sinks: Vec<String> = p
        .label_values("aldebaran_sink_lag", "sink")
        .iter()
        .map(|v| unescape(v))
        .collect();
    assert_eq!(sinks, [odd, "z"]);
    // As written on the wire: `\` → `\\`, `"` → `\"`, newline → `\n`.
    let escaped = r#"a\"b\\c\nd"#;
    assert_eq!(
        p.value("aldebaran_sink_lag", &[("sink", escaped)]),
        Some(2.0)
    );
    assert_eq!(p.value("aldebaran_sink_lag", &[("sink", "z")]), Some(1.0));
    let reasons = p.label_values("aldebaran_events_rejected_total", "reason");
    assert_eq!(
        reasons.iter().map(|r| unescape(r)).collect::<Vec<_>>(),
        [reason]
    );
}

#[test]
fn rejection_reasons_are_bounded() {
    let m = Metrics::new();
    let reasons: Vec<&'static str> = (0..LABEL_SLOTS + 3)
        .map(|i| &*format!("reason_{i:02}").leak())
        .collect();
    for &r in &reasons {
        m.record_batch(&BatchObservation {
            rejected: &[(r, 1)],
            ..BatchObservation::default()
        });
    }
    let p = parsed(&m);
    let seen = p.label_values("aldebaran_events_rejected_total", "reason");
    assert_eq!(seen.len(), LABEL_SLOTS + 1, "{seen:?}");
    assert!(seen.iter().any(|s| s == "_overflow"));
    let overflow = [("reason", "_overflow")];
    assert_eq!(
        p.value("aldebaran_events_rejected_total", &overflow),
        Some(3.0)
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
    let p = parsed(&m);
    let name = "aldebaran_events_rejected_total";
    assert_eq!(p.label_values(name, "reason"), reasons);
    for r in reasons {
        assert_eq!(p.value(name, &[("reason", r)]), Some(1000.0), "{r}");
    }
    assert_eq!(value(&p, "aldebaran_events_in_total"), Some(4000.0));
}
