//! The columnar book table: one row per open order, struct of arrays.
//!
//! Rows are addressed by a dense slot index (the job's group index) found
//! through one hash lookup per event; the hot loop then reads and writes
//! plain `Vec`s. Freed slots are reused; closing a book bumps its slot's
//! generation, so a handle (slot, generation) of a closed book, such as a
//! stale expiry entry, no longer matches, and no separate live flag is kept.
//!
//! What a book costs is kept small because a book is the job's whole state
//! per open order: the index holds only slot numbers (4 bytes a bucket; the
//! key is compared in the key column), the opening clock is not kept (the
//! expiry queue holds the deadline), clients and stocks are ids into one
//! table of names, the order id is a 4-byte offset into an arena of
//! length-prefixed strings, the count of purchases is a byte (it is only
//! compared with the few the row holds), and the first purchase's id, which
//! only an orphan needs, lives in a side table while the book has no request.

use std::collections::{HashMap, hash_map::Entry};

use engine_core::{KeyMap, SnapshotError, SnapshotReader, SnapshotWriter, fold_key};
use hashbrown::HashTable;

use super::{
    arena::{Arena, StrRef},
    names::{NameId, Names},
};

/// `requested` of a book whose purchase request has not been seen.
pub(super) const NO_REQUEST: u64 = u64::MAX;

/// The strings an alert prints: order id, client, stock.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BookStrings {
    pub(super) order_id: StrRef,
    pub(super) client: NameId,
    pub(super) stock: NameId,
}

#[derive(Debug, Default)]
pub(super) struct Books {
    /// Slots by key: hashed by [`fold_key`] of `key[slot]`, compared there.
    index: HashTable<u32>,
    pub(super) key: Vec<u128>,
    pub(super) requested: Vec<u64>,
    pub(super) filled: Vec<u64>,
    pub(super) open_pos: Vec<u64>,
    /// Bumped when the slot's book closes.
    pub(super) generation: Vec<u32>,
    pub(super) strings: Vec<BookStrings>,
    /// The id of the first purchase counted by a book that has seen no
    /// request, by slot: such a book may end as an orphan, whose `alert_id`
    /// names it (SPEC §3). Present exactly while `requested` is
    /// [`NO_REQUEST`] and `counted` is not 0.
    first_purchase: HashMap<u32, StrRef>,
    /// The first [`INLINE`] purchase keys counted by each book, in its row:
    /// the duplicate check of a typical order reads one cache line, and
    /// closing a book forgets its purchases for free.
    inline: Vec<[u128; INLINE]>,
    /// Purchases counted, saturating: only compared with 0, 1 and [`INLINE`].
    counted: Vec<u8>,
    free_slots: Vec<u32>,
    /// Order ids and first purchases' ids.
    pub(super) arena: Arena,
    /// Clients and stocks.
    names: Names,
    /// Purchase keys past the inline ones, tagged with their book's
    /// slot and generation; entries of closed books are swept lazily.
    overflow: KeyMap<u64>,
    overflow_swept_len: usize,
    open: usize,
}

/// Purchase keys kept in a book's own row.
const INLINE: usize = 4;
/// Sweep the overflow table once it has grown this much past its last sweep.
const OVERFLOW_SWEEP_MIN: usize = 4096;

impl Books {
    pub(super) fn find(&self, key: u128) -> Option<u32> {
        let keys = &self.key;
        self.index
            .find(fold_key(key), |&s| keys[s as usize] == key)
            .copied()
    }

    /// Like [`Books::find`], with the generation, and hints the CPU to fetch
    /// the book's row for the rules that follow.
    pub(super) fn find_prefetch(&self, key: u128) -> Option<(u32, u32)> {
        let slot = self.find(key)?;
        let i = slot as usize;
        prefetch(self.inline.as_ptr().wrapping_add(i));
        prefetch(self.filled.as_ptr().wrapping_add(i));
        Some((slot, self.generation[i]))
    }

    /// Opens a book; returns its slot and generation.
    pub(super) fn open(&mut self, key: u128, pos: u64, strings: [&str; 3]) -> (u32, u32) {
        let strs = BookStrings {
            order_id: self.arena.push(strings[0]),
            client: self.names.intern(strings[1]),
            stock: self.names.intern(strings[2]),
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                let i = s as usize;
                self.key[i] = key;
                self.requested[i] = NO_REQUEST;
                self.filled[i] = 0;
                self.open_pos[i] = pos;
                self.strings[i] = strs;
                self.counted[i] = 0;
                s
            }
            None => {
                self.key.push(key);
                self.requested.push(NO_REQUEST);
                self.filled.push(0);
                self.open_pos.push(pos);
                self.generation.push(0);
                self.strings.push(strs);
                self.inline.push([0; INLINE]);
                self.counted.push(0);
                (self.key.len() - 1) as u32
            }
        };
        let keys = &self.key;
        self.index
            .insert_unique(fold_key(key), slot, |&s| fold_key(keys[s as usize]));
        self.open += 1;
        (slot, self.generation[slot as usize])
    }

    /// Whether `slot` still holds the book of generation `generation`.
    pub(super) fn is_live(&self, slot: u32, generation: u32) -> bool {
        self.generation[slot as usize] == generation
    }

    /// Replaces the client and stock (a late request names the order's owner).
    pub(super) fn set_owner(&mut self, slot: u32, client: &str, stock: &str) {
        let (client, stock) = (self.names.intern(client), self.names.intern(stock));
        let s = &mut self.strings[slot as usize];
        let old = (s.client, s.stock);
        (s.client, s.stock) = (client, stock);
        self.names.release(old.0);
        self.names.release(old.1);
    }

    /// Keeps `id` as the first purchase a book without a request counted
    /// (kept only while the book may still end as an orphan).
    pub(super) fn set_first_purchase(&mut self, slot: u32, id: &str) {
        let i = slot as usize;
        if self.counted[i] == 1 && self.requested[i] == NO_REQUEST {
            let r = self.arena.push(id);
            self.first_purchase.insert(slot, r);
        }
    }

    /// The first purchase's id of a book without a request ("" otherwise).
    pub(super) fn first_purchase(&self, slot: u32) -> &str {
        self.first_purchase
            .get(&slot)
            .map_or("", |&r| self.arena.get(r))
    }

    /// The request arrived: the book cannot be an orphan any more.
    pub(super) fn forget_first_purchase(&mut self, slot: u32) {
        // Only a book that counted a purchase before its request has one:
        // the common order (request first) skips the table.
        if self.counted[slot as usize] > 0
            && let Some(r) = self.first_purchase.remove(&slot)
        {
            self.arena.free(r);
        }
    }

    /// Counts purchase `pkey` in `slot`; false if it was counted before.
    pub(super) fn add_purchase(&mut self, slot: u32, pkey: u128) -> bool {
        let i = slot as usize;
        let n = self.counted[i] as usize;
        if self.inline[i][..n.min(INLINE)].contains(&pkey) {
            return false;
        }
        if n < INLINE {
            self.inline[i][n] = pkey;
        } else {
            let tag = ((slot as u64) << 32) | self.generation[i] as u64;
            match self.overflow.entry(pkey) {
                Entry::Occupied(e) if *e.get() == tag => return false,
                Entry::Occupied(mut e) => {
                    e.insert(tag);
                }
                Entry::Vacant(e) => {
                    e.insert(tag);
                }
            }
        }
        self.counted[i] = self.counted[i].saturating_add(1);
        true
    }

    /// Frees the book in `slot` (after its alert, if any, was built).
    pub(super) fn close(&mut self, slot: u32) {
        let i = slot as usize;
        if let Ok(e) = self.index.find_entry(fold_key(self.key[i]), |&s| s == slot) {
            e.remove();
        }
        self.generation[i] = self.generation[i].wrapping_add(1);
        let s = self.strings[i];
        self.arena.free(s.order_id);
        // A free slot keeps no string, so compaction can walk every slot.
        self.strings[i].order_id = StrRef::default();
        self.names.release(s.client);
        self.names.release(s.stock);
        if self.requested[i] == NO_REQUEST && self.counted[i] > 0 {
            self.forget_first_purchase(slot);
        }
        self.free_slots.push(slot);
        self.open -= 1;
    }

    /// The overflow purchase keys of live books, by slot (for a snapshot).
    pub(super) fn overflow_by_slot(&self) -> KeyMap<Vec<u128>> {
        let mut by: KeyMap<Vec<u128>> = KeyMap::default();
        for (&pkey, &tag) in &self.overflow {
            let (slot, g) = ((tag >> 32) as u32, tag as u32);
            if self.is_live(slot, g) {
                by.entry(slot as u128).or_default().push(pkey);
            }
        }
        by
    }

    /// Writes one live book. `opened_at` is the opening clock the format
    /// carries (restoring does not need it: the deadline travels beside it).
    pub(super) fn snapshot_book(
        &self,
        slot: u32,
        opened_at: u64,
        overflow: &KeyMap<Vec<u128>>,
        w: &mut SnapshotWriter<'_>,
    ) {
        let i = slot as usize;
        let s = self.strings[i];
        w.u128(self.key[i]);
        w.u64(self.requested[i]);
        w.u64(self.filled[i]);
        w.u64(opened_at);
        w.u64(self.open_pos[i]);
        w.str(self.str(s.order_id));
        w.str(self.name(s.client));
        w.str(self.name(s.stock));
        w.str(self.first_purchase(slot));
        let n = (self.counted[i] as usize).min(INLINE);
        let extra = overflow.get(&(slot as u128)).map_or(&[][..], Vec::as_slice);
        w.u64((n + extra.len()) as u64);
        for &k in self.inline[i][..n].iter().chain(extra) {
            w.u128(k);
        }
    }

    /// Reads one book written by [`Books::snapshot_book`] and opens it;
    /// returns its new slot and generation.
    pub(super) fn restore_book(
        &mut self,
        r: &mut SnapshotReader<'_>,
    ) -> Result<(u32, u32), SnapshotError> {
        let key = r.u128()?;
        let (requested, filled, _opened_at, open_pos) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let strings = [r.str()?, r.str()?, r.str()?];
        let first_purchase = r.str()?;
        let (slot, generation) = self.open(key, open_pos, strings);
        for _ in 0..r.count(16)? {
            let pkey = r.u128()?;
            self.add_purchase(slot, pkey);
        }
        let i = slot as usize;
        self.requested[i] = requested;
        self.filled[i] = filled;
        if requested == NO_REQUEST && self.counted[i] > 0 {
            let r = self.arena.push(first_purchase);
            self.first_purchase.insert(slot, r);
        }
        Ok((slot, generation))
    }

    pub(super) fn open_count(&self) -> usize {
        self.open
    }

    pub(super) fn str(&self, r: StrRef) -> &str {
        self.arena.get(r)
    }

    /// A client's or a stock's name.
    pub(super) fn name(&self, id: NameId) -> &str {
        self.names.get(id)
    }

    /// Compacts the string arena and sweeps the purchase overflow table
    /// when garbage dominates; linear passes, amortised over many events.
    pub(super) fn maintain(&mut self) {
        self.names.maintain();
        if self.overflow.len() >= (2 * self.overflow_swept_len).max(OVERFLOW_SWEEP_MIN) {
            let generation = &self.generation;
            self.overflow.retain(|_, tag| {
                let (slot, g) = ((*tag >> 32) as usize, *tag as u32);
                generation[slot] == g
            });
            self.overflow_swept_len = self.overflow.len();
        }
        if self.arena.should_compact() {
            let refs = self
                .strings
                .iter_mut()
                .map(|s| &mut s.order_id)
                .chain(self.first_purchase.values_mut());
            self.arena.compact(refs);
        }
    }
}

#[cfg(test)]
impl Books {
    /// Bytes the table holds from the allocator, and the part of them that
    /// holds purchase keys (the inline arrays and the overflow table).
    pub(super) fn heap_bytes(&self) -> (usize, usize) {
        fn vec<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        // std's HashMap is hashbrown: a bucket per slot and a control byte.
        fn map<K, V, S>(m: &HashMap<K, V, S>) -> usize {
            let buckets = (m.capacity() * 8 / 7).next_power_of_two();
            if m.capacity() == 0 { 0 } else { buckets * (size_of::<(K, V)>() + 1) }
        }
        let purchases = vec(&self.inline) + map(&self.overflow);
        let rest = self.index.allocation_size()
            + vec(&self.key)
            + vec(&self.requested)
            + vec(&self.filled)
            + vec(&self.open_pos)
            + vec(&self.generation)
            + vec(&self.strings)
            + map(&self.first_purchase)
            + vec(&self.counted)
            + vec(&self.free_slots)
            + self.arena.heap_bytes()
            + self.names.heap_bytes();
        (rest + purchases, purchases)
    }
}

#[cfg(test)]
#[path = "books_tests.rs"]
mod tests;

/// Asks the CPU to start loading the cache line at `p`; never faults.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint with no architectural effect; an invalid
    // address is ignored, and `p` is in bounds of a live Vec anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
