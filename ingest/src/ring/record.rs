//! The wire format of the ingest ring: length-prefixed records of plain bytes.
//!
//! Parsing happens on the ingest thread; the ring carries the parsed, validated
//! event in a compact fixed header plus its strings, so the cutter only copies
//! bytes into Arrow builders. Little-endian throughout.
//!
//! ```text
//! record   = len:u32 tag:u8 body            (len counts tag + body)
//! accepted = flags:u8 id:u16 init:u16 client:u16 stock:u16
//!            pos:u64 ingest_ns:u64 shares:u64 ts:u64
//!            order_hi:u64 order_lo:u64 event_hi:u64 event_lo:u64
//!            id bytes, init bytes, client bytes, stock bytes
//! rejected = reason:u8 truncated:u8 pos:u64 id_len:u8 id bytes raw bytes
//!            (id: the AMQP message's `message_id`, empty for none)
//! blank    = count:u32
//! end      = (empty)
//! segment  = (empty: this lane's part of the input stops here; the stream
//!            goes on in the next lane, see `ring::lanes`)
//! mark     = generation:u64 tag:u64 digest:u64
//!            (an acknowledging source's message ended; digest identifies its
//!            body, so a redelivery of it can be recognised)
//! ```

use columnar::{Key128, RejectReason, TradeBatchBuilder, TradeEventRef};

pub(crate) const TAG_ACCEPTED: u8 = 1;
pub(crate) const TAG_REJECTED: u8 = 2;
pub(crate) const TAG_BLANK: u8 = 3;
pub(crate) const TAG_END: u8 = 4;
pub(crate) const TAG_MARK: u8 = 5;
pub(crate) const TAG_SEGMENT: u8 = 6;

const FLAG_TS: u8 = 1;
const FLAG_INIT: u8 = 2;
const ACCEPTED_FIXED: usize = 1 + 1 + 8 + 8 * 8;

/// The smallest accepted event record, length prefix included: SPEC §1's
/// id, client and stock hold a byte at least.
pub(crate) const MIN_ACCEPTED_LEN: usize = 4 + ACCEPTED_FIXED + 3;

/// Appends an accepted event record to `buf`.
pub(crate) fn encode_accepted(
    buf: &mut Vec<u8>,
    pos: u64,
    ingest_ns: u64,
    ev: &TradeEventRef<'_>,
    order: Key128,
    event: Key128,
) {
    let init = ev.initial_order_id.unwrap_or("");
    let strings = ev.id.len() + init.len() + ev.client.len() + ev.stock.len();
    let len = (ACCEPTED_FIXED + strings) as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.push(TAG_ACCEPTED);
    let mut flags = 0;
    if ev.ts.is_some() {
        flags |= FLAG_TS;
    }
    if ev.initial_order_id.is_some() {
        flags |= FLAG_INIT;
    }
    buf.push(flags);
    // Lengths fit u16: the parser bounds ids to 128 and names to 256 bytes.
    for s in [ev.id, init, ev.client, ev.stock] {
        buf.extend_from_slice(&(s.len() as u16).to_le_bytes());
    }
    for v in [
        pos,
        ingest_ns,
        ev.shares,
        ev.ts.unwrap_or(0),
        order.hi,
        order.lo,
        event.hi,
        event.lo,
    ] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for s in [ev.id, init, ev.client, ev.stock] {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// Appends a rejected-line record to `buf`; `raw` is cut to the dead-letter
/// cap; `message_id` is the AMQP message's (empty for none), cut to
/// [`columnar::DeadLetters::MAX_ID`] bytes.
pub(crate) fn encode_rejected(
    buf: &mut Vec<u8>,
    pos: u64,
    reason: RejectReason,
    raw: &[u8],
    message_id: &str,
) {
    let cap = columnar::DeadLetters::MAX_RAW;
    let truncated = raw.len() > cap;
    let raw = &raw[..raw.len().min(cap)];
    let id = columnar::DeadLetters::cut_id(message_id).as_bytes();
    let len = (1 + 1 + 1 + 8 + 1 + id.len() + raw.len()) as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.push(TAG_REJECTED);
    buf.push(reason.index() as u8);
    buf.push(truncated as u8);
    buf.extend_from_slice(&pos.to_le_bytes());
    buf.push(id.len() as u8);
    buf.extend_from_slice(id);
    buf.extend_from_slice(raw);
}

/// Appends a record counting `count` skipped blank lines.
pub(crate) fn encode_blank(buf: &mut Vec<u8>, count: u32) {
    buf.extend_from_slice(&5u32.to_le_bytes());
    buf.push(TAG_BLANK);
    buf.extend_from_slice(&count.to_le_bytes());
}

/// Appends a source-mark record: every line of message `tag` precedes it;
/// `digest` identifies the message's body.
pub(crate) fn encode_mark(buf: &mut Vec<u8>, generation: u64, tag: u64, digest: u64) {
    buf.extend_from_slice(&25u32.to_le_bytes());
    buf.push(TAG_MARK);
    buf.extend_from_slice(&generation.to_le_bytes());
    buf.extend_from_slice(&tag.to_le_bytes());
    buf.extend_from_slice(&digest.to_le_bytes());
}

/// Appends the end-of-input record.
pub(crate) fn encode_end(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&1u32.to_le_bytes());
    buf.push(TAG_END);
}

/// Appends the end-of-segment record of a parse lane.
pub(crate) fn encode_segment_end(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&1u32.to_le_bytes());
    buf.push(TAG_SEGMENT);
}

/// What one decoded record did to the builder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// An accepted event was appended.
    Event,
    /// A dead letter or blank count was recorded.
    Other,
    /// The end of a source's message (what follows belongs to the next).
    Mark,
    /// The end of the input.
    End,
}

/// Where a record's tag is, after its 4-byte length.
pub(crate) const TAG_OFFSET: usize = 4;

/// Total bytes of the record at the start of `buf`, if its length prefix is there.
pub(crate) fn record_len(buf: &[u8]) -> Option<usize> {
    let n: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(4 + u32::from_le_bytes(n) as usize)
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn str_at(b: &[u8], at: usize, len: usize) -> Option<&str> {
    let bytes = b.get(at..at + len)?;
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: `encode_accepted` copied these bytes from `&str`s, and string
    // boundaries come from the lengths it wrote; re-validating cost 4% of the
    // engine thread.
    Some(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// The ingest stamp of an accepted event's record (when its source read
/// it, or a paced event's due time); `None` for every other record.
pub(crate) fn ingest_ns(rec: &[u8]) -> Option<u64> {
    let body = rec.get(4..)?;
    if *body.first()? != TAG_ACCEPTED {
        return None;
    }
    accepted_u64(body, 1)
}

/// The `i`th of an accepted record's fixed `u64`s (pos, ingest_ns, shares,
/// ts, the keys' halves), which follow the tag, the flags and the four
/// string lengths.
fn accepted_u64(body: &[u8], i: usize) -> Option<u64> {
    u64_at(body, 10 + 8 * i)
}

/// Decodes one whole record (as sized by [`record_len`]) into `builder`.
/// `None` means the bytes are not a record this module wrote: a bug.
pub(crate) fn decode_into(rec: &[u8], builder: &mut TradeBatchBuilder) -> Option<Decoded> {
    let body = rec.get(4..)?;
    match *body.first()? {
        TAG_ACCEPTED => {
            let flags = *body.get(1)?;
            let (id_n, init_n, client_n, stock_n) = (
                u16_at(body, 2)?,
                u16_at(body, 4)?,
                u16_at(body, 6)?,
                u16_at(body, 8)?,
            );
            let v = |i: usize| accepted_u64(body, i);
            let mut at = ACCEPTED_FIXED;
            let id = str_at(body, at, id_n)?;
            at += id_n;
            let init = str_at(body, at, init_n)?;
            at += init_n;
            let client = str_at(body, at, client_n)?;
            at += client_n;
            let stock = str_at(body, at, stock_n)?;
            let ev = TradeEventRef {
                id,
                shares: v(2)?,
                client,
                stock,
                initial_order_id: (flags & FLAG_INIT != 0).then_some(init),
                ts: if flags & FLAG_TS != 0 {
                    Some(v(3)?)
                } else {
                    None
                },
            };
            let order = Key128 {
                hi: v(4)?,
                lo: v(5)?,
            };
            let event = Key128 {
                hi: v(6)?,
                lo: v(7)?,
            };
            builder.append_keyed(v(0)?, v(1)?, &ev, order, event);
            Some(Decoded::Event)
        }
        TAG_REJECTED => {
            let reason = RejectReason::from_index(*body.get(1)? as usize)?;
            let truncated = *body.get(2)? != 0;
            let pos = u64_at(body, 3)?;
            let id_len = usize::from(*body.get(11)?);
            let id = std::str::from_utf8(body.get(12..12 + id_len)?).ok()?;
            let raw = body.get(12 + id_len..)?;
            let id = (!id.is_empty()).then_some(id);
            builder.reject_with_id(pos, reason, raw, truncated, id);
            Some(Decoded::Other)
        }
        TAG_BLANK => {
            let n = u32::from_le_bytes(body.get(1..5)?.try_into().ok()?);
            for _ in 0..n {
                builder.skip_blank();
            }
            Some(Decoded::Other)
        }
        TAG_MARK => {
            builder.mark(
                columnar::SourceMark {
                    generation: u64_at(body, 1)?,
                    tag: u64_at(body, 9)?,
                },
                u64_at(body, 17)?,
            );
            Some(Decoded::Mark)
        }
        TAG_END => Some(Decoded::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use columnar::keys;

    #[test]
    fn the_smallest_event_record_is_min_accepted_len() {
        let ev = TradeEventRef {
            id: "p",
            shares: 0,
            client: "c",
            stock: "S",
            initial_order_id: None,
            ts: None,
        };
        let order = keys::order_key("p");
        let mut buf = Vec::new();
        encode_accepted(&mut buf, 0, 0, &ev, order, keys::event_key(order, "p"));
        assert_eq!(buf.len(), MIN_ACCEPTED_LEN);
    }

    #[test]
    fn records_round_trip_through_the_builder() {
        let ev = TradeEventRef {
            id: "p-1",
            shares: 42,
            client: "c",
            stock: "ACME",
            initial_order_id: Some("o-1"),
            ts: Some(7),
        };
        let order = keys::order_key("o-1");
        let event = keys::event_key(order, "p-1");
        let mut buf = Vec::new();
        encode_accepted(&mut buf, 10, 20, &ev, order, event);
        encode_rejected(&mut buf, 11, RejectReason::Malformed, b"{oops", "");
        encode_rejected(&mut buf, 12, RejectReason::Malformed, b"{again", "m-1");
        encode_blank(&mut buf, 2);
        encode_mark(&mut buf, 3, 9, 77);
        encode_end(&mut buf);
        let mut b = TradeBatchBuilder::new(4);
        let mut at = 0;
        let mut seen = Vec::new();
        let mut stamps = Vec::new();
        while at < buf.len() {
            let n = record_len(&buf[at..]).unwrap();
            stamps.push(ingest_ns(&buf[at..at + n]));
            seen.push(decode_into(&buf[at..at + n], &mut b).unwrap());
            at += n;
        }
        assert_eq!(
            seen,
            [
                Decoded::Event,
                Decoded::Other,
                Decoded::Other,
                Decoded::Other,
                Decoded::Mark,
                Decoded::End
            ]
        );
        assert_eq!(stamps, [Some(20), None, None, None, None, None]);
        let batch = b.finish().unwrap();
        assert_eq!(batch.pos(), &[10]);
        assert_eq!(batch.ingest_ns(), &[20]);
        assert_eq!(batch.id(0), "p-1");
        assert_eq!(batch.order_id(0), "o-1");
        assert_eq!(batch.stock(0), "ACME");
        assert_eq!(batch.ts(0), Some(7));
        assert_eq!(batch.order_key(0), order);
        assert_eq!(batch.event_key(0), event);
        let dl: Vec<_> = batch.dead_letters().iter().collect();
        assert_eq!(dl[0].raw, b"{oops");
        assert_eq!(dl[0].pos, 11);
        assert!(!dl[0].truncated);
        assert_eq!(dl[0].message_id, None);
        assert_eq!((dl[1].pos, dl[1].raw), (12, &b"{again"[..]));
        assert_eq!(dl[1].message_id, Some("m-1"));
        assert_eq!(batch.skipped_blank(), 2);
        assert_eq!(
            batch.source_mark(),
            Some(columnar::SourceMark {
                generation: 3,
                tag: 9
            })
        );
        assert_eq!(batch.messages(), &[77]);
    }
}
