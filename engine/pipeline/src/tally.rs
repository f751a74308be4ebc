//! What the engine thread counts per micro-batch: the summary's totals, the
//! progress, the batch's stats row and its one metrics update. Counting
//! happens in locals here; metrics are touched once per batch. (The
//! source's own counters are not copied here: the metrics read them at
//! scrape time, so they move when the source does, batches or not.)

use std::sync::Arc;

use columnar::TradeBatch;
use engine_core::Alert;

use crate::{
    Progress, Summary,
    metrics::{BatchObservation, Metrics},
    stats::BatchStats,
};

/// The engine thread's running counts.
pub(crate) struct Tally {
    pub(crate) summary: Summary,
    pub(crate) progress: Progress,
    pub(crate) batches: u64,
    metrics: Option<Arc<Metrics>>,
    rejected_by: Vec<(&'static str, u64)>,
    alerts_by: Vec<(&'static str, u64)>,
}

/// The timings of one batch.
pub(crate) struct BatchTimes {
    pub(crate) cut_at_ns: u64,
    pub(crate) cut_ns: u64,
    pub(crate) process_ns: u64,
}

/// Adds `n` to the count of `key` in a short list (a handful of reasons or
/// kinds: a scan beats a map and allocates nothing once they were seen).
fn bump(list: &mut Vec<(&'static str, u64)>, key: &'static str, n: u64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v += n,
        None => list.push((key, n)),
    }
}

impl Tally {
    pub(crate) fn new(
        summary: Summary,
        total_bytes: Option<u64>,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Tally {
            summary,
            progress: Progress {
                total: total_bytes,
                ..Progress::default()
            },
            batches: 0,
            metrics,
            rejected_by: Vec::new(),
            alerts_by: Vec::new(),
        }
    }

    /// Counts one processed batch with its alerts; returns its stats row.
    pub(crate) fn batch(
        &mut self,
        batch: &TradeBatch,
        alerts: &[Alert],
        open_keys: u64,
        processed_to: Option<u64>,
        t: BatchTimes,
    ) -> BatchStats {
        self.batches += 1;
        let dead = batch.dead_letters();
        self.rejected_by.clear();
        for d in dead.iter() {
            let r = d.reason.as_str();
            *self.summary.rejected.entry(r).or_default() += 1;
            bump(&mut self.rejected_by, r, 1);
        }
        self.summary.accepted += batch.len() as u64;
        self.summary.blank += batch.skipped_blank();
        self.summary.peak_open = self.summary.peak_open.max(open_keys);
        let events_in = (batch.len() + dead.len()) as u64;
        self.progress.events += events_in;
        self.progress.alerts += alerts.len() as u64;
        // Per batch, so the bar moves with the engine, smoothly on a small
        // file too (a position of a line, not a read-ahead in 1 MiB steps).
        if let Some(at) = processed_to {
            self.progress.bytes = self.progress.bytes.max(at);
        }
        if let Some(m) = &self.metrics {
            self.alerts_by.clear();
            for a in alerts {
                bump(&mut self.alerts_by, a.kind, 1);
            }
            m.record_batch(&BatchObservation {
                events_in,
                accepted: batch.len() as u64,
                rejected: &self.rejected_by,
                alerts: &self.alerts_by,
                batch_events: batch.len() as u64,
                process_ns: t.process_ns,
                open_keys,
            });
        }
        BatchStats {
            batch: self.batches,
            cut_at_ns: t.cut_at_ns,
            events: batch.len() as u64,
            rejected: dead.len() as u64,
            alerts: alerts.len() as u64,
            open_books: open_keys,
            cut_ns: t.cut_ns,
            process_ns: t.process_ns,
            journal_ns: 0,
        }
    }

    /// The stats row of the last job of a run (the drain and last
    /// checkpoint), which carries no input.
    pub(crate) fn last(&mut self, cut_at_ns: u64, alerts: u64) -> BatchStats {
        self.batches += 1;
        BatchStats {
            batch: self.batches,
            cut_at_ns,
            alerts,
            ..BatchStats::default()
        }
    }
}
