//! The lock-free SPSC byte ring between an ingest thread and the cutter.
//!
//! The producer encodes records into a local chunk and publishes whole chunks
//! (one atomic store per chunk, not per event); the consumer decodes complete
//! records in place, in the ring's own memory, and hands the bytes it has
//! read back to the producer every [`RELEASE_BYTES`] and whenever it has
//! read all it saw (one atomic store each, not per event). Only a record
//! that wraps around the ring's end is copied, whole. Neither side locks. A
//! full ring is waited out with a spin, yield, then short-sleep backoff. A
//! consumer that has read everything parks, saying how many more bytes are
//! worth waking it for: any, or (an open batch of a message source) as many
//! as could fill its batch. The producer unparks it once a publish makes
//! that many visible, or when the ring is full (a futex call only while the
//! consumer sleeps), so an idle pipeline costs no CPU, a busy one makes no
//! syscall, and a source publishing one small message at a time does not
//! wake the engine for each.

mod lanes;
pub(crate) mod record;

pub(crate) use lanes::Lanes;

use std::{
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering, fence},
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

/// Hand read bytes back to the producer once this many have been read, so
/// that it can refill the ring while the reader is still decoding what it saw.
const RELEASE_BYTES: usize = 2 * CHUNK_BYTES;

/// Creates a ring of `capacity` bytes.
pub(crate) fn ring(capacity: usize) -> (RingWriter, RingReader) {
    // A record (at most a 64 KiB dead letter plus header) must always fit.
    let capacity = capacity.max(4 * CHUNK_BYTES + 2 * columnar::DeadLetters::MAX_RAW);
    let (prod, cons) = HeapRb::<u8>::new(capacity).split();
    let parker = Parker::new();
    let wake_at = Arc::new(AtomicUsize::new(AWAKE));
    (
        RingWriter {
            prod,
            chunk: Vec::with_capacity(CHUNK_BYTES + columnar::DeadLetters::MAX_RAW + 256),
            wake: parker.unparker().clone(),
            wake_at: Arc::clone(&wake_at),
            wakes: 0,
        },
        RingReader {
            cons,
            seen: 0,
            at: 0,
            wrapped: Vec::with_capacity(columnar::DeadLetters::MAX_RAW + 256),
            parker,
            wake_at,
        },
    )
}

/// The producer end, owned by one ingest thread.
pub(crate) struct RingWriter {
    prod: HeapProd<u8>,
    chunk: Vec<u8>,
    /// Wakes the consumer when it sleeps.
    wake: Unparker,
    /// [`AWAKE`], or the ring occupancy in bytes at which the sleeping
    /// consumer wants waking.
    wake_at: Arc<AtomicUsize>,
    /// Wake-ups made, for tests.
    wakes: u64,
}

/// `wake_at` of a consumer that is not sleeping.
const AWAKE: usize = 0;

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
                // Full: whatever the sleeper waits for, only it can make room.
                self.wake_if(|_| true);
                if backoff.is_completed() {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    backoff.snooze();
                }
            }
        }
        self.chunk.clear();
        let occupied = self.prod.occupied_len();
        self.wake_if(|at| occupied >= at);
    }

    /// Unparks a sleeping consumer if `due` says its mark is reached. Only a
    /// sleeping consumer costs a wake-up (a futex call); a busy one finds
    /// the data on its next poll.
    fn wake_if(&mut self, due: impl Fn(usize) -> bool) {
        // Orders the publish before the load (the consumer fences its store
        // before it looks at the ring): one of the two sees the other.
        fence(Ordering::SeqCst);
        let at = self.wake_at.load(Ordering::Relaxed);
        if at != AWAKE && due(at) {
            self.wake.unpark();
            self.wakes += 1;
        }
    }

    /// Wake-ups made so far.
    #[cfg(test)]
    pub(crate) fn wakes(&self) -> u64 {
        self.wakes
    }
}

/// The consumer end, owned by the cutter.
///
/// Offsets count from the ring's read index: the reader decodes records
/// from `at` up to `seen`, what the producer had published at the last
/// [`RingReader::pull`], and releases `..at` back to it.
pub(crate) struct RingReader {
    cons: HeapCons<u8>,
    seen: usize,
    at: usize,
    /// The last record that wrapped around the ring's end, copied whole.
    wrapped: Vec<u8>,
    parker: Parker,
    wake_at: Arc<AtomicUsize>,
}

impl RingReader {
    /// Releases what has been read and looks at what the producer has
    /// published since; returns the bytes newly seen.
    pub(crate) fn pull(&mut self) -> usize {
        self.release();
        let visible = self.cons.occupied_len();
        let new = visible - self.seen;
        self.seen = visible;
        new
    }

    /// Hands the bytes read so far back to the producer.
    fn release(&mut self) {
        if self.at > 0 {
            self.cons.skip(self.at);
            self.seen -= self.at;
            self.at = 0;
        }
    }

    /// Calls `f` with each complete record seen, in order, until `f` breaks
    /// or none is left; returns whether `f` broke. The records are read in
    /// place: the ring's slices are looked up once per call (one load of
    /// the producer's index), not once per record.
    pub(crate) fn read(&mut self, f: &mut impl FnMut(&[u8]) -> ControlFlow<()>) -> ControlFlow<()> {
        loop {
            if self.at >= RELEASE_BYTES {
                self.release();
            }
            let (a, b) = self.cons.as_slices();
            let window = self.seen.min(a.len() + b.len());
            loop {
                let unread = window - self.at;
                if unread < 4 {
                    return ControlFlow::Continue(());
                }
                let header = [0, 1, 2, 3].map(|i| byte_at(a, b, self.at + i));
                let Some(n) = record::record_len(&header).filter(|&n| n <= unread) else {
                    return ControlFlow::Continue(());
                };
                let start = self.at;
                self.at += n;
                let rec = if start + n <= a.len() {
                    &a[start..start + n]
                } else if start >= a.len() {
                    &b[start - a.len()..start - a.len() + n]
                } else {
                    self.wrapped.clear();
                    self.wrapped.extend_from_slice(&a[start..]);
                    self.wrapped.extend_from_slice(&b[..start + n - a.len()]);
                    &self.wrapped[..]
                };
                f(rec)?;
                if self.at >= RELEASE_BYTES {
                    break;
                }
            }
        }
    }

    /// Sleeps until the producer has published `bytes` more than this
    /// reader has seen (at least 1; at most half the ring, so that the
    /// producer never fills it while the reader sleeps), the ring is full,
    /// or `timeout` passes.
    pub(crate) fn wait_for(&self, bytes: usize, timeout: Duration) {
        let half = (self.cons.capacity().get() / 2).max(1);
        let at = (self.seen + bytes.clamp(1, half)).min(self.cons.capacity().get());
        self.wake_at.store(at, Ordering::Relaxed);
        // Re-check after announcing: a publish between the caller's last
        // poll and the store above must not be slept through.
        fence(Ordering::SeqCst);
        if self.cons.occupied_len() < at && self.cons.write_is_held() {
            self.parker.park_timeout(timeout);
        }
        self.wake_at.store(AWAKE, Ordering::Relaxed);
    }

    /// Whether the producer end has been dropped (its thread ended).
    pub(crate) fn producer_gone(&self) -> bool {
        !self.cons.write_is_held()
    }
}

/// Byte `p` of the ring's contents, given as its two slices (`p` is within them).
fn byte_at(a: &[u8], b: &[u8], p: usize) -> u8 {
    if p < a.len() { a[p] } else { b[p - a.len()] }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use columnar::RejectReason;
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Encode a record with this many raw bytes (cut at the dead-letter cap).
        Write(usize),
        /// Publish the chunk, if the ring has room for it.
        Publish,
        /// Read up to this many records, pulling when none is left.
        Read(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0usize..300).prop_map(Op::Write),
            1 => (20_000usize..70_000).prop_map(Op::Write),
            2 => Just(Op::Publish),
            3 => any::<u8>().prop_map(Op::Read),
        ]
    }

    /// Publishes only when the ring has room, so a single thread never waits.
    fn try_publish(w: &mut RingWriter) -> bool {
        if w.prod.vacant_len() < w.chunk.len() {
            return false;
        }
        w.publish();
        true
    }

    /// The next record, read through [`RingReader::read`].
    fn next(r: &mut RingReader) -> Option<Vec<u8>> {
        let mut got = None;
        let _ = r.read(&mut |rec| {
            got = Some(rec.to_vec());
            ControlFlow::Break(())
        });
        got
    }

    /// Reads one record, pulling once if none is seen; checks it is the next written.
    fn read_one(r: &mut RingReader, want: &mut VecDeque<Vec<u8>>) -> bool {
        let rec = next(r).or_else(|| {
            r.pull();
            next(r)
        });
        match rec {
            Some(rec) => {
                let expected = want.pop_front().expect("a record nobody wrote");
                assert_eq!(rec, expected);
                true
            }
            None => false,
        }
    }

    proptest! {
        /// Whatever the interleaving of writes, publishes and reads, the
        /// reader sees each record whole, in order, once, including the ones
        /// that wrap around the ring's end.
        #[test]
        fn records_come_out_whole_and_in_order(ops in prop::collection::vec(op(), 1..600)) {
            let (mut w, mut r) = ring(0);
            let mut published = VecDeque::new();
            let mut in_chunk = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Write(len) => {
                        let raw = vec![n as u8; len];
                        let mut rec = Vec::new();
                        record::encode_rejected(&mut rec, n as u64, RejectReason::Malformed, &raw, "");
                        if w.chunk.len() + rec.len() <= w.prod.capacity().get() {
                            w.chunk().extend_from_slice(&rec);
                            in_chunk.push(rec);
                        }
                    }
                    Op::Publish => {
                        if try_publish(&mut w) {
                            published.extend(in_chunk.drain(..));
                        }
                    }
                    Op::Read(k) => {
                        for _ in 0..k {
                            if !read_one(&mut r, &mut published) {
                                break;
                            }
                        }
                    }
                }
            }
            // Drain the rest: read, and publish the chunk once it fits.
            loop {
                while read_one(&mut r, &mut published) {}
                if in_chunk.is_empty() {
                    break;
                }
                prop_assert!(try_publish(&mut w), "an empty ring takes any chunk");
                published.extend(in_chunk.drain(..));
            }
            prop_assert!(published.is_empty());
            prop_assert_eq!(r.pull(), 0);
        }
    }

    #[test]
    fn a_record_whose_length_wraps_around_the_end_is_read_whole() {
        let (mut w, mut r) = ring(0);
        let cap = w.prod.capacity().get();
        // Blank records are 9 bytes: fill to 1..=8 bytes short of the end,
        // read it all, then write records that straddle the end.
        let fill = cap / 9;
        for _ in 0..fill {
            record::encode_blank(w.chunk(), 1);
        }
        w.publish();
        assert_eq!(r.pull(), fill * 9);
        let mut read = 0;
        let _ = r.read(&mut |_| {
            read += 1;
            ControlFlow::Continue(())
        });
        assert_eq!(read, fill);
        assert_eq!(next(&mut r), None);
        assert_eq!(r.pull(), 0);
        for count in 0..3 {
            record::encode_blank(w.chunk(), count);
        }
        w.publish();
        assert_eq!(r.pull(), 27);
        for count in 0..3u32 {
            let mut want = Vec::new();
            record::encode_blank(&mut want, count);
            assert_eq!(next(&mut r), Some(want));
        }
        assert_eq!(next(&mut r), None);
    }
}
