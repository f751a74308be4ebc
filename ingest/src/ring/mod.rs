//! The lock-free SPSC byte ring between an ingest thread and the cutter.
//!
//! The producer encodes records into a local chunk and publishes whole chunks
//! (one atomic store per chunk, not per event); the consumer pops everything
//! available into a staging buffer and decodes complete records from it.
//! Neither side locks. A full ring is waited out with a spin, yield, then
//! short-sleep backoff; on an empty ring the consumer parks and the producer
//! unparks it after a publish (a futex call only while the consumer sleeps),
//! so an idle pipeline costs no CPU and a busy one makes no syscall.

mod lanes;
pub(crate) mod record;

pub(crate) use lanes::Lanes;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use crossbeam_utils::{
    Backoff,
    sync::{Parker, Unparker},
};
use ringbuf::{
    HeapCons, HeapProd, HeapRb,
    traits::{Consumer, Observer, Producer, Split},
};

/// Publish the local chunk once it holds this many bytes.
const CHUNK_BYTES: usize = 32 * 1024;

/// Creates a ring of `capacity` bytes.
pub(crate) fn ring(capacity: usize) -> (RingWriter, RingReader) {
    // A record (at most a 64 KiB dead letter plus header) must always fit.
    let capacity = capacity.max(4 * CHUNK_BYTES + 2 * columnar::DeadLetters::MAX_RAW);
    let (prod, cons) = HeapRb::<u8>::new(capacity).split();
    let parker = Parker::new();
    let sleeping = Arc::new(AtomicBool::new(false));
    (
        RingWriter {
            prod,
            chunk: Vec::with_capacity(CHUNK_BYTES + columnar::DeadLetters::MAX_RAW + 256),
            wake: parker.unparker().clone(),
            sleeping: Arc::clone(&sleeping),
        },
        RingReader {
            cons,
            staging: Vec::with_capacity(capacity),
            at: 0,
            parker,
            sleeping,
        },
    )
}

/// The producer end, owned by one ingest thread.
pub(crate) struct RingWriter {
    prod: HeapProd<u8>,
    chunk: Vec<u8>,
    /// Wakes the consumer when it sleeps on an empty ring.
    wake: Unparker,
    sleeping: Arc<AtomicBool>,
}

impl RingWriter {
    /// Whether the cutter has dropped its end: nothing written is read.
    pub(crate) fn reader_gone(&self) -> bool {
        !self.prod.read_is_held()
    }

    /// The local chunk that encoders append records to.
    pub(crate) fn chunk(&mut self) -> &mut Vec<u8> {
        &mut self.chunk
    }

    /// Publishes the chunk if it is big enough to be worth an atomic store.
    pub(crate) fn maybe_publish(&mut self) {
        if self.chunk.len() >= CHUNK_BYTES {
            self.publish();
        }
    }

    /// Publishes the chunk now, waiting while the ring is full (backpressure).
    /// A ring whose reader is gone takes nothing more: the chunk is dropped
    /// (the cutter stopped reading, e.g. at another lane's end of input).
    pub(crate) fn publish(&mut self) {
        let mut done = 0;
        let backoff = Backoff::new();
        while done < self.chunk.len() {
            if !self.prod.read_is_held() {
                break;
            }
            let n = self.prod.push_slice(&self.chunk[done..]);
            done += n;
            if n == 0 {
                if backoff.is_completed() {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    backoff.snooze();
                }
            }
        }
        self.chunk.clear();
        // Only an idle consumer pays for a wake-up (a futex call); a busy one
        // finds the data on its next poll.
        if self.sleeping.load(Ordering::SeqCst) {
            self.wake.unpark();
        }
    }
}

/// The consumer end, owned by the cutter.
pub(crate) struct RingReader {
    cons: HeapCons<u8>,
    staging: Vec<u8>,
    at: usize,
    parker: Parker,
    sleeping: Arc<AtomicBool>,
}

impl RingReader {
    /// Moves whatever the producer has published into staging; returns bytes moved.
    pub(crate) fn pull(&mut self) -> usize {
        if self.at > 0 {
            self.staging.drain(..self.at);
            self.at = 0;
        }
        let (a, b) = self.cons.as_slices();
        let n = a.len() + b.len();
        if n == 0 {
            return 0;
        }
        self.staging.extend_from_slice(a);
        self.staging.extend_from_slice(b);
        self.cons.skip(n);
        n
    }

    /// The next complete record in staging, consumed.
    pub(crate) fn next_record(&mut self) -> Option<&[u8]> {
        let rest = &self.staging[self.at..];
        let n = record::record_len(rest)?;
        if rest.len() < n {
            return None;
        }
        let rec = &self.staging[self.at..self.at + n];
        self.at += n;
        Some(rec)
    }

    /// The tag of the next record in staging, if it is all there.
    pub(crate) fn next_tag(&self) -> Option<u8> {
        record::tag_of(&self.staging[self.at..])
    }

    /// Sleeps until the producer publishes or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        self.sleeping.store(true, Ordering::SeqCst);
        // Re-check after announcing: a publish between the caller's last poll
        // and the store above must not be slept through.
        if self.cons.is_empty() && self.cons.write_is_held() {
            self.parker.park_timeout(timeout);
        }
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Whether the producer end has been dropped (its thread ended).
    pub(crate) fn producer_gone(&self) -> bool {
        !self.cons.write_is_held()
    }
}
