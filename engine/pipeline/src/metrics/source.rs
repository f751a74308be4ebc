//! The three `aldebaran_source_*` families, read from the AMQP source's own
//! counters when a scrape asks (a prometheus-client `Collector`), so a
//! connection lost while no input flows shows at once instead of at the
//! next batch. Without an AMQP source (a file) they read 0.

use std::sync::{Arc, Mutex, PoisonError, atomic::Ordering::Relaxed};

use ingest::amqp::AmqpCounters;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};

/// The AMQP source's counters, once it started.
#[derive(Debug, Default)]
pub(super) struct Source {
    counters: Mutex<Option<Arc<AmqpCounters>>>,
}

impl Source {
    /// The source now (a pair's node starts one per active phase).
    pub(super) fn watch(&self, counters: Arc<AmqpCounters>) {
        *self.counters.lock().unwrap_or_else(PoisonError::into_inner) = Some(counters);
    }
}

impl Collector for Source {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let read = |f: fn(&AmqpCounters) -> u64| counters.as_ref().map_or(0, |c| f(c));
        let connected = read(|c| c.connected.load(Relaxed));
        ConstGauge::new(u64::from(connected == 1)).encode(encoder.encode_descriptor(
            "aldebaran_source_connected",
            "1 when the source is connected, else 0.",
            None,
            MetricType::Gauge,
        )?)?;
        for (name, help, value) in [
            (
                "aldebaran_source_redelivered",
                "Messages the source redelivered.",
                read(|c| c.redelivered.load(Relaxed)),
            ),
            (
                "aldebaran_source_acked",
                "Messages acknowledged to the source.",
                read(|c| c.acked.load(Relaxed)),
            ),
        ] {
            ConstCounter::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}
