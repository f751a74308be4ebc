//! A fixed-bucket histogram of atomics with Prometheus `le` semantics.
//!
//! Buckets are stored per interval (not cumulative) so one observation is one
//! `fetch_add`; rendering accumulates them. Values are integers in a base unit
//! (nanoseconds or a plain count) and are rendered exactly, without floats.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Most finite bounds a histogram may have (the `+Inf` bucket comes on top).
const MAX_BOUNDS: usize = 32;

/// Time bounds in nanoseconds: 10 µs to 10 s in a 1-2.5-5 series.
pub(super) const LATENCY_NS: &[u64] = &[
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
pub(super) const BATCH_EVENTS: &[u64] = &[
    1, 4, 16, 64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576,
];

/// How a base-unit value is written in the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// A plain count, written as an integer.
    Count,
    /// Nanoseconds, written as seconds.
    Nanos,
}

impl Unit {
    /// Writes `v` (in this unit's base) as the exposition number.
    pub(super) fn write(self, out: &mut String, v: u64) {
        use std::fmt::Write;
        match self {
            Unit::Count => {
                let _ = write!(out, "{v}");
            }
            Unit::Nanos => {
                let (secs, frac) = (v / 1_000_000_000, v % 1_000_000_000);
                let _ = write!(out, "{secs}");
                if frac != 0 {
                    let digits = format!("{frac:09}");
                    out.push('.');
                    out.push_str(digits.trim_end_matches('0'));
                }
            }
        }
    }
}

/// Cumulative buckets and the sum, read at one moment (not atomically as a
/// whole: a scrape racing a batch may see part of it, as Prometheus allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    /// `(le, cumulative count)` per finite bound, in base units.
    pub(super) buckets: Vec<(u64, u64)>,
    /// Observations in all buckets (the `+Inf` bucket and `_count`).
    pub(super) count: u64,
    /// Sum of observations, in base units.
    pub(super) sum: u64,
}

pub(super) struct Histogram {
    bounds: &'static [u64],
    unit: Unit,
    /// One per finite bound, then `+Inf`.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    /// `bounds` must be strictly increasing and at most [`MAX_BOUNDS`] long.
    pub(super) fn new(bounds: &'static [u64], unit: Unit) -> Self {
        assert!(bounds.len() <= MAX_BOUNDS, "too many histogram bounds");
        assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "histogram bounds must increase"
        );
        Histogram {
            bounds,
            unit,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub(super) fn unit(&self) -> Unit {
        self.unit
    }

    /// The bucket of `v`: the first bound `>= v`, or `+Inf` past the last.
    fn index(&self, v: u64) -> usize {
        self.bounds.partition_point(|&b| b < v)
    }

    /// Records one value.
    pub(super) fn observe(&self, v: u64) {
        self.counts[self.index(v)].fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
    }

    /// Records many values in one pass: buckets are counted in a local array
    /// and published with one `fetch_add` per non-empty bucket.
    pub(super) fn observe_many(&self, values: &[u64]) {
        if values.is_empty() {
            return;
        }
        let mut local = [0u64; MAX_BOUNDS + 1];
        let mut sum = 0u64;
        for &v in values {
            local[self.index(v)] += 1;
            sum = sum.wrapping_add(v);
        }
        for (slot, &n) in self.counts.iter().zip(&local) {
            if n != 0 {
                slot.fetch_add(n, Relaxed);
            }
        }
        self.sum.fetch_add(sum, Relaxed);
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let mut acc = 0u64;
        let buckets = self
            .bounds
            .iter()
            .zip(self.counts.iter())
            .map(|(&le, c)| {
                acc += c.load(Relaxed);
                (le, acc)
            })
            .collect();
        let count = acc + self.counts[self.bounds.len()].load(Relaxed);
        Snapshot {
            buckets,
            count,
            sum: self.sum.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_on_a_bound_falls_in_that_bucket() {
        let h = Histogram::new(&[10, 20, 30], Unit::Count);
        assert_eq!(h.index(0), 0);
        assert_eq!(h.index(10), 0);
        assert_eq!(h.index(11), 1);
        assert_eq!(h.index(20), 1);
        assert_eq!(h.index(30), 2);
        assert_eq!(h.index(31), 3);
        assert_eq!(h.index(u64::MAX), 3);
    }

    #[test]
    fn snapshot_is_cumulative() {
        let h = Histogram::new(&[10, 20, 30], Unit::Count);
        for v in [5, 10, 15, 25, 100] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(10, 2), (20, 3), (30, 4)]);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum, 155);
    }

    #[test]
    fn observe_many_matches_observe() {
        let values: Vec<u64> = (0..1000u64).map(|i| i * i * 7_919).collect();
        let one = Histogram::new(LATENCY_NS, Unit::Nanos);
        let many = Histogram::new(LATENCY_NS, Unit::Nanos);
        for &v in &values {
            one.observe(v);
        }
        many.observe_many(&values[..500]);
        many.observe_many(&values[500..]);
        many.observe_many(&[]);
        assert_eq!(one.snapshot(), many.snapshot());
        assert_eq!(many.snapshot().count, 1000);
    }

    #[test]
    fn nanos_are_written_as_exact_seconds() {
        let w = |v| {
            let mut s = String::new();
            Unit::Nanos.write(&mut s, v);
            s
        };
        assert_eq!(w(0), "0");
        assert_eq!(w(10_000), "0.00001");
        assert_eq!(w(2_500_000), "0.0025");
        assert_eq!(w(1_000_000_000), "1");
        assert_eq!(w(2_500_000_000), "2.5");
        assert_eq!(w(12_000_000_001), "12.000000001");
        let mut s = String::new();
        Unit::Count.write(&mut s, 16_384);
        assert_eq!(s, "16384");
    }

    #[test]
    fn default_bounds_are_valid() {
        let _ = Histogram::new(LATENCY_NS, Unit::Nanos);
        let _ = Histogram::new(BATCH_EVENTS, Unit::Count);
        assert_eq!(LATENCY_NS.first(), Some(&10_000));
        assert_eq!(LATENCY_NS.last(), Some(&10_000_000_000));
    }
}
