//! Counter families keyed by one label with a bounded set of values.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering::Relaxed},
};

use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder},
    metrics::{MetricType, counter::Counter, family::Family},
};

/// Label value that collects whatever arrives once a family is full.
pub(super) const OVERFLOW_LABEL: &str = "_overflow";

/// One label, name and value both static (rejection reasons and alert kinds
/// are `&'static str`), so looking a series up copies nothing.
type Label = [(&'static str, &'static str); 1];

/// A prometheus-client `Family` of counters whose label takes at most
/// `capacity` distinct values; past that everything is counted under
/// [`OVERFLOW_LABEL`], which keeps the series bounded even if a caller's
/// label set is not. Clones share the counters (one is registered).
#[derive(Debug, Clone)]
pub(super) struct BoundedCounters {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    family: Family<Label, Counter>,
    label: &'static str,
    capacity: usize,
    /// Distinct values with a series of their own (the family's `len` is
    /// only there for the library's tests). Held while a new value is checked
    /// against the bound and inserted, so racing callers cannot overshoot it;
    /// taken only the first time a value is seen (or for each overflowing
    /// update), never for a known value.
    distinct: Mutex<usize>,
    warned: AtomicBool,
}

impl BoundedCounters {
    pub(super) fn new(label: &'static str, capacity: usize) -> Self {
        BoundedCounters {
            inner: Arc::new(Inner {
                family: Family::default(),
                label,
                capacity,
                distinct: Mutex::new(0),
                warned: AtomicBool::new(false),
            }),
        }
    }

    /// Adds `n` to the series of `value`.
    pub(super) fn add(&self, value: &'static str, n: u64) {
        let inner = &*self.inner;
        let label = [(inner.label, value)];
        if let Some(counter) = inner.family.get(&label) {
            counter.inc_by(n);
            return;
        }
        // A panic cannot leave the count half-updated, so a poisoned lock's
        // value is as good as any.
        let mut distinct = inner
            .distinct
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let label = if inner.family.get(&label).is_some() {
            label // added by a racing caller since the look-up above
        } else if *distinct < inner.capacity {
            *distinct += 1;
            label
        } else {
            if !inner.warned.swap(true, Relaxed) {
                tracing::warn!(
                    label = inner.label,
                    value,
                    "metric label set full; counting as {OVERFLOW_LABEL}"
                );
            }
            [(inner.label, OVERFLOW_LABEL)]
        };
        inner.family.get_or_create(&label).inc_by(n);
    }
}

impl EncodeMetric for BoundedCounters {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.inner.family.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    /// Never empty, unlike a bare `Family`: the family's HELP and TYPE are
    /// exposed from the first scrape, before any value was counted.
    fn is_empty(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::metrics::parsed::{Parsed, encode};

    #[test]
    fn values_past_the_capacity_share_one_overflow_series() {
        let c = BoundedCounters::new("reason", 2);
        let mut r = Registry::default();
        r.register("x", "X", c.clone());
        for (value, n) in [("a", 1), ("b", 1), ("c", 1), ("d", 2), ("a", 1)] {
            c.add(value, n);
        }
        let p = Parsed::new(&encode(&r));
        assert_eq!(p.label_values("x_total", "reason"), ["_overflow", "a", "b"]);
        assert_eq!(p.value("x_total", &[("reason", "a")]), Some(2.0));
        assert_eq!(p.value("x_total", &[("reason", "b")]), Some(1.0));
        assert_eq!(p.value("x_total", &[("reason", OVERFLOW_LABEL)]), Some(3.0));
    }

    #[test]
    fn an_empty_family_is_still_described() {
        let mut r = Registry::default();
        r.register("x", "X", BoundedCounters::new("reason", 2));
        let p = Parsed::new(&encode(&r));
        assert_eq!(p.type_of("x"), Some(prometheus_parse::SampleType::Counter));
        assert_eq!(p.help("x"), Some("X."));
        assert!(p.label_values("x_total", "reason").is_empty());
    }
}
