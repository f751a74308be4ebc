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
    CursorMirror, DurableHead, InDoubtAction, ShipGate, ShipperExit, ShipperHandle, SinkConfig,
    spawn_shipper,
};

use crate::{
    Result,
    metrics::{Health, Metrics},
};

/// How often the shippers' progress is checked while waiting for them.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// A caught-up shipper sleeps until the journal's durable head moves, or at
/// most this long (it then checks for a stop request).
const SHIP_POLL: Duration = Duration::from_millis(20);

/// The running shippers.
pub(crate) struct Shippers {
    handles: Vec<ShipperHandle>,
    durable: Arc<DurableHead>,
}

impl Shippers {
    /// Starts one shipper per checked sink, each published to the metrics
    /// and watched by the health check.
    pub(crate) fn start(
        configs: Vec<SinkConfig>,
        journal_dir: &Path,
        durable: Arc<DurableHead>,
        metrics: &Metrics,
        health: &Health,
    ) -> Result<Self> {
        Self::start_with(configs, journal_dir, durable, metrics, health, None)
    }

    /// As [`Shippers::start`], for the active of a pair: every send passes
    /// `gate` (closed the moment the node may have lost its lease; its
    /// epoch goes on every alert) and every cursor write is mirrored to the
    /// standby first.
    pub(crate) fn start_fenced(
        configs: Vec<SinkConfig>,
        journal_dir: &Path,
        durable: Arc<DurableHead>,
        metrics: &Metrics,
        health: &Health,
        gate: Arc<ShipGate>,
        mirror: Arc<dyn CursorMirror>,
    ) -> Result<Self> {
        Self::start_with(
            configs,
            journal_dir,
            durable,
            metrics,
            health,
            Some((gate, mirror)),
        )
    }

    fn start_with(
        configs: Vec<SinkConfig>,
        journal_dir: &Path,
        durable: Arc<DurableHead>,
        metrics: &Metrics,
        health: &Health,
        pair: Option<(Arc<ShipGate>, Arc<dyn CursorMirror>)>,
    ) -> Result<Self> {
        let mut handles = Vec::new();
        for c in configs {
            let sink = c.open_sink()?;
            let mut spec = c.shipper_spec(journal_dir, Arc::clone(&durable));
            spec.poll_interval = SHIP_POLL;
            if let Some((gate, mirror)) = &pair {
                spec.gate = Some(Arc::clone(gate));
                spec.mirror = Some(Arc::clone(mirror));
            }
            let h = spawn_shipper(spec, sink)?;
            metrics.add_sink(h.stats());
            health.watch_sink(h.stats());
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
                    if let Some(reason) = &r.paused {
                        line.push_str(&format!(
                            "; PAUSED: its endpoint refuses every alert ({reason}); \
                             nothing was dead-lettered, the rest waits in the journal"
                        ));
                    }
                    if let Some(d) = &r.in_doubt {
                        let what = match d.action {
                            InDoubtAction::Resent => "sent again",
                            InDoubtAction::Skipped => "skipped",
                        };
                        line.push_str(&format!(
                            "; IN DOUBT ({}): {} {what}",
                            d.cause.as_str(),
                            d.describe()
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
