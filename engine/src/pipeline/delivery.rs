//! The sink shippers of `aldebaran run`: one per `[sinks.<name>]`, each on
//! its own thread reading the journal up to the durable head, so a slow or
//! dead sink never holds up ingest or the other sinks.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alerts::delivery::{
    AlertField, AlertFields, DurableHead, InDoubtAction, ShipperExit, ShipperHandle, SinkConfig,
    spawn_shipper,
};

use crate::{
    Result,
    config::Config,
    jobs::{exposure, overfill},
    metrics::Metrics,
};

/// How often the shippers' progress is checked while waiting for them.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// A caught-up shipper sleeps until the journal's durable head moves, or at
/// most this long (it then checks for a stop request).
const SHIP_POLL: Duration = Duration::from_millis(20);

/// The fields the alert records of the jobs in `jobs` (`"overfill,exposure"`)
/// can have, which the sinks' `{field}` templates may use (see the jobs'
/// `record.rs`). A name that is not a job adds nothing: `add_jobs` reports it.
pub fn alert_fields(jobs: &str) -> AlertFields {
    const OVERFILL: &[AlertField] = &[
        AlertField::new(
            "order_id",
            "string",
            "the order (its purchase request's id)",
        ),
        AlertField::new("client", "string", "the order's client"),
        AlertField::new("stock", "string", "the order's stock"),
        AlertField::new(
            "requested",
            "integer or null",
            "shares requested; null for an orphan",
        ),
        AlertField::new("filled", "integer", "shares purchased"),
        AlertField::new(
            "trigger_id",
            "string or null",
            "the event that crossed; null for an orphan",
        ),
        AlertField::new(
            "event_ts",
            "integer or null",
            "the trigger's event time (ms), if it had one",
        ),
        AlertField::new("detected_at", "integer", "wall clock at detection (ns)"),
    ];
    const EXPOSURE: &[AlertField] = &[
        AlertField::new("client", "string", "the client"),
        AlertField::new("stock", "string", "the stock"),
        AlertField::new("limit", "integer", "the client's limit, shares per window"),
        AlertField::new("exposure", "integer", "shares purchased in the window"),
        AlertField::new("window_ms", "integer", "the window's length (ms)"),
        AlertField::new("window_start", "integer", "the window's start (clock, ms)"),
        AlertField::new(
            "window_end",
            "integer",
            "the window's end: the clock at detection (ms)",
        ),
        AlertField::new(
            "order_id",
            "string",
            "the order of the purchase that crossed",
        ),
        AlertField::new("trigger_id", "string", "the purchase that crossed"),
        AlertField::new(
            "event_ts",
            "integer or null",
            "its event time (ms), if it had one",
        ),
        AlertField::new("detected_at", "integer", "wall clock at detection (ns)"),
    ];
    jobs.split(',')
        .map(str::trim)
        .fold(AlertFields::new(), |fields, job| match job {
            overfill::NAME => fields.with_job(overfill::NAME, OVERFILL),
            exposure::NAME => fields.with_job(exposure::NAME, EXPOSURE),
            _ => fields,
        })
}

/// The running shippers.
pub(crate) struct Shippers {
    handles: Vec<ShipperHandle>,
    durable: Arc<DurableHead>,
}

impl Shippers {
    /// Checks every sink's config (call before opening any output, so a typo
    /// stops the start cleanly).
    pub(crate) fn check(cfg: &Config) -> Result<Vec<SinkConfig>> {
        Ok(SinkConfig::all_from_toml(
            &cfg.sinks,
            &alert_fields(&cfg.job),
        )?)
    }

    /// Starts one shipper per checked sink.
    pub(crate) fn start(
        configs: Vec<SinkConfig>,
        journal_dir: &Path,
        durable: Arc<DurableHead>,
        metrics: &Metrics,
    ) -> Result<Self> {
        let mut handles = Vec::new();
        for c in configs {
            let sink = c.open_sink()?;
            let mut spec = c.shipper_spec(journal_dir, Arc::clone(&durable));
            spec.poll_interval = SHIP_POLL;
            let h = spawn_shipper(spec, sink)?;
            metrics.add_sink(h.stats());
            tracing::info!(sink = %c.name, kind = c.kind(), mode = c.mode.as_str(), "shipper started");
            handles.push(h);
        }
        metrics.set_durable_seq_source(Arc::clone(&durable));
        Ok(Shippers { handles, durable })
    }

    /// Blocks until every running sink has delivered through the durable
    /// head, or `stop` is set.
    pub(crate) fn wait_caught_up(&self, stop: &AtomicBool) {
        loop {
            let head = self.durable.get();
            let behind = self
                .handles
                .iter()
                .any(|h| h.is_running() && h.stats().cursor.load(Ordering::Acquire) < head);
            if !behind || stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// Asks every shipper to deliver what is durable now, then stop, giving
    /// up after `grace`.
    pub(crate) fn finish_within(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for h in &self.handles {
            h.finish(deadline);
        }
    }

    /// Waits for the shippers; returns one summary line per sink.
    pub(crate) fn join(self) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        let mut first_err = None;
        for h in self.handles {
            match h.join() {
                Ok(r) => {
                    let mut line = format!(
                        "sink {} ({}, {}): delivered {}, retried {}, failed {}, cursor at seq {}",
                        r.name,
                        r.kind,
                        r.mode.as_str(),
                        r.delivered,
                        r.retried,
                        r.failed,
                        r.cursor
                    );
                    if let ShipperExit::Deadline { behind } = r.exit {
                        line.push_str(&format!(
                            "; {behind} left for the next start (shutdown grace over)"
                        ));
                    }
                    if let Some(d) = &r.in_doubt {
                        let what = match d.action {
                            InDoubtAction::Resent => "sent again",
                            InDoubtAction::Skipped => "skipped",
                        };
                        line.push_str(&format!(
                            "; IN DOUBT after a crash: seq {}..={} ({} records) {what}",
                            d.from,
                            d.to,
                            d.records()
                        ));
                    }
                    notes.push(line);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a shipper failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e.into()),
            None => Ok(notes),
        }
    }
}
