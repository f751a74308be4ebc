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

    /// Records every event of a batch done at `done_ns`. The source reads
    /// its clock once per run of events (`ingest::clock`), so equal stamps
    /// come in runs: each run is one record of its count, not one per event.
    pub(crate) fn record_batch(&mut self, ingest_ns: &[u64], done_ns: u64) {
        let Some(h) = self.hist.as_mut() else {
            return;
        };
        for run in ingest_ns.chunk_by(|a, b| a == b) {
            h.saturating_record_n(done_ns.saturating_sub(run[0]).max(1_000), run.len() as u64);
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Runs of equal stamps recorded at once give the histogram that
        /// recording each event does.
        #[test]
        fn a_batch_records_what_each_event_would(
            runs in proptest::collection::vec((0u64..5_000_000, 1usize..100), 0..50),
            done in 0u64..10_000_000,
        ) {
            let stamps: Vec<u64> = runs
                .iter()
                .flat_map(|&(t, n)| std::iter::repeat_n(t, n))
                .collect();
            let mut batch = LatencyRecorder::new();
            batch.record_batch(&stamps, done);
            let mut each = LatencyRecorder::new();
            for &t in &stamps {
                each.record(done.saturating_sub(t));
            }
            let (a, b) = (batch.hist.expect("a histogram"), each.hist.expect("a histogram"));
            prop_assert_eq!(a.len(), stamps.len() as u64);
            prop_assert_eq!(a, b);
        }
    }
}
