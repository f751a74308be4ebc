//! Test helper: an exposition read back with `prometheus-parse`, so tests
//! assert on sample values, types and labels rather than on bytes.
//!
//! Nothing is stripped before parsing: the parser already skips the
//! OpenMetrics-only lines (`# UNIT`, `# EOF`) as comments. Two gaps of that
//! parser (written for the 0.0.4 text format) are bridged here instead:
//! - OpenMetrics names a counter family without `_total` (`# TYPE x counter`,
//!   sample `x_total`), so the parser, which matches `TYPE` to sample names,
//!   leaves counter samples untyped. Types are therefore read per family from
//!   the `TYPE` lines, with the parser's own line parser ([`LineInfo`]).
//! - It returns label values as written, still escaped; [`unescape`] undoes
//!   the exposition's escapes for the round-trip test.

use std::collections::HashMap;

use prometheus_client::registry::Registry;
use prometheus_parse::{LineInfo, SampleType, Scrape, Value};

/// The OpenMetrics text of `registry`.
pub(super) fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    assert!(prometheus_client::encoding::text::encode(&mut out, registry).is_ok());
    out
}

pub(super) struct Parsed {
    scrape: Scrape,
    /// Family name → type, from the `# TYPE` lines.
    types: HashMap<String, SampleType>,
}

impl Parsed {
    pub(super) fn new(text: &str) -> Self {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = Scrape::parse(lines).unwrap_or_else(|e| panic!("{e}: {text}"));
        let types = text
            .lines()
            .filter_map(|l| match LineInfo::parse(l) {
                LineInfo::Type {
                    metric_name,
                    metric_alias,
                    sample_type,
                } => Some((metric_alias.unwrap_or(metric_name), sample_type)),
                _ => None,
            })
            .collect();
        Parsed { scrape, types }
    }

    /// The type declared for a family.
    pub(super) fn type_of(&self, family: &str) -> Option<SampleType> {
        self.types.get(family).copied()
    }

    /// The HELP text of a family.
    pub(super) fn help(&self, family: &str) -> Option<&str> {
        self.scrape.docs.get(family).map(String::as_str)
    }

    /// The value of the sample `name` whose labels are exactly `labels`
    /// (label values as written, escaped). Not for histogram buckets.
    pub(super) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.scrape.samples.iter().filter(|s| {
            s.metric == name
                && s.labels.len() == labels.len()
                && labels.iter().all(|&(k, v)| s.labels.get(k) == Some(v))
        });
        let sample = found.next()?;
        assert!(found.next().is_none(), "{name} {labels:?} appears twice");
        match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            Value::Histogram(_) | Value::Summary(_) => None,
        }
    }

    /// The values of `label` across the samples of `name`, sorted.
    pub(super) fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter_map(|s| s.labels.get(label).map(str::to_string))
            .collect();
        values.sort_unstable();
        values
    }

    /// A histogram's `(le, cumulative count)` pairs, `+Inf` last.
    pub(super) fn histogram(&self, family: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .scrape
            .samples
            .iter()
            .filter(|s| s.metric == family)
            .flat_map(|s| match &s.value {
                Value::Histogram(h) => h.iter().map(|b| (b.less_than, b.count)).collect(),
                _ => Vec::new(),
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The cumulative count of a histogram's bucket `le`.
    pub(super) fn bucket(&self, family: &str, le: f64) -> Option<f64> {
        self.histogram(family)
            .into_iter()
            .find_map(|(b, n)| (b == le).then_some(n))
    }
}

/// Undoes the exposition's label-value escapes (`\\`, `\"`, `\n`).
pub(super) fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
