//! Histogram bucket bounds, and the one histogram that is not
//! prometheus-client's: the per-event end-to-end latency.
//!
//! prometheus-client's `Histogram::observe` takes a mutex per call. That is
//! fine for the per-batch histograms (one observation per batch), but
//! [`Metrics::record_durable`](super::Metrics::record_durable) receives one
//! latency per event of the batch, so taking the lock per value would put a
//! lock in the per-event path. [`AtomicHistogram`] instead counts a batch's
//! values into a local array and publishes it with one `fetch_add` per
//! non-empty bucket; it reaches the registry through prometheus-client's
//! [`EncodeMetric`], which encodes it like any other histogram.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering::Relaxed},
};

use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder, NoLabelSet},
    metrics::MetricType,
};

/// Time bounds in nanoseconds: 10 µs to 10 s in a 1-2.5-5 series. They are
/// exposed in seconds (`ns as f64 / 1e9`, which rounds to the same `f64` as
/// the decimal literal, e.g. `0.000025`).
pub(super) const LATENCY_NS: [u64; 19] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Batch sizes in events: powers of four from 1 to 2^20.
pub(super) const BATCH_EVENTS: [u64; 11] = [
    1, 4, 16, 64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576,
];

/// Nanoseconds as the seconds the exposition uses.
pub(super) fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The latency bounds in seconds, for prometheus-client's `Histogram::new`.
pub(super) fn latency_bounds() -> impl Iterator<Item = f64> {
    LATENCY_NS.into_iter().map(seconds)
}

/// The batch-size bounds, for prometheus-client's `Histogram::new`.
pub(super) fn batch_events_bounds() -> impl Iterator<Item = f64> {
    BATCH_EVENTS.into_iter().map(|b| b as f64)
}

/// Buckets: one per bound of [`LATENCY_NS`], then `+Inf`.
const BUCKETS: usize = LATENCY_NS.len() + 1;

/// A lock-free histogram over [`LATENCY_NS`]: a fixed array of atomic
/// buckets, each counting its interval (not cumulatively) so a value costs one
/// add. Clones share the buckets, as prometheus-client's metrics do, so one
/// clone is registered and the other recorded into.
#[derive(Debug, Clone, Default)]
pub(super) struct AtomicHistogram {
    inner: Arc<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    counts: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// The bucket of `ns`: the first bound `>= ns` (Prometheus `le`), or `+Inf`
/// past the last.
fn index(ns: u64) -> usize {
    LATENCY_NS.partition_point(|&b| b < ns)
}

impl AtomicHistogram {
    /// Records a batch of nanosecond values: counted in a local array first,
    /// then published with one `fetch_add` per non-empty bucket.
    pub(super) fn observe_many(&self, values_ns: &[u64]) {
        if values_ns.is_empty() {
            return;
        }
        let mut local = [0u64; BUCKETS];
        let mut sum = 0u64;
        for &v in values_ns {
            local[index(v)] += 1;
            sum = sum.wrapping_add(v);
        }
        for (slot, &n) in self.inner.counts.iter().zip(&local) {
            if n != 0 {
                slot.fetch_add(n, Relaxed);
            }
        }
        self.inner.sum_ns.fetch_add(sum, Relaxed);
    }
}

impl EncodeMetric for AtomicHistogram {
    /// The buckets are read one by one, not as a whole: a scrape racing a
    /// batch may see part of it, as Prometheus allows. The count is the sum of
    /// the buckets read, so `+Inf` and `_count` always agree.
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets = [(f64::INFINITY, 0u64); BUCKETS];
        let mut count = 0u64;
        for (i, (bucket, slot)) in buckets.iter_mut().zip(&self.inner.counts).enumerate() {
            // prometheus-client wants per-bucket counts and accumulates them.
            let n = slot.load(Relaxed);
            count += n;
            if let Some(&le) = LATENCY_NS.get(i) {
                *bucket = (seconds(le), n);
            } else {
                bucket.1 = n;
            }
        }
        let sum = seconds(self.inner.sum_ns.load(Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::{metrics::histogram::Histogram, registry::Registry};

    use super::*;
    use crate::metrics::parsed::{Parsed, encode};

    #[test]
    fn value_on_a_bound_falls_in_that_bucket() {
        assert_eq!(index(0), 0);
        assert_eq!(index(10_000), 0);
        assert_eq!(index(10_001), 1);
        assert_eq!(index(25_000), 1);
        assert_eq!(index(10_000_000_000), LATENCY_NS.len() - 1);
        assert_eq!(index(10_000_000_001), LATENCY_NS.len());
        assert_eq!(index(u64::MAX), LATENCY_NS.len());
    }

    #[test]
    fn bounds_increase_and_span_10us_to_10s() {
        assert!(LATENCY_NS.windows(2).all(|w| w[0] < w[1]));
        assert!(BATCH_EVENTS.windows(2).all(|w| w[0] * 4 == w[1]));
        assert_eq!(seconds(LATENCY_NS[0]), 0.00001);
        assert_eq!(seconds(LATENCY_NS[1]), 0.000025);
        assert_eq!(seconds(LATENCY_NS[18]), 10.0);
    }

    /// The lock-free histogram counts exactly as prometheus-client's own with
    /// the same bounds, fed the same values one by one.
    #[test]
    fn counts_like_the_library_histogram() {
        let values: Vec<u64> = (0..1000u64).map(|i| i * i * 7_919).collect();
        let ours = AtomicHistogram::default();
        ours.observe_many(&values[..500]);
        ours.observe_many(&values[500..]);
        ours.observe_many(&[]);
        let theirs = Histogram::new(latency_bounds());
        for &v in &values {
            theirs.observe(seconds(v));
        }
        let mut r = Registry::default();
        r.register("ours", "Ours", ours);
        r.register("theirs", "Theirs", theirs);
        let p = Parsed::new(&encode(&r));
        assert_eq!(p.histogram("ours").len(), LATENCY_NS.len() + 1);
        assert_eq!(p.histogram("ours"), p.histogram("theirs"));
        assert_eq!(p.value("ours_count", &[]), Some(1000.0));
        assert_eq!(p.bucket("ours", f64::INFINITY), Some(1000.0));
        let (sum, theirs) = (p.value("ours_sum", &[]), p.value("theirs_sum", &[]));
        assert!(matches!((sum, theirs), (Some(a), Some(b)) if (a - b).abs() < 1e-6));
    }
}
