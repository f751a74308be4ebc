use arrow_array::{
    ArrayRef, RecordBatch,
    builder::{StringBuilder, UInt8Builder, UInt64Builder},
};
use std::sync::Arc;

use crate::{
    DeadLetters, Key128, RejectReason, Result, SourceMark, TradeBatch, TradeEventRef, keys, schema,
};

/// Appends events into Arrow column builders and cuts [`TradeBatch`]es.
///
/// The builder is kept across batches; its buffers are sized for
/// `capacity` events up front so appending does not reallocate per event.
#[derive(Debug)]
pub struct TradeBatchBuilder {
    capacity: usize,
    pos: UInt64Builder,
    ingest_ns: UInt64Builder,
    kind: UInt8Builder,
    order_hi: UInt64Builder,
    order_lo: UInt64Builder,
    event_hi: UInt64Builder,
    event_lo: UInt64Builder,
    shares: UInt64Builder,
    ts: UInt64Builder,
    id: StringBuilder,
    initial_order_id: StringBuilder,
    client: StringBuilder,
    stock: StringBuilder,
    dead_letters: DeadLetters,
    skipped_blank: u64,
    mark: Option<SourceMark>,
    /// Digests of the messages that ended in this batch (`mark`).
    messages: Vec<u64>,
    rows: usize,
}

/// Bytes reserved per string column per event; buffers still grow past it.
const STR_BYTES_PER_EVENT: usize = 16;

impl TradeBatchBuilder {
    /// A builder sized for batches of about `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let s = || StringBuilder::with_capacity(capacity, capacity * STR_BYTES_PER_EVENT);
        let u = || UInt64Builder::with_capacity(capacity);
        TradeBatchBuilder {
            capacity,
            pos: u(),
            ingest_ns: u(),
            kind: UInt8Builder::with_capacity(capacity),
            order_hi: u(),
            order_lo: u(),
            event_hi: u(),
            event_lo: u(),
            shares: u(),
            ts: u(),
            id: s(),
            initial_order_id: s(),
            client: s(),
            stock: s(),
            dead_letters: DeadLetters::default(),
            skipped_blank: 0,
            mark: None,
            messages: Vec::new(),
            rows: 0,
        }
    }

    /// Appends an accepted event, computing its keys.
    pub fn append(&mut self, pos: u64, ingest_ns: u64, ev: &TradeEventRef<'_>) {
        let order = keys::order_key(ev.order_id());
        let event = keys::event_key(order, ev.id);
        self.append_keyed(pos, ingest_ns, ev, order, event);
    }

    /// Appends an accepted event whose keys the source already computed.
    pub fn append_keyed(
        &mut self,
        pos: u64,
        ingest_ns: u64,
        ev: &TradeEventRef<'_>,
        order: Key128,
        event: Key128,
    ) {
        self.pos.append_value(pos);
        self.ingest_ns.append_value(ingest_ns);
        self.kind.append_value(ev.kind() as u8);
        self.order_hi.append_value(order.hi);
        self.order_lo.append_value(order.lo);
        self.event_hi.append_value(event.hi);
        self.event_lo.append_value(event.lo);
        self.shares.append_value(ev.shares);
        self.ts.append_option(ev.ts);
        self.id.append_value(ev.id);
        self.initial_order_id.append_option(ev.initial_order_id);
        self.client.append_value(ev.client);
        self.stock.append_value(ev.stock);
        self.rows += 1;
    }

    /// Records a rejected line; `truncated` says a source already cut `raw`.
    pub fn reject(&mut self, pos: u64, reason: RejectReason, raw: &[u8], truncated: bool) {
        self.dead_letters.push(pos, reason, raw, truncated);
    }

    /// [`TradeBatchBuilder::reject`] for a line of an AMQP message with
    /// `message_id`.
    pub fn reject_with_id(
        &mut self,
        pos: u64,
        reason: RejectReason,
        raw: &[u8],
        truncated: bool,
        message_id: Option<&str>,
    ) {
        self.dead_letters
            .push_with_id(pos, reason, raw, truncated, message_id);
    }

    /// Counts a skipped blank line.
    pub fn skip_blank(&mut self) {
        self.skipped_blank += 1;
    }

    /// Records that every message up to `mark` is in this batch or earlier;
    /// `digest` identifies the message that ended there.
    pub fn mark(&mut self, mark: SourceMark, digest: u64) {
        self.mark = Some(mark);
        self.messages.push(digest);
    }

    /// Accepted events appended since the last cut.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether nothing (accepted, rejected or blank) was appended since the last cut.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
            && self.dead_letters.is_empty()
            && self.skipped_blank == 0
            && self.mark.is_none()
    }

    /// Cuts the batch; the builder starts the next one.
    pub fn finish(&mut self) -> Result<TradeBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.pos.finish()),
            Arc::new(self.ingest_ns.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.order_hi.finish()),
            Arc::new(self.order_lo.finish()),
            Arc::new(self.event_hi.finish()),
            Arc::new(self.event_lo.finish()),
            Arc::new(self.shares.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.initial_order_id.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.stock.finish()),
        ];
        let record = RecordBatch::try_new(schema::trade_schema(), columns)?;
        let dead = std::mem::take(&mut self.dead_letters);
        let blank = std::mem::take(&mut self.skipped_blank);
        let mark = self.mark.take();
        let messages = std::mem::take(&mut self.messages);
        self.rows = 0;
        // `finish` leaves empty builders; size them again for the next batch so
        // the appends of the next batch do not grow them event by event.
        *self = TradeBatchBuilder {
            dead_letters: DeadLetters::default(),
            ..TradeBatchBuilder::new(self.capacity)
        };
        Ok(TradeBatch::new(record, dead, blank, mark).with_messages(messages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;

    fn ev<'a>(
        id: &'a str,
        shares: u64,
        order: Option<&'a str>,
        ts: Option<u64>,
    ) -> TradeEventRef<'a> {
        TradeEventRef {
            id,
            shares,
            client: "c",
            stock: "s",
            initial_order_id: order,
            ts,
        }
    }

    #[test]
    fn builds_columns_in_input_order() {
        let mut b = TradeBatchBuilder::new(4);
        b.append(0, 10, &ev("o1", 100, None, Some(5)));
        b.append(30, 11, &ev("p1", 90, Some("o1"), None));
        b.reject(60, RejectReason::Malformed, b"{x", false);
        b.skip_blank();
        let batch = b.finish().unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.pos(), &[0, 30]);
        assert_eq!(batch.kind(0), EventKind::Request);
        assert_eq!(batch.kind(1), EventKind::Purchase);
        assert_eq!(batch.order_id(1), "o1");
        assert_eq!(batch.order_key(0), batch.order_key(1));
        assert_ne!(batch.event_key(0), batch.event_key(1));
        assert_eq!(batch.ts(0), Some(5));
        assert_eq!(batch.ts(1), None);
        assert_eq!(batch.shares(), &[100, 90]);
        assert_eq!(batch.dead_letters().len(), 1);
        assert_eq!(batch.skipped_blank(), 1);
        assert!(b.is_empty());
        let next = b.finish().unwrap();
        assert!(next.is_empty());
        assert!(next.dead_letters().is_empty());
    }
}
