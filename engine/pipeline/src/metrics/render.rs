//! The Prometheus text exposition format, version 0.0.4.
//!
//! One family is `# HELP`, `# TYPE`, then its samples; label values are
//! escaped (`\` → `\\`, `"` → `\"`, newline → `\n`).

use std::fmt::Write;

use super::histogram::Snapshot;
use super::histogram::Unit;

/// The `Content-Type` of what [`Exposition`] writes.
pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Accumulates families into one text body.
#[derive(Default)]
pub(super) struct Exposition {
    out: String,
}

impl Exposition {
    pub(super) fn finish(self) -> String {
        self.out
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// A family with one unlabelled sample; `kind` is `counter` or `gauge`.
    pub(super) fn single(&mut self, name: &str, help: &str, kind: &str, value: u64) {
        self.header(name, help, kind);
        let _ = writeln!(self.out, "{name} {value}");
    }

    /// A family with one sample per value of a single label.
    pub(super) fn labelled(
        &mut self,
        name: &str,
        help: &str,
        kind: &str,
        label: &str,
        samples: &[(String, u64)],
    ) {
        self.header(name, help, kind);
        for (value, n) in samples {
            let _ = write!(self.out, "{name}{{{label}=\"");
            escape_label_value(&mut self.out, value);
            let _ = writeln!(self.out, "\"}} {n}");
        }
    }

    /// A histogram family: cumulative `_bucket`s, then `_sum` and `_count`.
    pub(super) fn histogram(&mut self, name: &str, help: &str, unit: Unit, s: &Snapshot) {
        self.header(name, help, "histogram");
        for &(le, n) in &s.buckets {
            let _ = write!(self.out, "{name}_bucket{{le=\"");
            unit.write(&mut self.out, le);
            let _ = writeln!(self.out, "\"}} {n}");
        }
        let _ = writeln!(self.out, "{name}_bucket{{le=\"+Inf\"}} {}", s.count);
        let _ = write!(self.out, "{name}_sum ");
        unit.write(&mut self.out, s.sum);
        let _ = writeln!(self.out, "\n{name}_count {}", s.count);
    }
}

/// Appends `v` escaped as a label value (without the quotes).
pub(super) fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(v: &str) -> String {
        let mut s = String::new();
        escape_label_value(&mut s, v);
        s
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escaped("plain_reason"), "plain_reason");
        assert_eq!(escaped(r#"a"b"#), r#"a\"b"#);
        assert_eq!(escaped(r"c:\dir"), r"c:\\dir");
        assert_eq!(escaped("two\nlines"), r"two\nlines");
        assert_eq!(escaped("ünïcode"), "ünïcode");
    }

    #[test]
    fn single_and_labelled_families() {
        let mut e = Exposition::default();
        e.single("x_total", "Things.", "counter", 7);
        e.labelled(
            "y",
            "Lag.",
            "gauge",
            "sink",
            &[("a\"q".to_string(), 3), ("b".to_string(), 0)],
        );
        assert_eq!(
            e.finish(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 7\n\
             # HELP y Lag.\n# TYPE y gauge\ny{sink=\"a\\\"q\"} 3\ny{sink=\"b\"} 0\n"
        );
    }

    #[test]
    fn histogram_family() {
        let s = Snapshot {
            buckets: vec![(10_000, 1), (1_000_000_000, 3)],
            count: 4,
            sum: 3_500_000_000,
        };
        let mut e = Exposition::default();
        e.histogram("h_seconds", "Time.", Unit::Nanos, &s);
        assert_eq!(
            e.finish(),
            "# HELP h_seconds Time.\n# TYPE h_seconds histogram\n\
             h_seconds_bucket{le=\"0.00001\"} 1\n\
             h_seconds_bucket{le=\"1\"} 3\n\
             h_seconds_bucket{le=\"+Inf\"} 4\n\
             h_seconds_sum 3.5\n\
             h_seconds_count 4\n"
        );
    }
}
