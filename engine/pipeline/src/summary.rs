//! The end-of-run summary.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use super::latency::Percentiles;

/// What a replay did, printed at its end.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Non-blank input lines (accepted + rejected).
    pub events: u64,
    /// Events that passed SPEC §1.
    pub accepted: u64,
    /// Rejected lines by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Blank lines skipped.
    pub blank: u64,
    /// Each job's counters (duplicates, closed, …).
    pub counters: Vec<(&'static str, Vec<(&'static str, u64)>)>,
    /// Alerts by kind.
    pub alerts: BTreeMap<&'static str, u64>,
    /// Micro-batches processed.
    pub batches: u64,
    /// Wall time of the run.
    pub wall: Duration,
    /// Per-event latency, ingest to durable.
    pub latency: Percentiles,
    /// Per-event latency, ingest to the batch processed, its alerts handed
    /// to the journal thread (not yet written or durable).
    pub processing: Percentiles,
    /// The journal's fsyncs (group commits that synced).
    pub fsync: Percentiles,
    /// Most open books (live keys) after any batch.
    pub peak_open: u64,
    /// The journal directory and the seqs written (`first..next`).
    pub journal: PathBuf,
    /// First seq written by this run, if any.
    pub first_seq: Option<u64>,
    /// The journal's next seq after the run.
    pub next_seq: u64,
    /// fsync calls made.
    pub fsyncs: u64,
    /// Notes for the operator (e.g. a truncated journal tail).
    pub notes: Vec<String>,
}

impl Summary {
    /// Total rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// A counter of a job, 0 if absent.
    pub fn counter(&self, job: &str, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|(j, _)| *j == job)
            .flat_map(|(_, c)| c.iter())
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Events per second over the wall time.
    pub fn events_per_sec(&self) -> f64 {
        let s = self.wall.as_secs_f64();
        if s > 0.0 { self.events as f64 / s } else { 0.0 }
    }
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "events        {}", self.events)?;
        writeln!(f, "accepted      {}", self.accepted)?;
        write!(f, "rejected      {}", self.rejected_total())?;
        if !self.rejected.is_empty() {
            let parts: Vec<String> = self
                .rejected
                .iter()
                .map(|(r, n)| format!("{r}={n}"))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        writeln!(f)?;
        for (job, counters) in &self.counters {
            let parts: Vec<String> = counters.iter().map(|(n, v)| format!("{n}={v}")).collect();
            writeln!(f, "{job:<13} {}", parts.join(", "))?;
        }
        let alerts: u64 = self.alerts.values().sum();
        write!(f, "alerts        {alerts}")?;
        if !self.alerts.is_empty() {
            let parts: Vec<String> = self
                .alerts
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        writeln!(f)?;
        match self.first_seq {
            Some(first) => writeln!(
                f,
                "journal       {} (seq {}..={})",
                self.journal.display(),
                first,
                self.next_seq.saturating_sub(1)
            )?,
            None => writeln!(
                f,
                "journal       {} (nothing appended)",
                self.journal.display()
            )?,
        }
        writeln!(f, "batches       {} ({} fsyncs)", self.batches, self.fsyncs)?;
        writeln!(f, "wall time     {:.3} s", self.wall.as_secs_f64())?;
        writeln!(f, "events/s      {:.0}", self.events_per_sec())?;
        for (label, p) in [
            ("latency", &self.latency),
            ("processing", &self.processing),
            ("fsync", &self.fsync),
        ] {
            writeln!(
                f,
                "{label:<14}p50 {}  p99 {}  p99.9 {}  max {}",
                ms(p.p50),
                ms(p.p99),
                ms(p.p999),
                ms(p.max)
            )?;
        }
        write!(f, "peak open     {}", self.peak_open)?;
        for n in &self.notes {
            write!(f, "\nnote          {n}")?;
        }
        Ok(())
    }
}
