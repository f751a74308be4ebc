/// Whether an event is a purchase request (the order) or a purchase (a fill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// A purchase request: `id` is the order id.
    Request = 0,
    /// A purchase filling the order named by `initial_order_id`.
    Purchase = 1,
}

impl EventKind {
    /// Decodes the `kind` column value.
    pub fn from_u8(v: u8) -> Self {
        if v == 0 {
            EventKind::Request
        } else {
            EventKind::Purchase
        }
    }
}

/// One valid input event (SPEC §1), borrowed from the line it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeEventRef<'a> {
    /// `id`: the order id of a request, the purchase id of a purchase.
    pub id: &'a str,
    /// `#shares` (or `shares`).
    pub shares: u64,
    /// `client`.
    pub client: &'a str,
    /// `stock`.
    pub stock: &'a str,
    /// `initial_order_id`: present exactly for purchases.
    pub initial_order_id: Option<&'a str>,
    /// `ts`: event time, epoch milliseconds.
    pub ts: Option<u64>,
}

impl<'a> TradeEventRef<'a> {
    /// Request or purchase, from the presence of `initial_order_id`.
    pub fn kind(&self) -> EventKind {
        if self.initial_order_id.is_some() {
            EventKind::Purchase
        } else {
            EventKind::Request
        }
    }

    /// The order this event belongs to.
    pub fn order_id(&self) -> &'a str {
        self.initial_order_id.unwrap_or(self.id)
    }
}
