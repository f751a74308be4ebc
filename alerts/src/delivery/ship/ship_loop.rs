//! One shipper's loop: start (in-doubt range, sink recovery), then read the
//! journal up to the durable head, batch, mark in flight, send, settle.
//!
//! Cursor protocol per send: persist `{delivered, in_flight_to = last}`
//! *before* `Sink::send` (one fdatasync). Its success is recorded by the
//! next send's in-flight write, or — when nothing new arrived for a poll
//! interval, before a back-off, or at a stop — by a write of its own: one fdatasync per send instead of two,
//! which halves the cost of one-alert-per-send sinks (HTTP, command, SMTP).
//! A crash before that record leaves the last send in doubt, exactly as a
//! crash during it would: the next start reports the range and resends or
//! skips it per the mode.
//!
//! Fencing (SPEC §6), when the spec has a ship gate: the gate is looked at
//! twice per send. Before the in-flight mark: while it is closed, no range
//! is marked and the shipper waits (recording the deliveries it has not
//! recorded yet, so a successor starts after them), still answering stop
//! and finish requests. And after the mark and its mirroring, right before
//! `Sink::send`: the mark (and the mirror waiting for the standby) takes
//! time, in which the gate may have closed. If it did, the send does not
//! happen; the shipper waits with the range recorded in flight, and since
//! the standby already holds that mark, a successor that takes over
//! reports the range as in doubt and resends or skips it per the mode
//! (this shipper cannot know whether a successor took over, so it never
//! clears the mark). When the gate opens again the mark is mirrored once
//! more (the standby may have changed meanwhile) and the gate checked
//! again. The records carry the epoch of the pass taken at that last check.
//!
//! What a failed send leads to, by its [`SendError`]: `Transient` backs off
//! (doubling) and resends; `Permanent` dead-letters that one record and moves
//! on; `EndpointDown` pauses the sink (the records wait, nothing is
//! dead-lettered, the endpoint is retried at `retry_max`) until a send ends
//! any other way.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::delivery::ship::control::Control;
use crate::delivery::ship::cursor::{CursorFile, CursorState};
use crate::delivery::ship::fence::Fence;
use crate::delivery::ship::gate::Pass;
use crate::delivery::ship::plan::{
    IN_DOUBT_IDS, InDoubt, InDoubtAction, InDoubtCause, apply_recovered, backoff, pause_wait,
    plan_start,
};
use crate::delivery::ship::record::{
    alert_id, append_dead_letter, dead_letter_line, raw_record, to_outgoing,
};
use crate::delivery::ship::report::{ShipperExit, ShipperReport};
use crate::delivery::ship::spec::ShipperSpec;
use crate::delivery::ship::stats::SinkStats;
use crate::delivery::sink::{Outgoing, SendError, SendFailure, Sink};
use crate::error::Result;
use crate::reader::JournalReader;

/// The journal could not be read just now (already logged); the reader is
/// reopened at the same seq after a back-off.
struct Unreadable;

pub(crate) struct Shipper {
    spec: ShipperSpec,
    sink: Box<dyn Sink>,
    cursor: CursorFile,
    stats: Arc<SinkStats>,
    control: Arc<Control>,
    /// The ship gate, as this shipper sees it.
    fence: Fence,
    reader: Option<JournalReader>,
    /// The seq the reader yields next.
    next_read: u64,
    /// A record read but not batched yet (it must go alone to dead-letter).
    peeked: Option<(u64, Vec<u8>)>,
    /// Records read, not yet delivered; kept across retries.
    batch: Vec<Outgoing>,
    /// Consecutive transient failures (sink or journal), for the back-off.
    failures: u32,
    /// Consecutive sends the endpoint refused as a whole (the pause).
    refusals: u32,
    /// When the current pause began.
    paused_since: Option<Instant>,
    in_doubt: Option<InDoubt>,
    /// Delivered through this seq, not yet recorded on disk (see the module
    /// docs).
    unrecorded: Option<u64>,
}

impl Shipper {
    pub(crate) fn new(
        spec: ShipperSpec,
        sink: Box<dyn Sink>,
        cursor: CursorFile,
        stats: Arc<SinkStats>,
        control: Arc<Control>,
    ) -> Self {
        let fence = Fence::new(spec.gate.clone(), Arc::clone(&stats));
        Self {
            spec,
            sink,
            cursor,
            stats,
            control,
            fence,
            reader: None,
            next_read: 1,
            peeked: None,
            batch: Vec::new(),
            failures: 0,
            refusals: 0,
            paused_since: None,
            in_doubt: None,
            unrecorded: None,
        }
    }

    pub(crate) fn run(mut self) -> Result<ShipperReport> {
        let result = self.start().and_then(|stopped| match stopped {
            Some(exit) => Ok(exit),
            None => self.ship(),
        });
        match result {
            Ok(exit) => Ok(self.report(exit)),
            Err(e) => {
                tracing::error!(
                    sink = %self.spec.name,
                    error = %e,
                    "shipper stopped: cannot record progress",
                );
                self.stats.set_error(&e.to_string());
                Err(e)
            }
        }
    }

    fn delivered(&self) -> u64 {
        self.unrecorded.unwrap_or(self.cursor.state().delivered)
    }

    /// Records a delivery the next send would otherwise record.
    fn record_delivered(&mut self) -> Result<()> {
        if let Some(seq) = self.unrecorded.take() {
            self.store_cursor(CursorState::settled(seq))?;
        }
        Ok(())
    }

    /// Durably records `state` in the cursor file, then tells the mirror.
    fn store_cursor(&mut self, state: CursorState) -> Result<()> {
        self.cursor.store(state)?;
        self.mirror_cursor();
        Ok(())
    }

    /// Hands the cursor file as it is on disk to the mirror, if any (which
    /// may block until the standby has it).
    fn mirror_cursor(&self) {
        if let Some(mirror) = &self.spec.mirror {
            mirror.written(self.cursor.rel_path(), self.cursor.bytes());
        }
    }

    /// Handles the cursor found on disk and the sink's own view. Returns an
    /// exit if asked to stop while the sink's recovery kept failing.
    fn start(&mut self) -> Result<Option<ShipperExit>> {
        let found = self.cursor.state();
        let plan = plan_start(found, self.spec.mode);
        if let Some((from, to, action)) = plan.in_doubt {
            let in_doubt = self.in_doubt(from, to, action);
            log_in_doubt(&self.spec.name, &in_doubt);
            SinkStats::add(&self.stats.in_doubt, in_doubt.records());
            self.in_doubt = Some(in_doubt);
        }
        if let Some(state) = plan.store {
            self.store_cursor(state)?;
        }
        let held = loop {
            if let Some(exit) = self.exit_requested() {
                return Ok(Some(exit));
            }
            match self.sink.recover() {
                Ok(held) => break held,
                // Even "permanent": the sink cannot start, and skipping
                // records for that would lose them; an operator fixes it.
                Err(
                    SendError::Transient(reason)
                    | SendError::Permanent(reason)
                    | SendError::EndpointDown(reason),
                ) => {
                    SinkStats::add(&self.stats.retried, 1);
                    self.back_off("sink recovery failed", &reason);
                }
            }
        };
        self.failures = 0;
        if let Some(held) = apply_recovered(plan.delivered, held) {
            tracing::info!(
                sink = %self.spec.name,
                cursor = plan.delivered,
                held,
                "sink already holds records past the cursor; resuming after them",
            );
            let in_flight_to = held.max(self.cursor.state().in_flight_to);
            self.store_cursor(CursorState {
                delivered: held,
                in_flight_to,
            })?;
        } else if let Some(held) = held.filter(|&h| h < plan.delivered) {
            tracing::warn!(
                sink = %self.spec.name,
                cursor = plan.delivered,
                held,
                "sink holds less than the cursor says was delivered; not resending",
            );
        }
        self.publish_cursor();
        self.next_read = self.delivered() + 1;
        Ok(None)
    }

    fn ship(&mut self) -> Result<ShipperExit> {
        loop {
            if let Some(exit) = self.exit_requested() {
                self.record_delivered()?;
                return Ok(exit);
            }
            // Keeps `SinkStats::fenced` current while caught up too; the
            // pass itself is taken again right before the mark.
            let _pass = self.fence.look();
            let mut limit = self.spec.durable.get();
            if let Some((target, _)) = self.control.command().finish {
                limit = limit.min(target);
            }
            if self.batch.is_empty() {
                let read_failed = self.fill(limit)?;
                if self.batch.is_empty() {
                    let seen = self.next_read.saturating_sub(1);
                    if read_failed {
                        self.record_delivered()?;
                        self.back_off("reading the journal failed", "see the previous warning");
                    } else if seen < limit {
                        // Durable but not readable yet: look again shortly.
                        self.control.sleep(self.spec.poll_interval);
                    } else if self.spec.durable.wait_past(limit, self.spec.poll_interval) <= limit {
                        // Caught up and nothing new for a while: make the
                        // cursor on disk current (a busy stream records each
                        // delivery with the next send instead).
                        self.record_delivered()?;
                    }
                    continue;
                }
            }
            self.send_batch()?;
        }
    }

    fn exit_requested(&self) -> Option<ShipperExit> {
        let command = self.control.command();
        if command.stop {
            return Some(ShipperExit::Stopped);
        }
        let (target, deadline) = command.finish?;
        let delivered = self.delivered();
        if delivered >= target {
            Some(ShipperExit::Finished)
        } else if Instant::now() >= deadline {
            Some(ShipperExit::Deadline {
                behind: target - delivered,
            })
        } else {
            None
        }
    }

    /// Batches records up to `limit` (the durable head). Returns true if the
    /// journal could not be read (the reader is reopened on the next call).
    fn fill(&mut self, limit: u64) -> Result<bool> {
        let max = self.sink.max_batch().max(1);
        while self.batch.len() < max {
            let record = match self.peeked.take() {
                Some(r) => r,
                None if self.next_read > limit => break,
                None => match self.read_next() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(Unreadable) => return Ok(true),
                },
            };
            match to_outgoing(record.0, &record.1) {
                Ok(out) => self.batch.push(out),
                // Sends stay in seq order: the bad record waits for the batch.
                Err(_) if !self.batch.is_empty() => {
                    self.peeked = Some(record);
                    break;
                }
                Err(e) => {
                    let (seq, payload) = record;
                    let id = alert_id(&payload).unwrap_or_else(|| format!("seq:{seq}"));
                    self.dead_letter(seq, &id, &e.to_string(), &raw_record(&payload))?;
                }
            }
        }
        Ok(false)
    }

    fn read_next(&mut self) -> std::result::Result<Option<(u64, Vec<u8>)>, Unreadable> {
        let reader = match &mut self.reader {
            Some(r) => r,
            None => match JournalReader::open(&self.spec.journal_dir, self.next_read) {
                Ok(r) => self.reader.insert(r),
                Err(e) => return Err(self.read_error(&e.to_string())),
            },
        };
        match reader.next() {
            None => Ok(None),
            Some(Ok((seq, payload))) if seq == self.next_read => {
                self.next_read += 1;
                Ok(Some((seq, payload)))
            }
            Some(Ok((seq, _))) => {
                let reason = format!("expected seq {}, read {seq}", self.next_read);
                Err(self.read_error(&reason))
            }
            Some(Err(e)) => Err(self.read_error(&e.to_string())),
        }
    }

    fn read_error(&mut self, reason: &str) -> Unreadable {
        tracing::warn!(
            sink = %self.spec.name,
            seq = self.next_read,
            reason,
            "reading the journal failed; will reopen",
        );
        self.reader = None;
        Unreadable
    }

    /// Waits while the ship gate is closed (see the module docs); the pass
    /// once it is open, `None` once an exit is requested instead.
    fn pass_gate(&mut self) -> Result<Option<Pass>> {
        loop {
            if let Some(pass) = self.fence.look() {
                return Ok(Some(pass));
            }
            // A successor should start after what this shipper delivered,
            // not find it in doubt.
            self.record_delivered()?;
            if self.exit_requested().is_some() {
                return Ok(None);
            }
            self.fence.wait(&self.control);
        }
    }

    fn send_batch(&mut self) -> Result<()> {
        // Gate check 1: no range is marked in flight while fenced.
        let Some(mut pass) = self.pass_gate()? else {
            return Ok(());
        };
        let delivered = self.delivered();
        let last = self.batch.last().map_or(delivered, |o| o.seq);
        self.store_cursor(CursorState {
            delivered,
            in_flight_to: last,
        })?;
        self.unrecorded = None;
        // Gate check 2, right before the send: the gate may have closed
        // during the mark and its mirroring.
        while !self.fence.holds(pass) {
            let Some(again) = self.pass_gate()? else {
                // Exiting with the range marked in flight and not sent.
                return Ok(());
            };
            self.mirror_cursor();
            pass = again;
        }
        for out in &mut self.batch {
            out.epoch = pass.epoch;
        }
        let (done, error) = match self.sink.send(&self.batch) {
            Ok(()) => (self.batch.len(), None),
            Err(SendFailure { delivered, error }) => (delivered.min(self.batch.len()), Some(error)),
        };
        let settled = self
            .batch
            .drain(..done)
            .next_back()
            .map_or(delivered, |o| o.seq);
        SinkStats::add(&self.stats.delivered, done as u64);
        if settled > delivered {
            self.unrecorded = Some(settled);
            self.publish_cursor();
        }
        if !matches!(error, Some(SendError::EndpointDown(_))) {
            // Any other answer means the endpoint is right again (it took a
            // record, or judged one on its merits, or is merely failing).
            self.resume();
        }
        match error {
            None => self.failures = 0,
            Some(SendError::EndpointDown(reason)) => {
                self.record_delivered()?;
                self.pause(&reason);
            }
            Some(SendError::Transient(reason)) => {
                SinkStats::add(&self.stats.retried, 1);
                self.record_delivered()?;
                self.back_off("send failed; retrying", &reason);
            }
            Some(SendError::Permanent(reason)) => {
                if self.batch.is_empty() {
                    tracing::warn!(
                        sink = %self.spec.name,
                        reason,
                        "sink reported a failure after the last record (a sink bug); ignored",
                    );
                    return Ok(());
                }
                let out = self.batch.remove(0);
                self.dead_letter(out.seq, &out.alert_id, &reason, &out.json)?;
                self.failures = 0;
            }
        }
        Ok(())
    }

    fn settle(&mut self, seq: u64) -> Result<()> {
        self.unrecorded = None;
        self.store_cursor(CursorState::settled(seq))?;
        self.publish_cursor();
        Ok(())
    }

    /// Writes the dead-letter line (fsynced) and then moves the cursor past
    /// the record, so a crash in between at worst dead-letters it twice.
    fn dead_letter(&mut self, seq: u64, id: &str, reason: &str, record: &[u8]) -> Result<()> {
        tracing::warn!(
            sink = %self.spec.name,
            seq,
            alert_id = id,
            reason,
            "permanent failure; record dead-lettered",
        );
        let line = dead_letter_line(seq, id, &self.spec.name, reason, record);
        append_dead_letter(&self.spec.dead_letter, &line)?;
        SinkStats::add(&self.stats.failed, 1);
        self.settle(seq)
    }

    /// The endpoint refused every record: keeps the batch, says so once
    /// (ERROR: nothing reaches this sink until someone fixes it), shows it in
    /// the stats, and waits (see [`pause_wait`]) before trying again.
    fn pause(&mut self, reason: &str) {
        self.refusals = self.refusals.saturating_add(1);
        let wait = pause_wait(self.refusals, self.spec.retry_min, self.spec.retry_max);
        if self.stats.set_paused(Some(reason)) {
            self.paused_since = Some(Instant::now());
            tracing::error!(
                sink = %self.spec.name,
                reason,
                seq = self.delivered() + 1,
                retry_ms = self.spec.retry_max.as_millis() as u64,
                "sink paused: its endpoint refuses every record (wrong URL or \
                 credentials?); nothing is dead-lettered, the records wait and \
                 the endpoint is retried until it accepts again",
            );
        } else {
            tracing::debug!(sink = %self.spec.name, reason, attempt = self.refusals, "sink still paused");
        }
        self.control.sleep(wait);
    }

    /// Ends a pause, if there is one.
    fn resume(&mut self) {
        self.refusals = 0;
        if self.stats.set_paused(None) {
            let paused_ms = self
                .paused_since
                .take()
                .map_or(0, |t| t.elapsed().as_millis() as u64);
            tracing::info!(sink = %self.spec.name, paused_ms, "sink resumed: its endpoint answers again");
        }
    }

    fn back_off(&mut self, what: &str, reason: &str) {
        self.failures = self.failures.saturating_add(1);
        let wait = backoff(self.failures, self.spec.retry_min, self.spec.retry_max);
        tracing::warn!(
            sink = %self.spec.name,
            reason,
            attempt = self.failures,
            wait_ms = wait.as_millis() as u64,
            "{what}",
        );
        self.control.sleep(wait);
    }

    fn publish_cursor(&self) {
        self.stats.cursor.store(self.delivered(), Ordering::Relaxed);
    }

    /// The in-doubt range with its `alert_id`s: the first and the last (one
    /// record read each, however large the range), and all of them when the
    /// range is small. Best effort: the journal is read, never trusted here.
    fn in_doubt(&self, from: u64, to: u64, action: InDoubtAction) -> InDoubt {
        let alert_ids = if to - from < IN_DOUBT_IDS {
            self.read_alert_ids(from, to)
        } else {
            Vec::new()
        };
        let (first_alert_id, last_alert_id) = match (alert_ids.first(), alert_ids.last()) {
            (Some(first), Some(last)) if alert_ids.len() as u64 == to - from + 1 => {
                (Some(first.clone()), Some(last.clone()))
            }
            _ => (
                self.read_alert_ids(from, from).pop(),
                self.read_alert_ids(to, to).pop(),
            ),
        };
        let cause = if self.cursor.damaged_slot().is_some() {
            InDoubtCause::DamagedCursor
        } else {
            InDoubtCause::Crash
        };
        InDoubt {
            from,
            to,
            action,
            cause,
            first_alert_id,
            last_alert_id,
            alert_ids,
        }
    }

    /// The `alert_id`s of `from..=to` (`seq:<n>` for a record without one);
    /// fewer if the journal cannot be read that far.
    fn read_alert_ids(&self, from: u64, to: u64) -> Vec<String> {
        let Ok(reader) = JournalReader::open(&self.spec.journal_dir, from) else {
            return Vec::new();
        };
        reader
            .map_while(|r| r.ok())
            .take_while(|(seq, _)| *seq <= to)
            .map(|(seq, p)| alert_id(&p).unwrap_or_else(|| format!("seq:{seq}")))
            .collect()
    }

    fn report(&self, exit: ShipperExit) -> ShipperReport {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        ShipperReport {
            name: self.spec.name.clone(),
            kind: self.spec.kind.clone(),
            mode: self.spec.mode,
            cursor: self.delivered(),
            delivered: load(&self.stats.delivered),
            retried: load(&self.stats.retried),
            failed: load(&self.stats.failed),
            in_doubt: self.in_doubt.clone(),
            paused: self.stats.paused(),
            exit,
        }
    }
}

/// The start's warning about a range in doubt: the range, its size, the
/// first and last `alert_id` as fields, every id too when the range is small.
fn log_in_doubt(sink: &str, d: &InDoubt) {
    let (from, to, records, action) = (d.from, d.to, d.records(), d.action);
    let first = d.first_alert_id.as_deref().unwrap_or("?");
    let last = d.last_alert_id.as_deref().unwrap_or("?");
    let (cause, what) = (d.cause.as_str(), d.describe());
    if d.alert_ids.is_empty() {
        tracing::warn!(
            sink = %sink, from, to, records, first_alert_id = %first, last_alert_id = %last, ?action,
            "delivery in doubt: {what}: {cause}"
        );
    } else {
        tracing::warn!(
            sink = %sink, from, to, records, first_alert_id = %first, last_alert_id = %last, ?action,
            alert_ids = ?d.alert_ids,
            "delivery in doubt: {what}: {cause}"
        );
    }
}
