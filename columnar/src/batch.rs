use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray, UInt8Array, UInt64Array};

use crate::{DeadLetters, EventKind, Key128};

/// How far a batch reaches into an acknowledging source (AMQP): the last
/// message whose events are all in this batch or earlier ones. Acknowledging
/// `tag` with `multiple` on channel `generation` covers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceMark {
    /// Which connection/channel the tag belongs to (tags restart per channel).
    pub generation: u64,
    /// The delivery tag.
    pub tag: u64,
}

/// One immutable micro-batch of accepted events in input order, as Arrow
/// columns, plus the lines rejected while it was being cut.
///
/// Typed views of the columns are resolved once at construction so that jobs
/// read plain slices (`&[u64]`) in their loops.
#[derive(Debug, Clone)]
pub struct TradeBatch {
    record: RecordBatch,
    pos: UInt64Array,
    ingest_ns: UInt64Array,
    kind: UInt8Array,
    order_hi: UInt64Array,
    order_lo: UInt64Array,
    event_hi: UInt64Array,
    event_lo: UInt64Array,
    shares: UInt64Array,
    ts: UInt64Array,
    id: StringArray,
    initial_order_id: StringArray,
    client: StringArray,
    stock: StringArray,
    dead_letters: Arc<DeadLetters>,
    skipped_blank: u64,
    mark: Option<SourceMark>,
}

fn col<T: Clone + 'static>(record: &RecordBatch, i: usize) -> T {
    // The builder is the only constructor and always uses `trade_schema()`,
    // so a failed downcast is a bug, not an input condition.
    #[allow(clippy::expect_used)]
    record
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .expect("trade batch column has the schema's type")
        .clone()
}

impl TradeBatch {
    pub(crate) fn new(
        record: RecordBatch,
        dead_letters: DeadLetters,
        skipped_blank: u64,
        mark: Option<SourceMark>,
    ) -> Self {
        TradeBatch {
            pos: col(&record, 0),
            ingest_ns: col(&record, 1),
            kind: col(&record, 2),
            order_hi: col(&record, 3),
            order_lo: col(&record, 4),
            event_hi: col(&record, 5),
            event_lo: col(&record, 6),
            shares: col(&record, 7),
            ts: col(&record, 8),
            id: col(&record, 9),
            initial_order_id: col(&record, 10),
            client: col(&record, 11),
            stock: col(&record, 12),
            record,
            dead_letters: Arc::new(dead_letters),
            skipped_blank,
            mark,
        }
    }

    /// Number of accepted events.
    pub fn len(&self) -> usize {
        self.record.num_rows()
    }

    /// Whether the batch holds no accepted event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Arrow record batch (schema [`crate::schema::trade_schema`]).
    pub fn record(&self) -> &RecordBatch {
        &self.record
    }

    /// Input positions.
    pub fn pos(&self) -> &[u64] {
        self.pos.values()
    }

    /// Ingest wall-clock nanoseconds.
    pub fn ingest_ns(&self) -> &[u64] {
        self.ingest_ns.values()
    }

    /// Event kinds as `u8` (see [`EventKind`]).
    pub fn kinds(&self) -> &[u8] {
        self.kind.values()
    }

    /// The kind of one row.
    pub fn kind(&self, row: usize) -> EventKind {
        EventKind::from_u8(self.kind.values()[row])
    }

    /// Low halves of the order keys: the partitioning hash.
    pub fn order_key_lo(&self) -> &[u64] {
        self.order_lo.values()
    }

    /// The order key of a row.
    pub fn order_key(&self, row: usize) -> Key128 {
        Key128 {
            hi: self.order_hi.values()[row],
            lo: self.order_lo.values()[row],
        }
    }

    /// The event key of a row (its `id` within its order).
    pub fn event_key(&self, row: usize) -> Key128 {
        Key128 {
            hi: self.event_hi.values()[row],
            lo: self.event_lo.values()[row],
        }
    }

    /// Shares.
    pub fn shares(&self) -> &[u64] {
        self.shares.values()
    }

    /// Event time of a row, if it carried `ts`.
    pub fn ts(&self, row: usize) -> Option<u64> {
        if self.ts.is_null(row) {
            None
        } else {
            Some(self.ts.values()[row])
        }
    }

    /// Whether any row carries `ts`.
    pub fn any_ts(&self) -> bool {
        self.ts.null_count() < self.ts.len()
    }

    /// `id` of a row.
    pub fn id(&self, row: usize) -> &str {
        self.id.value(row)
    }

    /// The order id of a row: `initial_order_id` for purchases, `id` for requests.
    pub fn order_id(&self, row: usize) -> &str {
        if self.initial_order_id.is_null(row) {
            self.id.value(row)
        } else {
            self.initial_order_id.value(row)
        }
    }

    /// `client` of a row.
    pub fn client(&self, row: usize) -> &str {
        self.client.value(row)
    }

    /// `stock` of a row.
    pub fn stock(&self, row: usize) -> &str {
        self.stock.value(row)
    }

    /// Lines rejected while this batch was cut, in input order.
    pub fn dead_letters(&self) -> &DeadLetters {
        &self.dead_letters
    }

    /// The source position this batch completes, for acknowledging sources.
    pub fn source_mark(&self) -> Option<SourceMark> {
        self.mark
    }

    /// Blank lines skipped while this batch was cut.
    pub fn skipped_blank(&self) -> u64 {
        self.skipped_blank
    }
}
