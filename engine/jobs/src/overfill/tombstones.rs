//! Tombstones: recently closed orders, kept in the order they closed.
//!
//! A closed order drops its later events for the tombstone TTL (SPEC §2
//! step 3). Tombstones outnumber open books by far (one per order closed in
//! the last TTL), so they are kept the way the expiry queue keeps books: a
//! ring of `(key, closed_at)` in closing order, and an index of ring
//! positions (4 bytes a bucket; the key is compared in the ring). Reclaiming
//! pops the ring's front while it is older than the TTL, so the cost of
//! forgetting is O(1) per close and spread over the batches, instead of a
//! pass over the whole table now and then (a pause of milliseconds at a
//! million tombstones, in the middle of a batch).
//!
//! Closing clocks mostly grow along the ring but need not (a drained or
//! restored book, or an older snapshot's order), so the ring's order only
//! decides *when* memory is given back; whether a tombstone still drops an
//! event is decided on lookup by its own clock.

use std::collections::VecDeque;

use engine_core::fold_key;
use hashbrown::HashTable;

/// A ring entry: a key and its closing clock, in 24 bytes (a `(u128, u64)`
/// pads to 32 for the u128's alignment).
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: [u64; 2],
    closed_at: u64,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 24);

impl Entry {
    fn new(key: u128, closed_at: u64) -> Self {
        Entry {
            key: [key as u64, (key >> 64) as u64],
            closed_at,
        }
    }

    fn key(&self) -> u128 {
        u128::from(self.key[1]) << 64 | u128::from(self.key[0])
    }
}

#[derive(Debug, Default)]
pub(super) struct Tombstones {
    /// Entries in closing order; the front has sequence `head`.
    ring: VecDeque<Entry>,
    /// The sequence number of `ring[0]` (wrapping, like the positions).
    head: u32,
    /// Sequence numbers of the entries that are still tombstones, hashed by
    /// [`fold_key`] of their key. An entry forgotten on lookup leaves the
    /// index but stays in the ring until reclaimed, as a stale entry.
    index: HashTable<u32>,
}

impl Tombstones {
    /// When `key` closed, if it has a tombstone.
    pub(super) fn closed_at(&self, key: u128) -> Option<u64> {
        let seq = self.find(key)?;
        Some(self.entry(seq).1)
    }

    /// Forgets `key`'s tombstone (its order reopens).
    pub(super) fn forget(&mut self, key: u128) {
        let (ring, head) = (&self.ring, self.head);
        if let Ok(found) = self
            .index
            .find_entry(fold_key(key), |&s| at(ring, head, s).key() == key)
        {
            found.remove();
        }
    }

    /// Records that `key` closed at `closed_at`. The key must have no
    /// tombstone (a book only opens once its order's tombstone is gone).
    pub(super) fn insert(&mut self, key: u128, closed_at: u64) {
        debug_assert!(self.find(key).is_none(), "a key has one tombstone");
        let seq = self.head.wrapping_add(self.ring.len() as u32);
        self.ring.push_back(Entry::new(key, closed_at));
        let (ring, head) = (&self.ring, self.head);
        self.index
            .insert_unique(fold_key(key), seq, |&s| fold_key(at(ring, head, s).key()));
    }

    /// Forgets, oldest first, the tombstones older than `ttl` at `clock`;
    /// stops at the first one still in force.
    pub(super) fn reclaim(&mut self, clock: u64, ttl: u64) {
        while let Some(&front) = self.ring.front() {
            if clock.saturating_sub(front.closed_at) < ttl {
                break;
            }
            let seq = self.head;
            if let Ok(found) = self.index.find_entry(fold_key(front.key()), |&s| s == seq) {
                found.remove();
            }
            self.ring.pop_front();
            self.head = self.head.wrapping_add(1);
        }
        // Give memory back after a burst of closes has been reclaimed.
        if self.ring.capacity() > 4 * self.ring.len().max(1024) {
            self.ring.shrink_to(2 * self.ring.len());
            let (ring, head) = (&self.ring, self.head);
            self.index
                .shrink_to(0, |&s| fold_key(at(ring, head, s).key()));
        }
    }

    /// How many keys have a tombstone.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The tombstones, in closing order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u128, u64)> + '_ {
        (0..self.ring.len() as u32)
            .map(|i| self.head.wrapping_add(i))
            .filter(|&seq| self.find(self.entry(seq).0) == Some(seq))
            .map(|seq| self.entry(seq))
    }

    fn find(&self, key: u128) -> Option<u32> {
        self.index
            .find(fold_key(key), |&s| self.entry(s).0 == key)
            .copied()
    }

    fn entry(&self, seq: u32) -> (u128, u64) {
        let e = at(&self.ring, self.head, seq);
        (e.key(), e.closed_at)
    }
}

/// The entry of sequence `seq` in a ring whose front has sequence `head`
/// (a free function: the index's closures borrow the ring, not `self`).
fn at(ring: &VecDeque<Entry>, head: u32, seq: u32) -> Entry {
    ring[seq.wrapping_sub(head) as usize]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Look a key up; if its tombstone has run out, forget it (as the
        /// job does before reopening); with none, close it at the clock.
        Touch(u8),
        /// Advance the clock and reclaim.
        Advance(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u8>().prop_map(|k| Op::Touch(k % 32)),
            1 => any::<u8>().prop_map(|d| Op::Advance(d % 8)),
        ]
    }

    proptest! {
        /// Against a map from key to closing clock: every lookup agrees, and
        /// whatever is reclaimed had run out.
        #[test]
        fn agrees_with_a_map(ops in prop::collection::vec(op(), 0..400), ttl in 0u64..12, back in 0u64..3) {
            let mut t = Tombstones::default();
            let mut model: HashMap<u128, u64> = HashMap::new();
            let mut clock = 100u64;
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Touch(k) => {
                        let key = u128::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
                        let found = t.closed_at(key);
                        match model.get(&key) {
                            Some(&at) if clock.saturating_sub(at) < ttl => {
                                prop_assert_eq!(found, Some(at));
                            }
                            Some(&at) => {
                                // Run out: either still held or reclaimed.
                                prop_assert!(found.is_none() || found == Some(at));
                                t.forget(key);
                                model.remove(&key);
                                prop_assert_eq!(t.closed_at(key), None);
                            }
                            None => {
                                prop_assert_eq!(found, None);
                                // Clocks need not grow along the ring.
                                let at = clock - if n % 5 == 0 { back } else { 0 };
                                t.insert(key, at);
                                model.insert(key, at);
                            }
                        }
                    }
                    Op::Advance(d) => {
                        clock += u64::from(d);
                        t.reclaim(clock, ttl);
                        model.retain(|k, at| {
                            let held = t.closed_at(*k) == Some(*at);
                            // Reclaimed only once run out.
                            assert!(held || clock.saturating_sub(*at) >= ttl);
                            held
                        });
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                let mut listed: Vec<_> = t.iter().collect();
                let mut expected: Vec<_> = model.iter().map(|(&k, &v)| (k, v)).collect();
                listed.sort_unstable();
                expected.sort_unstable();
                prop_assert_eq!(listed, expected);
            }
        }
    }

    #[test]
    fn reclaims_in_closing_order_and_gives_memory_back() {
        // Keys spread over both halves, as order ids are.
        let key = |k: u64| u128::from(k) << 64 | u128::from(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut t = Tombstones::default();
        for k in 0..100_000u64 {
            t.insert(key(k), k);
        }
        // At clock 50_009 with a TTL of 10, closes at 0..=49_999 have run out.
        t.reclaim(50_009, 10);
        assert_eq!(t.len(), 50_000);
        assert_eq!(t.closed_at(key(49_999)), None);
        assert_eq!(t.closed_at(key(50_000)), Some(50_000));
        assert_eq!(t.iter().next(), Some((key(50_000), 50_000)));
        t.reclaim(200_000, 10);
        assert_eq!(t.len(), 0);
        assert!(t.ring.capacity() <= 4 * 1024, "{}", t.ring.capacity());
    }

    #[test]
    fn a_key_closed_again_after_being_forgotten_keeps_its_new_clock() {
        let mut t = Tombstones::default();
        t.insert(7, 10);
        t.forget(7);
        t.insert(7, 30);
        // Reclaiming the stale entry at the front must not forget the new one.
        t.reclaim(25, 10);
        assert_eq!(t.closed_at(7), Some(30));
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(7, 30)]);
    }
}
