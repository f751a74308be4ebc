//! The cutter: drains the ring into Arrow builders and cuts micro-batches.
//!
//! A batch is cut when it holds `batch_events` accepted events, when
//! `batch_ms` has passed since its first record arrived, or at the end of the
//! input. Runs on the engine thread that consumes the batches.
//!
//! "Arrived" is the first event's ingest stamp, when its source read it, not
//! when the cutter got to it: records that waited in the ring while the
//! engine worked on the previous batch have used up that much of their
//! batch's time already, so a busy engine cuts sooner and an event waits at
//! most about `batch_ms` plus one batch's work, not twice that.
//!
//! A source of messages (AMQP) is cut only at a message's end: a batch
//! holding the first lines of a message but not its end mark would become
//! durable state without the message's digest, so after a crash the
//! redelivered message would be processed whole again and the lines already
//! in the state counted and dead-lettered twice. Such a batch goes past
//! `batch_events` or `batch_ms` by the rest of one message, which its source
//! is publishing at that moment.

use std::{
    ops::ControlFlow,
    time::{Duration, Instant},
};

use columnar::{TradeBatch, TradeBatchBuilder};
use crossbeam_utils::Backoff;

use crate::{
    IngestError, Result,
    clock::wall_ns,
    ring::{
        Lanes, RingReader,
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
    reader: Lanes,
    builder: TradeBatchBuilder,
    policy: CutPolicy,
    ended: bool,
    started: Option<Instant>,
    /// Cut only at message ends (a source of acknowledged messages).
    whole_messages: bool,
    /// A line of a message was decoded and its end mark not yet.
    mid_message: bool,
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
        Cutter::of_lanes(Lanes::one(reader), policy)
    }

    /// A cutter over the rings of several parse lanes, read in input order.
    pub(crate) fn of_lanes(reader: Lanes, policy: CutPolicy) -> Self {
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
            whole_messages: false,
            mid_message: false,
        }
    }

    /// A cutter for a source of messages: batches end only where a message
    /// ends (its mark).
    pub(crate) fn of_messages(reader: RingReader, policy: CutPolicy) -> Self {
        Cutter {
            whole_messages: true,
            ..Cutter::new(reader, policy)
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
            // Decode what has been seen, up to the batch size.
            let mut progressed = false;
            let mut corrupt = None;
            if self.builder.rows() < self.policy.batch_events || self.mid_message {
                let Cutter {
                    builder,
                    policy,
                    ended,
                    started,
                    whole_messages,
                    mid_message,
                    ..
                } = self;
                // The flags set here say why reading stopped.
                let _ = self.reader.read(&mut |rec| {
                    progressed = true;
                    if started.is_none() {
                        *started = Some(opened_at(rec, policy.batch_time));
                    }
                    match record::decode_into(rec, builder) {
                        Some(Decoded::End) => *ended = true,
                        Some(Decoded::Mark) => *mid_message = false,
                        Some(Decoded::Event | Decoded::Other) => *mid_message = *whole_messages,
                        None => {
                            let tag = rec.get(record::TAG_OFFSET).copied().unwrap_or(0);
                            corrupt = Some((rec.len(), tag));
                        }
                    }
                    if *ended
                        || corrupt.is_some()
                        || (builder.rows() >= policy.batch_events && !*mid_message)
                    {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
            }
            if let Some((len, tag)) = corrupt {
                return Err(IngestError::Ring(len, tag));
            }
            if self.ended {
                return self.cut().map(Cut::Batch);
            }
            if self.builder.rows() >= self.policy.batch_events && !self.mid_message {
                return self.cut().map(Cut::Batch);
            }
            if let Some(t0) = self.started
                && t0.elapsed() >= self.policy.batch_time
                && !self.mid_message
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
                // Sleep until the producer publishes what is worth waking
                // for (it unparks us) or the open batch is due; an idle
                // stream wakes only every 10 ms.
                let timeout = match self.started {
                    Some(t0) => self.policy.batch_time.saturating_sub(t0.elapsed()),
                    None => Duration::from_millis(10)
                        .min(idle_after.saturating_sub(waiting_since.elapsed())),
                };
                self.reader.wait_for(
                    self.worth_waking_for(),
                    timeout.max(Duration::from_micros(20)),
                );
            } else {
                backoff.snooze();
            }
        }
    }

    /// Bytes worth waking for. A source of messages publishes each message
    /// (at one event per message, each event): its open batch waits until
    /// it is due or enough has arrived to fill it, instead of waking the
    /// engine thread for every message. Anything else wakes for any
    /// publish: a file publishes chunks of hundreds of events, and an
    /// empty batch or one mid-message cannot be cut before the next record.
    fn worth_waking_for(&self) -> usize {
        if !self.whole_messages || self.started.is_none() || self.mid_message {
            return 1;
        }
        let missing = self.policy.batch_events.saturating_sub(self.builder.rows());
        missing.saturating_mul(record::MIN_ACCEPTED_LEN)
    }

    fn cut(&mut self) -> Result<TradeBatch> {
        self.started = None;
        self.mid_message = false;
        Ok(self.builder.finish()?)
    }
}

/// When the batch that `rec` opens began: when its event arrived (its
/// ingest stamp, a wall-clock time), as an [`Instant`]; no earlier than one
/// `batch_time` ago, so a stamp far back (or a wall clock stepped) makes
/// the batch due at once. Records without a stamp begin it now. One clock
/// read per batch.
fn opened_at(rec: &[u8], batch_time: Duration) -> Instant {
    let now = Instant::now();
    let Some(stamp) = record::ingest_ns(rec) else {
        return now;
    };
    let waited = Duration::from_nanos(wall_ns().saturating_sub(stamp)).min(batch_time);
    now.checked_sub(waited).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{line_ingestor::LineIngestor, ring::ring};

    const LINE: &[u8] = br##"{"id":"o-1","#shares":10,"client":"c","stock":"S"}"##;

    fn policy(events: usize, ms: u64) -> CutPolicy {
        CutPolicy {
            batch_events: events,
            batch_time: Duration::from_millis(ms),
        }
    }

    /// A message of `lines` lines (every third malformed), its first
    /// `published` lines published before its end.
    fn message(ing: &mut LineIngestor, no: u64, lines: u64, published: u64) {
        for i in 0..lines {
            if i % 3 == 2 {
                ing.line(no << 24 | i, b"{not json");
            } else {
                ing.line(no << 24 | i, LINE);
            }
            if i + 1 == published {
                ing.publish();
            }
        }
        ing.mark(1, no, no * 7);
        ing.publish();
    }

    #[test]
    fn a_source_of_messages_is_cut_only_at_a_message_end() {
        let (w, r) = ring(1 << 20);
        let mut ing = LineIngestor::new(w);
        let mut cut = Cutter::of_messages(r, policy(2, 1));
        // Half a message, then the batch time passes, then the rest.
        message(&mut ing, 1, 6, 3);
        message(&mut ing, 2, 6, 6);
        let mut batches = Vec::new();
        while batches
            .iter()
            .map(|b: &TradeBatch| b.messages().len())
            .sum::<usize>()
            < 2
        {
            if let Cut::Batch(b) = cut.next_event(Duration::from_millis(50)).expect("cut") {
                batches.push(b);
            }
        }
        for b in &batches {
            assert_eq!(b.messages().len(), 1, "one whole message per batch");
            assert_eq!(
                b.len() + b.dead_letters().len(),
                6,
                "all six lines with their mark"
            );
        }
    }

    /// Events that waited in the ring for longer than the batch time (the
    /// engine was busy) are cut at once, not held another batch time from
    /// when the cutter got to them.
    #[test]
    fn a_batch_is_due_its_time_after_its_first_event_was_read() {
        let (w, r) = ring(1 << 20);
        let mut ing = LineIngestor::new(w);
        let mut cut = Cutter::new(r, policy(1000, 20_000));
        // Read 30 s ago; the cutter comes to them only now.
        ing.stamp_next(crate::wall_ns() - 30_000_000_000);
        for i in 0..3 {
            ing.line(i, LINE);
        }
        ing.publish();
        let t = Instant::now();
        let Cut::Batch(b) = cut.next_event(Duration::from_millis(50)).expect("cut") else {
            panic!("a batch");
        };
        assert_eq!(b.len(), 3);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "cut at once, not 20 s after the cutter decoded them: {:?}",
            t.elapsed()
        );
    }

    /// Cuts on a thread of its own until `messages` whole messages were
    /// handed out; returns the batches.
    fn cut_messages(mut cut: Cutter, messages: usize) -> std::thread::JoinHandle<Vec<TradeBatch>> {
        std::thread::spawn(move || {
            let mut batches: Vec<TradeBatch> = Vec::new();
            while batches.iter().map(|b| b.messages().len()).sum::<usize>() < messages {
                if let Cut::Batch(b) = cut.next_event(Duration::from_secs(5)).expect("cut") {
                    batches.push(b);
                }
            }
            batches
        })
    }

    /// One event per message, each published on its own: the open batch
    /// is not woken for messages that cannot fill it, only when it is due.
    #[test]
    fn an_open_batch_sleeps_through_messages_that_cannot_fill_it() {
        let (w, r) = ring(1 << 20);
        let mut ing = LineIngestor::new(w);
        let cutter = cut_messages(Cutter::of_messages(r, policy(1000, 2_000)), 21);
        message(&mut ing, 1, 1, 0);
        // The cutter takes the first message and sleeps on its open batch.
        std::thread::sleep(Duration::from_millis(50));
        let woken = ing.ring_wakes();
        for no in 2..=21 {
            message(&mut ing, no, 1, 0);
            std::thread::sleep(Duration::from_millis(2));
        }
        let batches = cutter.join().expect("cutter thread");
        let wakes = ing.ring_wakes() - woken;
        // A batch split by a slow machine may be woken once, to open.
        assert!(
            wakes as usize <= batches.len().saturating_sub(1),
            "{wakes} wake-ups for 20 messages in {} batch(es)",
            batches.len()
        );
    }

    /// Messages that can fill the open batch wake it: it is cut at
    /// `batch_events`, not held until it is due.
    #[test]
    fn messages_that_fill_the_open_batch_wake_it() {
        let (w, r) = ring(1 << 20);
        let mut ing = LineIngestor::new(w);
        let t = Instant::now();
        let cutter = cut_messages(Cutter::of_messages(r, policy(10, 60_000)), 10);
        message(&mut ing, 1, 1, 0);
        std::thread::sleep(Duration::from_millis(50));
        for no in 2..=12 {
            message(&mut ing, no, 1, 0);
        }
        let batches = cutter.join().expect("cutter thread");
        assert!(batches[0].len() >= 10, "cut at batch_events");
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "cut when full, not when due: {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn a_file_is_cut_at_the_batch_size_whatever_its_lines() {
        let (w, r) = ring(1 << 20);
        let mut ing = LineIngestor::new(w);
        let mut cut = Cutter::new(r, policy(2, 1000));
        for i in 0..6 {
            ing.line(i, LINE);
        }
        ing.publish();
        let Cut::Batch(b) = cut.next_event(Duration::from_millis(50)).expect("cut") else {
            panic!("a batch");
        };
        assert_eq!(b.len(), 2);
    }

    /// `batch_time` 0 is natural batching: a batch is what has arrived, cut
    /// as soon as nothing more is waiting, however far from the size; a
    /// time above 0 waits for more.
    #[test]
    fn a_zero_batch_time_cuts_what_has_arrived() {
        for (ms, want) in [(0, vec![3, 2]), (10_000, vec![5])] {
            let (w, r) = ring(1 << 20);
            let mut ing = LineIngestor::new(w);
            let mut cut = Cutter::new(r, policy(1000, ms));
            let mut sizes = Vec::new();
            for (round, n) in [3, 2].into_iter().enumerate() {
                for i in 0..n {
                    ing.line(round as u64 * 100 + i, LINE);
                }
                ing.publish();
                if ms == 0 {
                    match cut.next_event(Duration::from_millis(50)).expect("cut") {
                        Cut::Batch(b) => sizes.push(b.len()),
                        _ => panic!("a batch of what arrived"),
                    }
                }
            }
            ing.end();
            loop {
                match cut.next_event(Duration::from_millis(50)).expect("cut") {
                    Cut::Batch(b) if !b.is_empty() => sizes.push(b.len()),
                    Cut::End => break,
                    _ => {}
                }
            }
            assert_eq!(sizes, want, "batch_ms {ms}");
        }
    }
}
