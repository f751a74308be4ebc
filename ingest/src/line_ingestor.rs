//! Turns raw input lines into ring records: blank check, parse, key, encode.
//!
//! Every source (file, stdin, later AMQP) hands its lines here, so the rules of
//! SPEC §1 live in one place. Runs on the source's ingest thread; per line it
//! touches only reused buffers.

use columnar::keys;

use crate::clock::CoarseClock;
use crate::parse::{self, ParseScratch};
use crate::ring::{RingWriter, record};

/// Per-source counters, kept in locals and reported when the source ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SourceStats {
    /// Lines read, blank ones included.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
}

pub(crate) struct LineIngestor {
    ring: RingWriter,
    scratch: ParseScratch,
    clock: CoarseClock,
    blanks: u32,
    /// The `message_id` of the AMQP message whose lines come now ("" for
    /// none, and for files): it goes with each of their dead letters.
    message_id: String,
    pub(crate) stats: SourceStats,
}

impl LineIngestor {
    pub(crate) fn new(ring: RingWriter) -> Self {
        LineIngestor {
            ring,
            scratch: ParseScratch::default(),
            clock: CoarseClock::new(),
            blanks: 0,
            message_id: String::new(),
            stats: SourceStats::default(),
        }
    }

    /// Ingests one line (without its `\n`) found at input position `pos`.
    pub(crate) fn line(&mut self, pos: u64, line: &[u8]) {
        self.stats.lines += 1;
        if parse::is_blank(line) {
            self.blanks += 1;
            return;
        }
        self.flush_blanks();
        let now = self.clock.tick();
        match parse::parse_line(line, &mut self.scratch) {
            Ok(ev) => {
                let order = keys::order_key(ev.order_id());
                let event = keys::event_key(order, ev.id);
                record::encode_accepted(self.ring.chunk(), pos, now, &ev, order, event);
            }
            Err(reason) => {
                record::encode_rejected(self.ring.chunk(), pos, reason, line, &self.message_id)
            }
        }
        self.ring.maybe_publish();
    }

    /// Stamps the next line with `ns` instead of the clock (a paced
    /// source's due time, see `pace`).
    pub(crate) fn stamp_next(&mut self, ns: u64) {
        self.clock.set(ns);
    }

    /// Records a line that the source had to cut because it exceeds any sane
    /// length; `head` is its beginning.
    pub(crate) fn too_long(&mut self, pos: u64, head: &[u8]) {
        self.stats.lines += 1;
        self.flush_blanks();
        record::encode_rejected(
            self.ring.chunk(),
            pos,
            columnar::RejectReason::TooLong,
            head,
            &self.message_id,
        );
        self.ring.maybe_publish();
    }

    fn flush_blanks(&mut self) {
        if self.blanks > 0 {
            record::encode_blank(self.ring.chunk(), self.blanks);
            self.blanks = 0;
        }
    }

    /// The `message_id` of the message whose lines follow (`None`: it has
    /// none), for their dead letters; the buffer is reused.
    pub(crate) fn set_message_id(&mut self, id: Option<&str>) {
        self.message_id.clear();
        self.message_id.push_str(id.unwrap_or(""));
    }

    /// Marks the end of an acknowledging source's message, whose body has
    /// `digest`.
    pub(crate) fn mark(&mut self, generation: u64, tag: u64, digest: u64) {
        self.flush_blanks();
        record::encode_mark(self.ring.chunk(), generation, tag, digest);
        self.ring.maybe_publish();
    }

    /// Publishes what is buffered: call before the source may block or sleep.
    pub(crate) fn publish(&mut self) {
        self.flush_blanks();
        self.ring.publish();
        self.clock.expire();
    }

    /// Ends this parse lane's segment: the stream goes on in the next lane
    /// (`ring::lanes`). Published at once, since the cutter cannot move on
    /// before it sees it.
    pub(crate) fn segment_end(&mut self) {
        self.flush_blanks();
        record::encode_segment_end(self.ring.chunk());
        self.ring.publish();
        self.clock.expire();
    }

    /// The ring's wake-ups of the cutter so far.
    #[cfg(test)]
    pub(crate) fn ring_wakes(&self) -> u64 {
        self.ring.wakes()
    }

    /// Whether the cutter stopped reading (its ring end was dropped).
    pub(crate) fn reader_gone(&self) -> bool {
        self.ring.reader_gone()
    }

    /// Ends a parse lane whose turn it is not when the input ends: no end
    /// record (another lane writes it), only the counters.
    pub(crate) fn leave(self) -> SourceStats {
        self.stats
    }

    /// Marks the end of the input and publishes.
    pub(crate) fn end(mut self) -> SourceStats {
        self.flush_blanks();
        record::encode_end(self.ring.chunk());
        self.ring.publish();
        self.stats
    }
}
