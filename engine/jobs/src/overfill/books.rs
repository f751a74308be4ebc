//! The columnar book table: one row per open order, struct of arrays.
//!
//! Rows are addressed by a dense slot index (the job's group index) found
//! through one hash lookup per event; the hot loop then reads and writes
//! plain `Vec`s. Freed slots are reused, and each reuse bumps the slot's
//! generation so stale expiry entries can be recognised.

use std::collections::hash_map::Entry;

use engine_core::{KeyMap, SnapshotError, SnapshotReader, SnapshotWriter};

use super::arena::{Arena, StrRef};

/// `requested` of a book whose purchase request has not been seen.
pub(super) const NO_REQUEST: u64 = u64::MAX;

/// The strings an alert prints: order id, client, stock, and — while the book
/// has seen no request, so that it may end as an orphan — the id of the first
/// purchase it counted (the orphan's `alert_id` names it; SPEC §3).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BookStrings {
    pub(super) order_id: StrRef,
    pub(super) client: StrRef,
    pub(super) stock: StrRef,
    pub(super) first_purchase: StrRef,
}

#[derive(Debug, Default)]
pub(super) struct Books {
    index: KeyMap<u32>,
    pub(super) key: Vec<u128>,
    pub(super) requested: Vec<u64>,
    pub(super) filled: Vec<u64>,
    pub(super) opened_at: Vec<u64>,
    pub(super) open_pos: Vec<u64>,
    pub(super) generation: Vec<u32>,
    live: Vec<bool>,
    pub(super) strings: Vec<BookStrings>,
    /// The first [`INLINE`] purchase keys counted by each book, in its row:
    /// the duplicate check of a typical order reads one cache line, and
    /// closing a book forgets its purchases for free.
    inline: Vec<[u128; INLINE]>,
    counted: Vec<u32>,
    free_slots: Vec<u32>,
    pub(super) arena: Arena,
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
        self.index.get(&key).copied()
    }

    /// Like [`Books::find`], with the generation, and hints the CPU to fetch
    /// the book's row for the rules that follow.
    pub(super) fn find_prefetch(&self, key: u128) -> Option<(u32, u32)> {
        let slot = *self.index.get(&key)?;
        let i = slot as usize;
        prefetch(self.inline.as_ptr().wrapping_add(i));
        prefetch(self.filled.as_ptr().wrapping_add(i));
        Some((slot, self.generation[i]))
    }

    /// Opens a book; returns its slot and generation.
    pub(super) fn open(
        &mut self,
        key: u128,
        clock: u64,
        pos: u64,
        strings: [&str; 3],
    ) -> (u32, u32) {
        let strs = BookStrings {
            order_id: self.arena.push(strings[0]),
            client: self.arena.push(strings[1]),
            stock: self.arena.push(strings[2]),
            first_purchase: StrRef::default(),
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                let i = s as usize;
                self.key[i] = key;
                self.requested[i] = NO_REQUEST;
                self.filled[i] = 0;
                self.opened_at[i] = clock;
                self.open_pos[i] = pos;
                self.generation[i] = self.generation[i].wrapping_add(1);
                self.live[i] = true;
                self.strings[i] = strs;
                self.counted[i] = 0;
                s
            }
            None => {
                self.key.push(key);
                self.requested.push(NO_REQUEST);
                self.filled.push(0);
                self.opened_at.push(clock);
                self.open_pos.push(pos);
                self.generation.push(0);
                self.live.push(true);
                self.strings.push(strs);
                self.inline.push([0; INLINE]);
                self.counted.push(0);
                (self.key.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.open += 1;
        (slot, self.generation[slot as usize])
    }

    /// Whether `slot` still holds the book of generation `generation`.
    pub(super) fn is_live(&self, slot: u32, generation: u32) -> bool {
        let i = slot as usize;
        self.live[i] && self.generation[i] == generation
    }

    /// Replaces the client and stock (a late request names the order's owner).
    pub(super) fn set_owner(&mut self, slot: u32, client: &str, stock: &str) {
        let s = &mut self.strings[slot as usize];
        self.arena.free(s.client);
        self.arena.free(s.stock);
        s.client = self.arena.push(client);
        s.stock = self.arena.push(stock);
    }

    /// Keeps `id` as the first purchase a book without a request counted
    /// (kept only while the book may still end as an orphan).
    pub(super) fn set_first_purchase(&mut self, slot: u32, id: &str) {
        let i = slot as usize;
        if self.counted[i] == 1 && self.requested[i] == NO_REQUEST {
            self.strings[i].first_purchase = self.arena.push(id);
        }
    }

    /// The request arrived: the book cannot be an orphan any more.
    pub(super) fn forget_first_purchase(&mut self, slot: u32) {
        let s = &mut self.strings[slot as usize];
        self.arena.free(s.first_purchase);
        s.first_purchase = StrRef::default();
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
        self.index.remove(&self.key[i]);
        self.live[i] = false;
        let s = self.strings[i];
        self.arena.free(s.order_id);
        self.arena.free(s.client);
        self.arena.free(s.stock);
        self.arena.free(s.first_purchase);
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

    /// Writes one live book.
    pub(super) fn snapshot_book(
        &self,
        slot: u32,
        overflow: &KeyMap<Vec<u128>>,
        w: &mut SnapshotWriter<'_>,
    ) {
        let i = slot as usize;
        let s = self.strings[i];
        w.u128(self.key[i]);
        w.u64(self.requested[i]);
        w.u64(self.filled[i]);
        w.u64(self.opened_at[i]);
        w.u64(self.open_pos[i]);
        w.str(self.str(s.order_id));
        w.str(self.str(s.client));
        w.str(self.str(s.stock));
        w.str(self.str(s.first_purchase));
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
        let (requested, filled, opened_at, open_pos) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let strings = [r.str()?, r.str()?, r.str()?];
        let first_purchase = r.str()?;
        let (slot, generation) = self.open(key, opened_at, open_pos, strings);
        let i = slot as usize;
        self.requested[i] = requested;
        self.filled[i] = filled;
        if !first_purchase.is_empty() {
            self.strings[i].first_purchase = self.arena.push(first_purchase);
        }
        for _ in 0..r.count(16)? {
            let pkey = r.u128()?;
            self.add_purchase(slot, pkey);
        }
        Ok((slot, generation))
    }

    pub(super) fn open_count(&self) -> usize {
        self.open
    }

    pub(super) fn str(&self, r: StrRef) -> &str {
        self.arena.get(r)
    }

    /// Compacts the string arena and sweeps the purchase overflow table
    /// when garbage dominates; linear passes, amortised over many events.
    pub(super) fn maintain(&mut self) {
        if self.overflow.len() >= (2 * self.overflow_swept_len).max(OVERFLOW_SWEEP_MIN) {
            let (live, generation) = (&self.live, &self.generation);
            self.overflow.retain(|_, tag| {
                let (slot, g) = ((*tag >> 32) as usize, *tag as u32);
                live[slot] && generation[slot] == g
            });
            self.overflow_swept_len = self.overflow.len();
        }
        if self.arena.should_compact() {
            let live = &self.live;
            let refs = self
                .strings
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| live[*i])
                .flat_map(|(_, s)| {
                    [
                        &mut s.order_id,
                        &mut s.client,
                        &mut s.stock,
                        &mut s.first_purchase,
                    ]
                });
            self.arena.compact(refs);
        }
    }
}

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
