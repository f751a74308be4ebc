//! The cutter: drains the ring into Arrow builders and cuts micro-batches.
//!
//! A batch is cut when it holds `batch_events` accepted events, when
//! `batch_ms` has passed since its first record arrived, or at the end of the
//! input. Runs on the engine thread that consumes the batches.

use std::time::{Duration, Instant};

use columnar::{TradeBatch, TradeBatchBuilder};
use crossbeam_utils::Backoff;

use crate::{
    IngestError, Result,
    ring::{
        RingReader,
        record::{self, Decoded},
    },
};

/// When to cut a micro-batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutPolicy {
    /// Cut at this many accepted events.
    pub batch_events: usize,
    /// Cut this long after the batch's first record arrived.
    pub batch_time: Duration,
}

impl Default for CutPolicy {
    fn default() -> Self {
        CutPolicy {
            batch_events: 65_536,
            batch_time: Duration::from_millis(1),
        }
    }
}

/// The consumer side of an ingest ring, yielding micro-batches.
pub struct Cutter {
    reader: RingReader,
    builder: TradeBatchBuilder,
    policy: CutPolicy,
    ended: bool,
    started: Option<Instant>,
}

/// What [`Cutter::next_event`] found.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per batch, like the Option<TradeBatch> of next_batch; boxing would allocate per batch"
)]
pub enum Cut {
    /// A micro-batch.
    Batch(TradeBatch),
    /// No input for the idle time asked for.
    Idle,
    /// The input ended; every batch before the end was returned.
    End,
}

impl Cutter {
    pub(crate) fn new(reader: RingReader, policy: CutPolicy) -> Self {
        let policy = CutPolicy {
            batch_events: policy.batch_events.max(1),
            ..policy
        };
        Cutter {
            reader,
            builder: TradeBatchBuilder::new(policy.batch_events),
            policy,
            ended: false,
            started: None,
        }
    }

    /// The next micro-batch, waiting for input; `None` once the input ended
    /// and everything before the end was returned.
    pub fn next_batch(&mut self) -> Result<Option<TradeBatch>> {
        loop {
            match self.next_event(Duration::MAX)? {
                Cut::Batch(b) => return Ok(Some(b)),
                Cut::Idle => {}
                Cut::End => return Ok(None),
            }
        }
    }

    /// Like [`Cutter::next_batch`], but returns [`Cut::Idle`] once no input
    /// has arrived for `idle_after` with no batch open, so that the caller
    /// can do periodic work (a checkpoint) on a quiet stream.
    pub fn next_event(&mut self, idle_after: Duration) -> Result<Cut> {
        let backoff = Backoff::new();
        let waiting_since = Instant::now();
        loop {
            if self.ended {
                return Ok(Cut::End);
            }
            // Decode what is staged, up to the batch size.
            let mut progressed = false;
            while self.builder.rows() < self.policy.batch_events {
                let Some(rec) = self.reader.next_record() else {
                    break;
                };
                progressed = true;
                if self.started.is_none() {
                    self.started = Some(Instant::now());
                }
                match record::decode_into(rec, &mut self.builder) {
                    Some(Decoded::End) => {
                        self.ended = true;
                        return self.cut().map(Cut::Batch);
                    }
                    Some(_) => {}
                    None => return Err(IngestError::Ring(0)),
                }
            }
            if self.builder.rows() >= self.policy.batch_events {
                return self.cut().map(Cut::Batch);
            }
            if let Some(t0) = self.started
                && t0.elapsed() >= self.policy.batch_time
            {
                return self.cut().map(Cut::Batch);
            }
            if self.reader.pull() > 0 || progressed {
                backoff.reset();
                continue;
            }
            if self.reader.producer_gone() && self.reader.pull() == 0 {
                // The source thread ended without an end record: it failed.
                // Hand out what arrived; the caller learns why from the join.
                self.ended = true;
                return self.cut().map(Cut::Batch);
            }
            if self.started.is_none() && waiting_since.elapsed() >= idle_after {
                return Ok(Cut::Idle);
            }
            if backoff.is_completed() {
                // Sleep until the producer publishes (it unparks us) or the
                // open batch is due; an idle stream wakes only every 10 ms.
                let timeout = match self.started {
                    Some(t0) => self.policy.batch_time.saturating_sub(t0.elapsed()),
                    None => Duration::from_millis(10)
                        .min(idle_after.saturating_sub(waiting_since.elapsed())),
                };
                self.reader.wait(timeout.max(Duration::from_micros(20)));
            } else {
                backoff.snooze();
            }
        }
    }

    fn cut(&mut self) -> Result<TradeBatch> {
        self.started = None;
        Ok(self.builder.finish()?)
    }
}
