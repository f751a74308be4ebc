//! The cutter's view of one or several rings as one stream, in input order.
//!
//! Several parse threads (lanes) split a file into segments and take them in
//! turn: segment `k` goes to lane `k % n`, and each lane ends every segment
//! with a segment record. Reading lane 0 up to its segment record, then lane
//! 1 up to its, and so on round, gives back the records in the file's order,
//! with no sequence numbers, no reordering buffer and no lock: each ring is
//! still single-producer single-consumer. The end-of-input record comes from
//! whichever lane's turn it is when the input ends, so the stream the cutter
//! sees ends exactly where a single lane's would.

use std::{ops::ControlFlow, time::Duration};

use super::{RingReader, record};

/// One ring, or several read in turn at their segment records.
pub(crate) struct Lanes {
    /// Never empty ([`Lanes::one`] starts it with one): `cur` always indexes it.
    rings: Vec<RingReader>,
    cur: usize,
}

impl Lanes {
    /// A single ring: records as they come.
    pub(crate) fn one(ring: RingReader) -> Self {
        Lanes {
            rings: vec![ring],
            cur: 0,
        }
    }

    /// Adds the ring of the next lane (lanes are read from the first on).
    pub(crate) fn push(&mut self, ring: RingReader) {
        self.rings.push(ring);
    }

    fn ring(&mut self) -> &mut RingReader {
        &mut self.rings[self.cur]
    }

    /// Releases what the current lane has read and sees what it has published since.
    pub(crate) fn pull(&mut self) -> usize {
        self.ring().pull()
    }

    /// Calls `f` with each complete record of the stream seen, in order,
    /// until `f` breaks or none is left; returns whether `f` broke. A segment
    /// record is consumed here and reading goes on in the next lane: first
    /// what that lane had published at its last pull; the cutter pulls from
    /// its ring once that runs out.
    pub(crate) fn read(&mut self, f: &mut impl FnMut(&[u8]) -> ControlFlow<()>) -> ControlFlow<()> {
        loop {
            let mut segment_ended = false;
            let flow = self.ring().read(&mut |rec| {
                if rec.get(record::TAG_OFFSET) == Some(&record::TAG_SEGMENT) {
                    segment_ended = true;
                    return ControlFlow::Break(());
                }
                f(rec)
            });
            if !segment_ended {
                return flow;
            }
            self.cur = (self.cur + 1) % self.rings.len();
        }
    }

    /// Sleeps until the current lane has published `bytes` more or
    /// `timeout` passes ([`RingReader::wait_for`]).
    pub(crate) fn wait_for(&self, bytes: usize, timeout: Duration) {
        self.rings[self.cur].wait_for(bytes, timeout);
    }

    /// Whether the current lane's thread has ended.
    pub(crate) fn producer_gone(&self) -> bool {
        self.rings[self.cur].producer_gone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::ring;

    /// Lane `l`'s records: blank counts naming their segment, a segment
    /// record after each of its segments.
    fn lanes_of(n: usize, segments: u32) -> Lanes {
        let (writers, mut readers): (Vec<_>, Vec<_>) = (0..n).map(|_| ring(1 << 16)).unzip();
        for (l, mut w) in writers.into_iter().enumerate() {
            for k in (0..segments).filter(|k| *k as usize % n == l) {
                record::encode_blank(w.chunk(), k);
                record::encode_blank(w.chunk(), k);
                record::encode_segment_end(w.chunk());
            }
            if segments as usize % n == l {
                record::encode_end(w.chunk());
            }
            w.publish();
        }
        let mut lanes = Lanes::one(readers.remove(0));
        for r in readers {
            lanes.push(r);
        }
        lanes
    }

    fn drain(lanes: &mut Lanes) -> Vec<Option<u32>> {
        let mut out = Vec::new();
        // As the cutter does: read what is seen, pull when it runs out.
        loop {
            let flow = lanes.read(&mut |rec| {
                let count = (rec.get(4) == Some(&record::TAG_BLANK))
                    .then(|| u32::from_le_bytes([rec[5], rec[6], rec[7], rec[8]]));
                out.push(count);
                if count.is_none() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            if flow.is_break() || lanes.pull() == 0 {
                return out;
            }
        }
    }

    #[test]
    fn lanes_read_in_turn_give_the_segments_in_order() {
        for n in 1..=4 {
            for segments in 0..9 {
                let got = drain(&mut lanes_of(n, segments));
                let mut want: Vec<Option<u32>> =
                    (0..segments).flat_map(|k| [Some(k), Some(k)]).collect();
                want.push(None); // the end record, once
                assert_eq!(got, want, "{n} lanes, {segments} segments");
            }
        }
    }
}
