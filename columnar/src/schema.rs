//! The Arrow schema of a trade micro-batch.

use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Schema, SchemaRef};

/// Input position: file byte offset, or a source-assigned sequence number.
pub const POS: &str = "pos";
/// Wall-clock nanoseconds since the Unix epoch at which the source read the event.
pub const INGEST_NS: &str = "ingest_ns";
/// [`crate::EventKind`] as `u8`.
pub const KIND: &str = "kind";
/// High half of the order key.
pub const ORDER_KEY_HI: &str = "order_key_hi";
/// Low half of the order key.
pub const ORDER_KEY_LO: &str = "order_key_lo";
/// High half of the event key (the `id` within its order).
pub const EVENT_KEY_HI: &str = "event_key_hi";
/// Low half of the event key.
pub const EVENT_KEY_LO: &str = "event_key_lo";
/// Shares requested or purchased.
pub const SHARES: &str = "shares";
/// Event time in epoch milliseconds (nullable).
pub const TS: &str = "ts";
/// The event's `id`.
pub const ID: &str = "id";
/// `initial_order_id` (null for requests).
pub const INITIAL_ORDER_ID: &str = "initial_order_id";
/// `client`.
pub const CLIENT: &str = "client";
/// `stock`.
pub const STOCK: &str = "stock";

/// The schema shared by every [`crate::TradeBatch`].
pub fn trade_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new(POS, DataType::UInt64, false),
            Field::new(INGEST_NS, DataType::UInt64, false),
            Field::new(KIND, DataType::UInt8, false),
            Field::new(ORDER_KEY_HI, DataType::UInt64, false),
            Field::new(ORDER_KEY_LO, DataType::UInt64, false),
            Field::new(EVENT_KEY_HI, DataType::UInt64, false),
            Field::new(EVENT_KEY_LO, DataType::UInt64, false),
            Field::new(SHARES, DataType::UInt64, false),
            Field::new(TS, DataType::UInt64, true),
            Field::new(ID, DataType::Utf8, false),
            Field::new(INITIAL_ORDER_ID, DataType::Utf8, true),
            Field::new(CLIENT, DataType::Utf8, false),
            Field::new(STOCK, DataType::Utf8, false),
        ]))
    }))
}
