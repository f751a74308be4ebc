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
    /// Digests of the acknowledging source's messages this batch completes.
    messages: Vec<u64>,
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
            messages: Vec::new(),
        }
    }

    /// The same batch, completing the messages with `digests`.
    pub fn with_messages(mut self, digests: Vec<u64>) -> Self {
        self.messages = digests;
        self
    }

    /// Digests of the acknowledging source's messages that end in this
    /// batch, in order (empty for a file).
    pub fn messages(&self) -> &[u64] {
        &self.messages
    }

    /// A batch from columns read back (an input log, a replication peer):
    /// the record must have exactly the trade schema, else
    /// [`crate::ColumnarError::Schema`] says which column differs.
    pub fn from_parts(
        record: RecordBatch,
        dead_letters: DeadLetters,
        skipped_blank: u64,
        mark: Option<SourceMark>,
    ) -> crate::Result<Self> {
        let want = crate::schema::trade_schema();
        let got = record.schema();
        if got.fields().len() != want.fields().len() {
            return Err(crate::ColumnarError::Schema(format!(
                "{} columns, expected {}",
                got.fields().len(),
                want.fields().len()
            )));
        }
        for (g, w) in got.fields().iter().zip(want.fields()) {
            if g.name() != w.name()
                || g.data_type() != w.data_type()
                || (g.is_nullable() && !w.is_nullable())
            {
                return Err(crate::ColumnarError::Schema(format!(
                    "column {} is {:?}{}, expected {} {:?}",
                    g.name(),
                    g.data_type(),
                    if g.is_nullable() { " (nullable)" } else { "" },
                    w.name(),
                    w.data_type()
                )));
            }
        }
        // Nullable where the schema says not null: refuse actual nulls.
        for (i, w) in want.fields().iter().enumerate() {
            if !w.is_nullable() && record.column(i).null_count() > 0 {
                return Err(crate::ColumnarError::Schema(format!(
                    "column {} holds nulls",
                    w.name()
                )));
            }
        }
        let record = RecordBatch::try_new(want, record.columns().to_vec())?;
        Ok(TradeBatch::new(record, dead_letters, skipped_blank, mark))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};

    use crate::{DeadLetters, TradeBatch, TradeBatchBuilder, TradeEventRef};

    #[test]
    fn a_batch_survives_its_parts_and_other_columns_are_refused() {
        let mut b = TradeBatchBuilder::new(2);
        let ev = TradeEventRef {
            id: "o1",
            shares: 5,
            client: "c",
            stock: "s",
            initial_order_id: None,
            ts: Some(1),
        };
        b.append(3, 9, &ev);
        let batch = b.finish().expect("batch");
        let back = TradeBatch::from_parts(batch.record().clone(), DeadLetters::default(), 0, None)
            .expect("same schema");
        assert_eq!(back.pos(), &[3]);
        assert_eq!(back.order_id(0), "o1");
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "pos",
                DataType::UInt64,
                false,
            )])),
            vec![Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef],
        )
        .expect("record");
        let err =
            TradeBatch::from_parts(other, DeadLetters::default(), 0, None).expect_err("one column");
        assert!(err.to_string().contains("1 columns"), "{err}");
    }
}
