//! Fixed-width keys for order ids and purchase ids.
//!
//! Keys are 128-bit XXH3 hashes computed once at ingest. State tables key on
//! them instead of strings, so the job's hot loop never hashes or compares
//! strings. Two distinct ids collide with probability about n²/2¹²⁹ (for 10⁹
//! live ids, below 10⁻²⁰), which we accept in exchange for allocation-free
//! state; the strings themselves are kept only where an alert must print them.

use xxhash_rust::xxh3::{xxh3_128, xxh3_128_with_seed};

/// A 128-bit key; `lo` also drives partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Key128 {
    /// High 64 bits.
    pub hi: u64,
    /// Low 64 bits.
    pub lo: u64,
}

impl Key128 {
    /// Splits a `u128`.
    pub fn from_u128(v: u128) -> Self {
        Key128 {
            hi: (v >> 64) as u64,
            lo: v as u64,
        }
    }

    /// Joins the halves.
    pub fn as_u128(self) -> u128 {
        ((self.hi as u128) << 64) | self.lo as u128
    }
}

/// The key of an order id (a request's `id`, a purchase's `initial_order_id`).
pub fn order_key(order_id: &str) -> Key128 {
    Key128::from_u128(xxh3_128(order_id.as_bytes()))
}

/// The key of an event id within its order: purchases are deduplicated per
/// order (SPEC §2 step 5), so the order key seeds the hash.
pub fn event_key(order: Key128, id: &str) -> Key128 {
    Key128::from_u128(xxh3_128_with_seed(id.as_bytes(), order.lo ^ order.hi))
}

/// A 64-bit hash of any byte string, for jobs that partition by other fields.
pub fn hash64(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(order_key("o-1"), order_key("o-1"));
        assert_ne!(order_key("o-1"), order_key("o-2"));
        let o = order_key("o-1");
        assert_ne!(event_key(o, "p-1"), event_key(order_key("o-2"), "p-1"));
        assert_eq!(Key128::from_u128(o.as_u128()), o);
    }
}
