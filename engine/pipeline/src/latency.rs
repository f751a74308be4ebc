//! Latency distributions of a run, in hdrhistogram: per event from the
//! source's ingest stamp (a paced replay's due time) to its batch being
//! processed, its alerts made and handed to the journal (*processing*), and
//! to them being durable
//! (*durable*); and the journal's own fsyncs, the floor of the second.

use hdrhistogram::Histogram;

/// Latency percentiles in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

pub(crate) struct LatencyRecorder {
    hist: Option<Histogram<u64>>,
}

impl LatencyRecorder {
    pub(crate) fn new() -> Self {
        // 1 µs .. 1 h at 3 significant digits; fixed size, no resizing later.
        LatencyRecorder {
            hist: Histogram::new_with_bounds(1_000, 3_600_000_000_000, 3).ok(),
        }
    }

    /// Records every event of a batch done at `done_ns`.
    pub(crate) fn record_batch(&mut self, ingest_ns: &[u64], done_ns: u64) {
        if let Some(h) = self.hist.as_mut() {
            for &t in ingest_ns {
                h.saturating_record(done_ns.saturating_sub(t).max(1_000));
            }
        }
    }

    /// Records one duration.
    pub(crate) fn record(&mut self, ns: u64) {
        if let Some(h) = self.hist.as_mut() {
            h.saturating_record(ns.max(1_000));
        }
    }

    pub(crate) fn percentiles(&self) -> Percentiles {
        match &self.hist {
            Some(h) if !h.is_empty() => Percentiles {
                p50: h.value_at_quantile(0.5),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            },
            _ => Percentiles::default(),
        }
    }
}
