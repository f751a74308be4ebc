//! The seven `aldebaran_sink_*` families, read from the shippers' own counters
//! when a scrape asks (a prometheus-client `Collector`), so no delivery path
//! ever updates a metric.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError, atomic::Ordering::Relaxed},
};

use alerts::delivery::{DurableHead, SinkStats};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};

use super::labels::OVERFLOW_LABEL;

/// Most sinks with a series of their own; the rest share [`OVERFLOW_LABEL`].
const SINK_SLOTS: usize = 16;

/// The lag family; its values fold by maximum (the worst lag shows).
const LAG: (&str, &str) = (
    "aldebaran_sink_lag",
    "Journal records a sink's delivery cursor is behind the head.",
);

/// A family read straight from each shipper's [`SinkStats`].
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    read: fn(&SinkStats) -> u64,
    /// How sinks past [`SINK_SLOTS`] combine into the overflow series.
    fold: fn(u64, u64) -> u64,
}

const FAMILIES: [Family; 6] = [
    Family {
        name: "aldebaran_sink_delivered",
        help: "Alerts a sink confirmed (this run).",
        kind: MetricType::Counter,
        read: |s| s.delivered.load(Relaxed),
        fold: u64::saturating_add,
    },
    Family {
        name: "aldebaran_sink_retried",
        help: "Transient send failures, each retried after a back-off.",
        kind: MetricType::Counter,
        read: |s| s.retried.load(Relaxed),
        fold: u64::saturating_add,
    },
    Family {
        name: "aldebaran_sink_failed",
        help: "Alerts dead-lettered after a permanent failure.",
        kind: MetricType::Counter,
        read: |s| s.failed.load(Relaxed),
        fold: u64::saturating_add,
    },
    Family {
        name: "aldebaran_sink_in_doubt",
        help: "Alerts whose send a crash interrupted, found at start.",
        kind: MetricType::Counter,
        read: |s| s.in_doubt.load(Relaxed),
        fold: u64::saturating_add,
    },
    Family {
        name: "aldebaran_sink_up",
        help: "1 while the sink's shipper runs and its endpoint accepts; 0 while paused or once stopped on an error.",
        kind: MetricType::Gauge,
        read: |s| u64::from(s.running.load(Relaxed) && s.paused().is_none()),
        // 0 if any overflowing sink is down.
        fold: u64::min,
    },
    Family {
        name: "aldebaran_sink_paused",
        help: "1 while the sink is paused because its endpoint refuses every alert (wrong URL or credentials), else 0.",
        kind: MetricType::Gauge,
        read: |s| u64::from(s.paused().is_some()),
        // 1 if any overflowing sink is paused.
        fold: u64::max,
    },
];

/// The shippers' counters and the journal head their lag is measured from.
#[derive(Debug, Default)]
pub(super) struct Sinks {
    shippers: Mutex<Vec<Arc<SinkStats>>>,
    durable: Mutex<Option<Arc<DurableHead>>>,
    /// Lags set with `Metrics::set_sink_lag`; a shipper's own lag of the
    /// same name takes precedence.
    set_lags: Mutex<BTreeMap<String, u64>>,
}

impl Sinks {
    pub(super) fn add(&self, stats: Arc<SinkStats>) {
        let mut s = lock(&self.shippers);
        // A pair's node starts its shippers again in each active phase.
        s.retain(|old| old.name != stats.name);
        s.push(stats);
    }

    /// The journal's durable head now (a pair's node has one per active
    /// phase).
    pub(super) fn set_durable(&self, durable: Arc<DurableHead>) {
        *lock(&self.durable) = Some(durable);
    }

    pub(super) fn set_lag(&self, sink: &str, lag: u64) {
        lock(&self.set_lags).insert(sink.to_string(), lag);
    }
}

/// Neither lock guards an invariant a panic could break (a list and a map
/// of plain values), so a poisoned one is used as it is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Collector for Sinks {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let head = lock(&self.durable).as_ref().map_or(0, |d| d.get());
        let set_lags = lock(&self.set_lags);
        let shippers = lock(&self.shippers);
        let mut lags: BTreeMap<&str, u64> = set_lags.iter().map(|(k, &v)| (&**k, v)).collect();
        for s in shippers.iter() {
            let lag = head.saturating_sub(s.cursor.load(Relaxed));
            lags.insert(&s.name, lag);
        }
        let rows = bounded(lags, u64::max);
        write(&mut encoder, LAG.0, LAG.1, MetricType::Gauge, &rows)?;
        for f in &FAMILIES {
            let values = shippers.iter().map(|s| (&*s.name, (f.read)(s))).collect();
            write(
                &mut encoder,
                f.name,
                f.help,
                f.kind,
                &bounded(values, f.fold),
            )?;
        }
        Ok(())
    }
}

/// The first [`SINK_SLOTS`] sinks by name, then the rest folded into one
/// [`OVERFLOW_LABEL`] row.
fn bounded(values: BTreeMap<&str, u64>, fold: fn(u64, u64) -> u64) -> Vec<(&str, u64)> {
    let mut rows: Vec<(&str, u64)> = values.into_iter().collect();
    if rows.len() > SINK_SLOTS {
        let rest = rows.split_off(SINK_SLOTS);
        let folded = rest.into_iter().map(|(_, v)| v).reduce(fold);
        rows.extend(folded.map(|v| (OVERFLOW_LABEL, v)));
    }
    rows
}

/// One family, described even when it has no sink yet.
fn write(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for &(sink, v) in rows {
        let label = [("sink", sink)];
        let series = metric.encode_family(&label)?;
        match kind {
            MetricType::Counter => ConstCounter::new(v).encode(series)?,
            _ => ConstGauge::new(v).encode(series)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alerts::delivery::DeliveryMode;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::metrics::parsed::{Parsed, encode};

    #[test]
    fn sinks_past_the_slots_fold_into_one_overflow_series() {
        let sinks = Arc::new(Sinks::default());
        let mut r = Registry::default();
        r.register_collector(Box::new(Arc::clone(&sinks)));
        sinks.set_durable(Arc::new(DurableHead::new(100)));
        for i in 0..SINK_SLOTS + 2 {
            let st = Arc::new(SinkStats::named(
                &format!("s{i:02}"),
                "http",
                DeliveryMode::AtLeastOnce,
            ));
            st.delivered.store(10, Relaxed);
            st.cursor.store(i as u64, Relaxed);
            st.running.store(i != SINK_SLOTS, Relaxed);
            sinks.add(st);
        }
        let p = Parsed::new(&encode(&r));
        let names = p.label_values("aldebaran_sink_delivered_total", "sink");
        assert_eq!(names.len(), SINK_SLOTS + 1, "{names:?}");
        assert_eq!(names.first().map(String::as_str), Some(OVERFLOW_LABEL));
        let overflow = [("sink", OVERFLOW_LABEL)];
        assert_eq!(
            p.value("aldebaran_sink_delivered_total", &overflow),
            Some(20.0)
        );
        // s16 (cursor 16) and s17 (cursor 17) overflow: the worst lag shows,
        // and the family is down because s16 is.
        assert_eq!(p.value("aldebaran_sink_lag", &overflow), Some(84.0));
        assert_eq!(p.value("aldebaran_sink_up", &overflow), Some(0.0));
        assert_eq!(p.value("aldebaran_sink_up", &[("sink", "s15")]), Some(1.0));
        assert_eq!(p.value("aldebaran_sink_paused", &overflow), Some(0.0));
    }
}
